#!/usr/bin/env bash
# Chaos runs (issue 20; not in CI): tests/chaos/chaos.py, the nightly scenario on a 3-host cluster
# with one seeded fault a run, many runs, then its table of fault kind x runs x survived and a
# replay command for each failed run. docs/reliability.md, "Chaos harness".
#
# Usage: bench/chaos.sh [--runs N] [--seed S] [--faults LIST] [--build DIR] [--work DIR] [--small]
#   --runs     runs after the fault-free reference run (default 100; --small: 2)
#   --seed     the first run's seed (default: the date, YYYYMMDD); run r uses seed S+r
#   --faults   safe (default: the kinds that leave the coordinator and the namenode up), all, or
#              a comma-separated list of kinds (tests/chaos/faults.py)
#   --work     where the clusters live (default build/bench-chaos; a failed run's cluster is kept)
# Each run takes 5-10 s on 2 cores: 100 runs, about 15 minutes. Exits 1 if any run failed.
set -euo pipefail
source "$(dirname "$0")/common.sh"

seed=$(date +%Y%m%d)
faults=safe
bench_accepts="--small --build --work --runs"
while [[ $# -gt 0 ]]; do
  case $1 in
    --seed) seed=$2; shift 2 ;;
    --faults) faults=$2; shift 2 ;;
    *) bench_arg "$@"; shift "$nargs" ;;
  esac
done
if [[ $small -eq 1 ]]; then runs=${runs:-2}; else runs=${runs:-100}; fi
positive "--runs and --seed want positive numbers" "$runs" "$seed"
absolute_build "run ./scripts/build release"
need_exec "run ./scripts/build release" "$build/sawmill" "$build/jobs/page_stats" "$build/jobs/country_stats"
fresh_work bench-chaos
echo "bench/chaos: $runs run(s) from seed $seed, faults $faults, $(nproc) cores, commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
python3 "$root/tests/chaos/chaos.py" "$build" --runs "$runs" --seed "$seed" --faults "$faults" --work "$work"

#!/usr/bin/env bash
# Search-index benchmark: jobs/inverted_index over the Zipf text of bench/local.sh, then a suite of
# AND/OR queries (bench/index_queries.py), each timed against the exhaustive scoring of every
# posting (`sawmill index query --exhaustive`), which is also the oracle: both must return the
# same documents and scores.
#
# Usage: bench/index.sh [--small] [--data DIR] [--build DIR] [--runs N] [--index DIR]
#   --small   CI smoke size: 32 MiB of text, 1 run per query; seconds. Its figures mean nothing.
#             Default: 1 GiB (15.2M documents, 75k-word vocabulary), 5 runs per query.
#   --data    where the text lives (default BUILD/bench-data, --small: BUILD/bench-smoke-data;
#             shared with bench/local.sh and reused when its stamp matches). The index is built
#             in DATA/run.XXXXXX, removed at exit.
#   --build   build directory with sawmill and jobs/ (default build; run ./scripts/build release).
#   --runs    runs per query (default 5, or 1 with --small).
#   --index   query this existing index instead of building one (the build is not timed).
# Build: inverted_index --input TEXT --output IDX --reducers 4 --threads 2 (wall clock, the job's
# summary seconds and peak RSS). Queries: whole-process wall time of `sawmill index query IDX
# --k 10`, median of the runs; target: every query <= 50 ms. A missed target is reported, not an
# error; exit 1 on a failed build or query, or a query differing from --exhaustive.
set -euo pipefail
source "$(dirname "$0")/common.sh"

index=""
bench_accepts="--small --smoke --data --build --runs"
while [[ $# -gt 0 ]]; do
  case $1 in
    --index) index=$2; shift 2 ;;
    *) bench_arg "$@"; shift "$nargs" ;;
  esac
done
if [[ $small -eq 1 ]]; then
  text_bytes=$((32 << 20)); runs=${runs:-1}
else
  text_bytes=$((1 << 30)); runs=${runs:-5}
fi
positive "--runs wants a positive number" "$runs"
absolute_build "run ./scripts/build release"
default_data bench-smoke-data bench-data
sawmill=$build/sawmill
need_exec "run ./scripts/build release" "$sawmill" "$build/jobs/inverted_index"
command -v python3 >/dev/null || { echo "$me: needs python3" >&2; exit 1; }
run_dir

text_data "$text_bytes" "$((text_bytes >> 20)) MiB"

echo "bench/index: $(nproc) cores, $(cpu_model), $(file_size "$text") bytes of text"
if [[ -z $index ]]; then
  index=$out/idx
  cat "$text" >/dev/null
  t0=$(now_ns)
  "$build/jobs/inverted_index" --input "$text" --output "$index" --reducers 4 --threads 2 --progress never \
    >"$out/build.log" 2>"$out/build.err" || { tail -n 20 "$out/build.err" >&2; echo "$me: index build failed" >&2; exit 1; }
  wall=$(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  rss=$(summary_field "$out/build.log" peak_rss_mb)
  size=$(du -sb "$index" | cut -f1)
  echo "build: $wall s, $(awk -v t="$(file_size "$text")" -v s="$wall" 'BEGIN { printf "%.1f", t / s / 1e6 }') MB/s," \
       "peak RSS $rss MB, index $((size >> 20)) MiB"
fi
python3 "$root/bench/index_queries.py" --sawmill "$sawmill" --index "$index" --text "$text" --runs "$runs"

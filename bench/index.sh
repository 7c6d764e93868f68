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
export LC_ALL=C
root=$(cd "$(dirname "$0")/.." && pwd)
me=bench/index.sh

small=0
data=""
build=$root/build
runs=""
index=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --small|--smoke) small=1; shift ;;
    --data) data=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --index) index=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "$me: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [[ $small -eq 1 ]]; then
  text_bytes=$((32 << 20)); runs=${runs:-1}
else
  text_bytes=$((1 << 30)); runs=${runs:-5}
fi
vocabulary=75000
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "$me: --runs wants a positive number" >&2; exit 2; }
build=$(cd "$build" 2>/dev/null && pwd) || { echo "$me: no build directory $build (run ./scripts/build release)" >&2; exit 1; }
[[ -n $data ]] || { [[ $small -eq 1 ]] && data=$build/bench-smoke-data || data=$build/bench-data; }
sawmill=$build/sawmill
for b in "$sawmill" "$build/jobs/inverted_index"; do
  [[ -x $b ]] || { echo "$me: missing $b (run ./scripts/build release)" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "$me: needs python3" >&2; exit 1; }

mkdir -p "$data"
data=$(cd "$data" && pwd)
out=$(mktemp -d "$data/run.XXXXXX")
trap 'rm -rf "$out"' EXIT
file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

text=$data/text.txt
text_stamp="gen text --bytes $text_bytes --vocabulary $vocabulary --seed 1"
if [[ $(cat "$data/text.stamp" 2>/dev/null) != "$text_stamp" || $(file_size "$text") -lt $text_bytes ]]; then
  echo "generating $((text_bytes >> 20)) MiB of text in $text ..." >&2
  rm -f "$data/text.stamp"
  "$sawmill" gen text --bytes "$text_bytes" --vocabulary "$vocabulary" --seed 1 --output "$text"
  echo "$text_stamp" >"$data/text.stamp"
fi

echo "bench/index: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(file_size "$text") bytes of text"
if [[ -z $index ]]; then
  index=$out/idx
  cat "$text" >/dev/null
  t0=$(date +%s%N)
  "$build/jobs/inverted_index" --input "$text" --output "$index" --reducers 4 --threads 2 --progress never \
    >"$out/build.log" 2>"$out/build.err" || { tail -n 20 "$out/build.err" >&2; echo "$me: index build failed" >&2; exit 1; }
  wall=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  rss=$(sed -n 's/^summary .* peak_rss_mb=\([0-9]*\).*/\1/p' "$out/build.log")
  size=$(du -sb "$index" | cut -f1)
  echo "build: $wall s, $(awk -v t="$(file_size "$text")" -v s="$wall" 'BEGIN { printf "%.1f", t / s / 1e6 }') MB/s," \
       "peak RSS $rss MB, index $((size >> 20)) MiB"
fi
python3 "$root/bench/index_queries.py" --sawmill "$sawmill" --index "$index" --text "$text" --runs "$runs"

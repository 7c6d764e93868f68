#!/usr/bin/env bash
# Local-mode benchmark: Sawmill's wordcount and terasort against the GNU coreutils pipelines
# doing the same work, on the same machine and data.
#
# Usage: bench/local.sh [--small] [--data DIR] [--build DIR] [--runs N]
#   --small   CI smoke size: 32 MiB of text, 200k TeraSort records, 1 run per command.
#             Default: 1 GiB of Zipf text (75k-word vocabulary), 10M records (1 GB), 3 runs.
#   --data    where the generated data lives (default build/bench-data); reused when it is
#             already there with the same parameters.
#   --build   build directory with jobs/ and sawmill (default build; run ./scripts/build release).
#   --runs    runs per timed command (default 3, or 1 with --small).
# Times (wall clock, whole process): wordcount --threads 2 vs
#   tr -s ' \t\r\n' '\n' | grep -v '^$' | sort --parallel=2 -S 256M | uniq -c
# and terasort --threads 2 --memory_mb 256 --reducers 2 vs sort --parallel=2 -S 256M > file,
# everything with LC_ALL=C. Prints min and median seconds, MB/s (1 MB = 10^6 bytes), M words/s,
# Sawmill/GNU throughput ratios and the targets (WordCount >= 34 M words/s, TeraSort >= 250 MB/s,
# judged on the median run).
set -euo pipefail
source "$(dirname "$0")/common.sh"

bench_accepts="--small --data --build --runs"
while [[ $# -gt 0 ]]; do
  bench_arg "$@"
  shift "$nargs"
done
[[ -n $data ]] || data=$build/bench-data
if [[ $small -eq 1 ]]; then
  text_bytes=$((32 << 20)); tera_records=200000; runs=${runs:-1}
else
  text_bytes=$((1 << 30)); tera_records=10000000; runs=${runs:-3}
fi
positive "--runs wants a positive number" "$runs"
sawmill=$build/sawmill
jobs=$build/jobs
need_exec "run ./scripts/build release" "$sawmill" "$jobs/wordcount" "$jobs/terasort" "$jobs/teragen"
run_dir

# --- data (reused when the stamp and sizes match) ---
text_data "$text_bytes" "$((text_bytes >> 20)) MiB"
tera=$data/tera
tera_stamp="teragen --records $tera_records --parts 2 --seed 0"
tera_bytes=$((tera_records * 100))
if [[ $(cat "$data/tera.stamp" 2>/dev/null) != "$tera_stamp" || $(du -b -c "$tera"/part-* 2>/dev/null | tail -n 1 | cut -f 1) != "$tera_bytes" ]]; then
  echo "generating $tera_records TeraSort records in $tera ..." >&2
  rm -f "$data/tera.stamp"
  "$jobs/teragen" --records "$tera_records" --parts 2 --seed 0 --output "$tera" --overwrite >/dev/null
  echo "$tera_stamp" >"$data/tera.stamp"
fi

# --- timing ---
# timed NAME CMD...: runs CMD $runs times (run_timed); exits 1 if a run fails.
timed() {
  local name=$1 i
  shift
  for ((i = 1; i <= runs; i++)); do
    run_timed "$name" "$@" || { echo "$me: $name failed" >&2; exit 1; }
    echo "  $name run $i/$runs: $(tail -n 1 "$out/$name.times") s" >&2
  done
}
median_of() { stat_median "$out/$1.times"; }

sawmill_wordcount() {
  "$jobs/wordcount" --input "$text" --output "$out/wc" --overwrite --threads 2 --progress=never
}
gnu_wordcount() {
  tr -s ' \t\r\n' '\n' <"$text" | grep -v '^$' | sort --parallel=2 -S 256M -T "$out" | uniq -c >"$out/gnu-wc.txt"
}
sawmill_terasort() {
  "$jobs/terasort" --input "$tera" --output "$out/ts" --overwrite --threads 2 --memory_mb 256 --reducers 2 \
    --progress=never
}
gnu_terasort() {
  sort --parallel=2 -S 256M -T "$out" "$tera"/part-* >"$out/gnu-sorted.txt"
}

echo "bench: $(nproc) cores, $(cpu_model), $runs run(s) each" >&2
timed sawmill_wordcount sawmill_wordcount
timed gnu_wordcount gnu_wordcount
timed sawmill_terasort sawmill_terasort
timed gnu_terasort gnu_terasort

# --- sanity: both sides computed the same thing ---
words=$("$sawmill" cat --format values "$out/wc" | awk '{ s += $1 } END { print s + 0 }')
distinct=$("$sawmill" cat --format values "$out/wc" | wc -l)
gnu_words=$(awk '{ s += $1 } END { print s + 0 }' "$out/gnu-wc.txt")
gnu_distinct=$(wc -l <"$out/gnu-wc.txt")
if [[ $words != "$gnu_words" || $distinct != "$gnu_distinct" ]]; then
  echo "$me: wordcount disagrees with GNU: $words words/$distinct distinct vs $gnu_words/$gnu_distinct" >&2
  exit 1
fi
if ! "$sawmill" cat --format raw "$out/ts" | cmp -s - "$out/gnu-sorted.txt"; then
  echo "$me: terasort output differs from GNU sort's" >&2
  exit 1
fi

# --- report ---
row() {  # row LABEL NAME BYTES WORDS
  local min med
  min=$(stat_min "$out/$2.times")
  med=$(median_of "$2")
  awk -v l="$1" -v n="$runs" -v mn="$min" -v md="$med" -v b="$3" -v w="$4" 'BEGIN {
    mw = w > 0 ? sprintf("%9.1f", w / 1e6 / md) : sprintf("%9s", "-")
    printf "%-22s %4d %9.3f %9.3f %9.1f %9.1f %s\n", l, n, mn, md, b / 1e6 / mn, b / 1e6 / md, mw
  }'
}
ratio() { awk -v g="$(median_of "$2")" -v s="$(median_of "$1")" 'BEGIN { printf "%.2f", g / s }'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t) ? "PASS" : "MISS" }'; }

wc_mwps=$(awk -v w="$words" -v s="$(median_of sawmill_wordcount)" 'BEGIN { printf "%.1f", w / 1e6 / s }')
ts_mbps=$(awk -v b="$tera_bytes" -v s="$(median_of sawmill_terasort)" 'BEGIN { printf "%.1f", b / 1e6 / s }')
echo
echo "Sawmill local benchmark ($( [[ $small -eq 1 ]] && echo small || echo full ) size, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ))"
echo "wordcount input: $text_size bytes, $words words ($distinct distinct); terasort input: $tera_records records, $tera_bytes bytes"
printf "%-22s %4s %9s %9s %9s %9s %9s\n" "command" "runs" "min_s" "median_s" "MB/s_max" "MB/s_med" "Mwords/s"
row "wordcount  sawmill" sawmill_wordcount "$text_size" "$words"
row "wordcount  GNU" gnu_wordcount "$text_size" "$words"
row "terasort   sawmill" sawmill_terasort "$tera_bytes" 0
row "terasort   GNU sort" gnu_terasort "$tera_bytes" 0
echo "Sawmill/GNU throughput (median): wordcount $(ratio sawmill_wordcount gnu_wordcount)x, terasort $(ratio sawmill_terasort gnu_terasort)x"
echo "target WordCount >= 34 M words/s: $wc_mwps M words/s $(verdict "$wc_mwps" 34)"
echo "target TeraSort  >= 250 MB/s:     $ts_mbps MB/s $(verdict "$ts_mbps" 250)"

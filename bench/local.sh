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
export LC_ALL=C
root=$(cd "$(dirname "$0")/.." && pwd)

small=0
data=""
build=$root/build
runs=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --small) small=1; shift ;;
    --data) data=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/local.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -n $data ]] || data=$build/bench-data
if [[ $small -eq 1 ]]; then
  text_bytes=$((32 << 20)); tera_records=200000; runs=${runs:-1}
else
  text_bytes=$((1 << 30)); tera_records=10000000; runs=${runs:-3}
fi
vocabulary=75000
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench/local.sh: --runs wants a positive number" >&2; exit 2; }
sawmill=$build/sawmill
jobs=$build/jobs
for b in "$sawmill" "$jobs/wordcount" "$jobs/terasort" "$jobs/teragen"; do
  [[ -x $b ]] || { echo "bench/local.sh: missing $b (run ./scripts/build release)" >&2; exit 1; }
done

mkdir -p "$data"
data=$(cd "$data" && pwd)
out=$(mktemp -d "$data/run.XXXXXX")
trap 'rm -rf "$out"' EXIT

# --- data (reused when the stamp and sizes match) ---
text=$data/text.txt
tera=$data/tera
text_stamp="gen text --bytes $text_bytes --vocabulary $vocabulary --seed 1"
tera_stamp="teragen --records $tera_records --parts 2 --seed 0"
file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }
if [[ $(cat "$data/text.stamp" 2>/dev/null) != "$text_stamp" || $(file_size "$text") -lt $text_bytes ]]; then
  echo "generating $((text_bytes >> 20)) MiB of text in $text ..." >&2
  rm -f "$data/text.stamp"
  "$sawmill" gen text --bytes "$text_bytes" --vocabulary "$vocabulary" --seed 1 --output "$text"
  echo "$text_stamp" >"$data/text.stamp"
fi
tera_bytes=$((tera_records * 100))
if [[ $(cat "$data/tera.stamp" 2>/dev/null) != "$tera_stamp" || $(du -b -c "$tera"/part-* 2>/dev/null | tail -n 1 | cut -f 1) != "$tera_bytes" ]]; then
  echo "generating $tera_records TeraSort records in $tera ..." >&2
  rm -f "$data/tera.stamp"
  "$jobs/teragen" --records "$tera_records" --parts 2 --seed 0 --output "$tera" --overwrite >/dev/null
  echo "$tera_stamp" >"$data/tera.stamp"
fi
text_size=$(file_size "$text")

# --- timing ---
# timed NAME CMD...: runs CMD $runs times (stdout to $out/NAME.log); appends seconds to $out/NAME.times.
timed() {
  local name=$1 i t0 t1
  shift
  for ((i = 1; i <= runs; i++)); do
    t0=$(date +%s%N)
    if ! "$@" >"$out/$name.log" 2>"$out/$name.err"; then
      tail -n 20 "$out/$name.log" "$out/$name.err" >&2
      echo "bench/local.sh: $name failed" >&2
      exit 1
    fi
    t1=$(date +%s%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }' >>"$out/$name.times"
    echo "  $name run $i/$runs: $(tail -n 1 "$out/$name.times") s" >&2
  done
}
stat_min() { sort -g "$out/$1.times" | head -n 1; }
stat_median() { sort -g "$out/$1.times" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

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

echo "bench: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $runs run(s) each" >&2
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
  echo "bench/local.sh: wordcount disagrees with GNU: $words words/$distinct distinct vs $gnu_words/$gnu_distinct" >&2
  exit 1
fi
if ! "$sawmill" cat --format raw "$out/ts" | cmp -s - "$out/gnu-sorted.txt"; then
  echo "bench/local.sh: terasort output differs from GNU sort's" >&2
  exit 1
fi

# --- report ---
row() {  # row LABEL NAME BYTES WORDS
  local min med
  min=$(stat_min "$2")
  med=$(stat_median "$2")
  awk -v l="$1" -v n="$runs" -v mn="$min" -v md="$med" -v b="$3" -v w="$4" 'BEGIN {
    mw = w > 0 ? sprintf("%9.1f", w / 1e6 / md) : sprintf("%9s", "-")
    printf "%-22s %4d %9.3f %9.3f %9.1f %9.1f %s\n", l, n, mn, md, b / 1e6 / mn, b / 1e6 / md, mw
  }'
}
ratio() { awk -v g="$(stat_median "$2")" -v s="$(stat_median "$1")" 'BEGIN { printf "%.2f", g / s }'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t) ? "PASS" : "MISS" }'; }

wc_mwps=$(awk -v w="$words" -v s="$(stat_median sawmill_wordcount)" 'BEGIN { printf "%.1f", w / 1e6 / s }')
ts_mbps=$(awk -v b="$tera_bytes" -v s="$(stat_median sawmill_terasort)" 'BEGIN { printf "%.1f", b / 1e6 / s }')
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

#!/usr/bin/env bash
# Local-mode benchmark: Sawmill's wordcount and terasort against the GNU coreutils pipelines
# doing the same work, on the same machine and data.
#
# Usage: bench/local.sh [--small] [--data DIR] [--build DIR] [--runs N] [--baseline DIR]
#   --small   CI smoke size: 32 MiB of text, 200k TeraSort records, 1 run per command.
#             Default: 1 GiB of Zipf text (75k-word vocabulary), 10M records (1 GB), 3 runs.
#   --data    where the generated data lives (default build/bench-data); reused when it is
#             already there with the same parameters.
#   --build   build directory with jobs/ and sawmill (default build; run ./scripts/build release).
#   --runs    runs per timed command (default 3, or 1 with --small).
#   --baseline  another build directory (e.g. main's) whose wordcount and terasort run with the
#             same flags, alternating run by run with this build's; adds their rows and this
#             build's throughput against theirs.
# Times (wall clock, whole process): wordcount --threads 2 vs
#   tr -s ' \t\r\n' '\n' | grep -v '^$' | sort --parallel=2 -S 256M | uniq -c
# and terasort --threads 2 --memory_mb 256 vs sort --parallel=2 -S 256M > file, everything with
# LC_ALL=C. Both jobs run with the default --reducers (one per thread, by input size; their
# summary lines say what was chosen). Prints min and median seconds, MB/s (1 MB = 10^6 bytes), M words/s,
# Sawmill/GNU throughput ratios and the targets (WordCount >= 34 M words/s, TeraSort >= 250 MB/s,
# judged on the median run).
set -euo pipefail
source "$(dirname "$0")/common.sh"

bench_accepts="--small --data --build --runs"
baseline=""
while [[ $# -gt 0 ]]; do
  if [[ $1 == --baseline ]]; then
    [[ $# -ge 2 ]] || { echo "$me: --baseline wants a build directory" >&2; exit 2; }
    baseline=$2
    shift 2
    continue
  fi
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
[[ -z $baseline ]] || need_exec "--baseline: a build directory with jobs/" "$baseline/jobs/wordcount" "$baseline/jobs/terasort"
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
# timed NAME...: runs each NAME (a function below) $runs times, alternating run by run so that
# drift hits them alike (run_timed); exits 1 if a run fails.
timed() {
  local name i
  for ((i = 1; i <= runs; i++)); do
    for name in "$@"; do
      run_timed "$name" "$name" || { echo "$me: $name failed" >&2; exit 1; }
      echo "  $name run $i/$runs: $(tail -n 1 "$out/$name.times") s$(reducers_of "$name")" >&2
    done
  done
}
median_of() { stat_median "$out/$1.times"; }
# reducers_of NAME: ", reducers=N ..." of NAME's last summary line, if it has that field.
reducers_of() {
  local r
  r=$(sed -nE 's/^summary .*( reducers=[0-9]+( reducers_auto=[^ ]+)?).*/\1/p' "$out/$1.log" | tail -n 1)
  [[ -z $r ]] || echo ",$r"
}

wordcount_with() {  # wordcount_with JOBS_DIR OUT
  "$1/wordcount" --input "$text" --output "$2" --overwrite --threads 2 --progress=never
}
terasort_with() {  # terasort_with JOBS_DIR OUT
  "$1/terasort" --input "$tera" --output "$2" --overwrite --threads 2 --memory_mb 256 --progress=never
}
sawmill_wordcount() { wordcount_with "$jobs" "$out/wc"; }
baseline_wordcount() { wordcount_with "$baseline/jobs" "$out/base-wc"; }
gnu_wordcount() {
  tr -s ' \t\r\n' '\n' <"$text" | grep -v '^$' | sort --parallel=2 -S 256M -T "$out" | uniq -c >"$out/gnu-wc.txt"
}
sawmill_terasort() { terasort_with "$jobs" "$out/ts"; }
baseline_terasort() { terasort_with "$baseline/jobs" "$out/base-ts"; }
gnu_terasort() {
  sort --parallel=2 -S 256M -T "$out" "$tera"/part-* >"$out/gnu-sorted.txt"
}

echo "bench: $(nproc) cores, $(cpu_model), $runs run(s) each${baseline:+, baseline $baseline}" >&2
load0=$(cut -d" " -f1-3 /proc/loadavg)
if [[ -n $baseline ]]; then
  timed sawmill_wordcount baseline_wordcount
else
  timed sawmill_wordcount
fi
timed gnu_wordcount
if [[ -n $baseline ]]; then
  timed sawmill_terasort baseline_terasort
else
  timed sawmill_terasort
fi
timed gnu_terasort
load1=$(cut -d" " -f1-3 /proc/loadavg)

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
if [[ -n $baseline ]]; then
  if ! cmp -s <("$sawmill" cat "$out/wc" | sort) <("$sawmill" cat "$out/base-wc" | sort); then
    echo "$me: wordcount's records differ from the baseline's" >&2
    exit 1
  fi
  if ! "$sawmill" cat --format raw "$out/base-ts" | cmp -s - "$out/gnu-sorted.txt"; then
    echo "$me: the baseline's terasort output differs from GNU sort's" >&2
    exit 1
  fi
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
echo "load average (1, 5, 15 min): $load0 before timing, $load1 after"
echo "sawmill wordcount$(reducers_of sawmill_wordcount | sed 's/^,//'); terasort$(reducers_of sawmill_terasort | sed 's/^,//')"
printf "%-22s %4s %9s %9s %9s %9s %9s\n" "command" "runs" "min_s" "median_s" "MB/s_max" "MB/s_med" "Mwords/s"
row "wordcount  sawmill" sawmill_wordcount "$text_size" "$words"
[[ -z $baseline ]] || row "wordcount  baseline" baseline_wordcount "$text_size" "$words"
row "wordcount  GNU" gnu_wordcount "$text_size" "$words"
row "terasort   sawmill" sawmill_terasort "$tera_bytes" 0
[[ -z $baseline ]] || row "terasort   baseline" baseline_terasort "$tera_bytes" 0
row "terasort   GNU sort" gnu_terasort "$tera_bytes" 0
echo "Sawmill/GNU throughput (median): wordcount $(ratio sawmill_wordcount gnu_wordcount)x, terasort $(ratio sawmill_terasort gnu_terasort)x"
if [[ -n $baseline ]]; then
  echo "this build/baseline throughput (median): wordcount $(ratio sawmill_wordcount baseline_wordcount)x," \
    "terasort $(ratio sawmill_terasort baseline_terasort)x (baseline $baseline)"
fi
echo "target WordCount >= 34 M words/s: $wc_mwps M words/s $(verdict "$wc_mwps" 34)"
echo "target TeraSort  >= 250 MB/s:     $ts_mbps MB/s $(verdict "$ts_mbps" 250)"

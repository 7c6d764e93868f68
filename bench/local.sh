#!/usr/bin/env bash
# Local-mode benchmark: Sawmill's wordcount and terasort against the GNU coreutils pipelines
# doing the same work and against the peer engine Thrill, and its wordcount against DuckDB, on the
# same machine and data.
#
# Usage: bench/local.sh [--small] [--data DIR] [--build DIR] [--runs N] [--baseline DIR]
#          [--thrill DIR] [--duckdb auto|no]
#   --small   CI smoke size: 32 MiB of text, 200k TeraSort records, 1 run per command.
#             Default: 1 GiB of Zipf text (75k-word vocabulary), 10M records (1 GB), 3 runs.
#   --data    where the generated data and DuckDB live (default build/bench-data); reused when
#             they are already there with the same parameters.
#   --build   build directory with jobs/ and sawmill (default build; run ./scripts/build release).
#   --runs    runs per timed command (default 3, or 1 with --small).
#   --baseline  another build directory (e.g. main's) whose wordcount and terasort run with the
#             same flags, alternating run by run with this build's; adds their rows and this
#             build's throughput against theirs.
#   --thrill  Thrill's build examples/ directory (default $THRILL_EXAMPLES, else
#             /tmp/peers/thrill-build/examples); `--thrill no` or no binaries there: a line says
#             Thrill is not available and its rows and targets are left out (not an error).
#   --duckdb  auto (default): npm-install @duckdb/node-api into DATA/duckdb if it is not there and
#             time it; no: skip it. Skipped, or without node, npm or the registry, or if its run
#             fails: a line says so ("duckdb: skipped"/"not available") and its rows and target are
#             left out (not an error).
# Times (wall clock, whole process): wordcount --threads 2 vs
#   tr -s ' \t\r\n' '\n' | grep -v '^$' | sort --parallel=2 -S 256M | uniq -c
# and terasort --threads 2 --memory_mb 256 vs sort --parallel=2 -S 256M > file, everything with
# LC_ALL=C. Both jobs run with the default --reducers (one per thread, by input size; their
# summary lines say what was chosen). Thrill (one process, THRILL_LOCAL=1 THRILL_WORKERS_PER_HOST=2):
#   word_count/word_count_run -o OUT/wc-@@@@-####.txt TEXT
#   terasort/terasort -o OUT/ts-@@@@-####.bin TERA/part-*   (the same 100-byte records)
# each in its default configuration ("thrill") and its best ("thrill best": jemalloc on
# transparent huge pages, MALLOC_CONF=thp:always,metadata_thp:always), alternating run by run with
# Sawmill's job on the same workload; their outputs are checked (terasort byte-identical to GNU
# sort's, wordcount the same words and distinct words), a mismatch warned about. DuckDB (npm's
# @duckdb/node-api, `node bench/wordcount_duckdb.cjs DATA/duckdb TEXT OUT/duckdb-wc.tsv 2`): an
# in-memory database with SET threads = 2 reads TEXT (read_csv, a VARCHAR column per line), splits
# the lines at spaces, tabs and CRs (string_split), drops empty strings, GROUP BY word, COUNT(*),
# and COPYs the pairs to a TSV; its whole node process (import+count+write) alternates run by run
# with Sawmill's wordcount, its output checked like Thrill's. Peak RSS of the terasort runs
# (Sawmill's and Thrill's) from /usr/bin/time -f %M, when there is one (1 MB = 2^20 bytes there).
# Prints min and median seconds, MB/s (1 MB = 10^6 bytes), M words/s, Sawmill/GNU,
# Sawmill/Thrill-best and Sawmill/DuckDB throughput ratios (median seconds of the other /
# Sawmill's: > 1 is Sawmill faster), and the targets, judged on the median run: WordCount >= 34 M
# words/s, TeraSort >= 250 MB/s, TeraSort >= 1.5x and WordCount >= 2.5x Thrill best, WordCount
# >= 1.5x DuckDB, TeraSort peak RSS (the maximum over its runs) <= 320 MB.
set -euo pipefail
source "$(dirname "$0")/common.sh"

bench_accepts="--small --data --build --runs --thrill"
baseline=""
duckdb=auto
while [[ $# -gt 0 ]]; do
  if [[ $1 == --baseline ]]; then
    [[ $# -ge 2 ]] || { echo "$me: --baseline wants a build directory" >&2; exit 2; }
    baseline=$2
    shift 2
    continue
  fi
  if [[ $1 == --duckdb ]]; then
    [[ $# -ge 2 && ($2 == auto || $2 == no) ]] || { echo "$me: --duckdb wants auto or no" >&2; exit 2; }
    duckdb=$2
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
thrill_ok=0
! thrill_has word_count/word_count_run terasort/terasort || thrill_ok=1
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
duckdb_setup "$duckdb" "$data/duckdb"

# --- timing ---
# timed NAME...: runs each NAME (a function below) $runs times, alternating run by run so that
# drift hits them alike (run_timed); exits 1 if a run fails, but DuckDB's: that leaves it out.
timed() {
  local name i
  for ((i = 1; i <= runs; i++)); do
    for name in "$@"; do
      [[ $name != duckdb_wordcount || $duck_ok -eq 1 ]] || continue
      if ! run_timed "$name" "$name"; then
        [[ $name == duckdb_wordcount ]] || { echo "$me: $name failed" >&2; exit 1; }
        echo "$me: $name failed; DuckDB is left out" >&2
        duck_ok=0 duck_note="not available (its run failed; see above)"
        continue
      fi
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
terasort_with() {  # terasort_with JOBS_DIR OUT [RSS_NAME: peak_rss]
  ${3:+peak_rss "$3"} "$1/terasort" --input "$tera" --output "$2" --overwrite --threads 2 --memory_mb 256 --progress=never
}
sawmill_wordcount() { wordcount_with "$jobs" "$out/wc"; }
baseline_wordcount() { wordcount_with "$baseline/jobs" "$out/base-wc"; }
gnu_wordcount() {
  tr -s ' \t\r\n' '\n' <"$text" | grep -v '^$' | sort --parallel=2 -S 256M -T "$out" | uniq -c >"$out/gnu-wc.txt"
}
sawmill_terasort() { terasort_with "$jobs" "$out/ts" sawmill_terasort; }
baseline_terasort() { terasort_with "$baseline/jobs" "$out/base-ts"; }
gnu_terasort() {
  sort --parallel=2 -S 256M -T "$out" "$tera"/part-* >"$out/gnu-sorted.txt"
}
# Thrill writes a file per worker (and more when they are big) into a fresh directory each run.
thrill_wordcount() {
  rm -rf "$out/th-wc" && mkdir "$out/th-wc" && thrill_run word_count/word_count_run -o "$out/th-wc/wc-@@@@-####.txt" "$text"
}
thrill_best_wordcount() {
  rm -rf "$out/thb-wc" && mkdir "$out/thb-wc" &&
    MALLOC_CONF=$thrill_best_conf thrill_run word_count/word_count_run -o "$out/thb-wc/wc-@@@@-####.txt" "$text"
}
# DuckDB's run: the whole node process (start, import, count, write) with 2 threads.
duckdb_wordcount() {
  rm -f "$out/duckdb-wc.tsv" && node "$root/bench/wordcount_duckdb.cjs" "$duck_prefix" "$text" "$out/duckdb-wc.tsv" 2
}
thrill_terasort() {
  rm -rf "$out/th-ts" && mkdir "$out/th-ts" && thrill_run --rss thrill_terasort terasort/terasort -o "$out/th-ts/ts-@@@@-####.bin" "$tera"/part-*
}
thrill_best_terasort() {
  rm -rf "$out/thb-ts" && mkdir "$out/thb-ts" &&
    MALLOC_CONF=$thrill_best_conf thrill_run --rss thrill_best_terasort terasort/terasort -o "$out/thb-ts/ts-@@@@-####.bin" "$tera"/part-*
}

echo "bench: $(nproc) cores, $(cpu_model), $runs run(s) each${baseline:+, baseline $baseline}" >&2
load0=$(cut -d" " -f1-3 /proc/loadavg)
wc_names=(sawmill_wordcount) ts_names=(sawmill_terasort)
[[ -z $baseline ]] || { wc_names+=(baseline_wordcount); ts_names+=(baseline_terasort); }
[[ $thrill_ok -eq 0 ]] || { wc_names+=(thrill_wordcount thrill_best_wordcount); ts_names+=(thrill_terasort thrill_best_terasort); }
[[ $duck_ok -eq 0 ]] || wc_names+=(duckdb_wordcount)
timed "${wc_names[@]}"
timed gnu_wordcount
timed "${ts_names[@]}"
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

# Thrill's outputs (of the last runs): a mismatch is warned about in the report, not an error.
# wordcount: "word: count" lines (it splits at spaces only, which is all the generated text has).
thrill_warnings=()
if [[ $thrill_ok -eq 1 ]]; then
  for d in th thb; do
    read -r th_words th_distinct < <(cat "$out/$d-wc"/wc-* | awk '{ s += $NF } END { print s + 0, NR }')
    [[ $th_words == "$words" && $th_distinct == "$distinct" ]] ||
      thrill_warnings+=("warning: thrill ($d) wordcount: $th_words words/$th_distinct distinct, Sawmill's $words/$distinct")
    # Its file names (worker, then file number) in order (the glob's, LC_ALL=C) are the sorted order.
    cat "$out/$d-ts"/ts-*.bin | cmp -s - "$out/gnu-sorted.txt" ||
      thrill_warnings+=("warning: thrill ($d) terasort output differs from GNU sort's")
  done
fi

# DuckDB's output (of the last run), "word TAB count" lines: a mismatch is warned about too.
duck_warnings=()
if [[ $duck_ok -eq 1 ]]; then
  duck_version=$(sed -n 's/^duckdb .*version=\([^ ]*\).*/\1/p' "$out/duckdb_wordcount.log" | tail -n 1)
  read -r dk_words dk_distinct < <(awk -F'\t' '{ s += $2 } END { print s + 0, NR }' "$out/duckdb-wc.tsv")
  [[ $dk_words == "$words" && $dk_distinct == "$distinct" ]] ||
    duck_warnings+=("warning: duckdb wordcount: $dk_words words/$dk_distinct distinct, Sawmill's $words/$distinct")
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
# rss_mb NAME: the largest peak RSS in $out/NAME.rss, in MB (2^20 bytes).
rss_mb() { awk '$1 ~ /^[0-9]+$/ && $1 > m { m = $1 } END { printf "%.0f", m / 1024 }' "$out/$1.rss"; }

wc_mwps=$(awk -v w="$words" -v s="$(median_of sawmill_wordcount)" 'BEGIN { printf "%.1f", w / 1e6 / s }')
ts_mbps=$(awk -v b="$tera_bytes" -v s="$(median_of sawmill_terasort)" 'BEGIN { printf "%.1f", b / 1e6 / s }')
echo
echo "Sawmill local benchmark ($( [[ $small -eq 1 ]] && echo small || echo full ) size, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ))"
echo "wordcount input: $text_size bytes, $words words ($distinct distinct); terasort input: $tera_records records, $tera_bytes bytes"
echo "load average (1, 5, 15 min): $load0 before timing, $load1 after"
echo "sawmill wordcount$(reducers_of sawmill_wordcount | sed 's/^,//'); terasort$(reducers_of sawmill_terasort | sed 's/^,//')"
echo "duckdb: $([[ $duck_ok -eq 1 ]] && echo "$duck_version (npm $duck_pkg)" || echo "$duck_note")"
printf "%-22s %4s %9s %9s %9s %9s %9s\n" "command" "runs" "min_s" "median_s" "MB/s_max" "MB/s_med" "Mwords/s"
row "wordcount  sawmill" sawmill_wordcount "$text_size" "$words"
[[ -z $baseline ]] || row "wordcount  baseline" baseline_wordcount "$text_size" "$words"
row "wordcount  GNU" gnu_wordcount "$text_size" "$words"
if [[ $thrill_ok -eq 1 ]]; then
  row "wordcount  thrill" thrill_wordcount "$text_size" "$words"
  row "wordcount  thrill best" thrill_best_wordcount "$text_size" "$words"
fi
[[ $duck_ok -eq 0 ]] || row "wordcount  duckdb" duckdb_wordcount "$text_size" "$words"
row "terasort   sawmill" sawmill_terasort "$tera_bytes" 0
[[ -z $baseline ]] || row "terasort   baseline" baseline_terasort "$tera_bytes" 0
row "terasort   GNU sort" gnu_terasort "$tera_bytes" 0
if [[ $thrill_ok -eq 1 ]]; then
  row "terasort   thrill" thrill_terasort "$tera_bytes" 0
  row "terasort   thrill best" thrill_best_terasort "$tera_bytes" 0
else
  echo "$thrill_absent"
fi
echo "Sawmill/GNU throughput (median): wordcount $(ratio sawmill_wordcount gnu_wordcount)x, terasort $(ratio sawmill_terasort gnu_terasort)x"
if [[ -n $baseline ]]; then
  echo "this build/baseline throughput (median): wordcount $(ratio sawmill_wordcount baseline_wordcount)x," \
    "terasort $(ratio sawmill_terasort baseline_terasort)x (baseline $baseline)"
fi
if [[ $thrill_ok -eq 1 ]]; then
  echo "Sawmill/Thrill best throughput (median): wordcount $(ratio sawmill_wordcount thrill_best_wordcount)x," \
    "terasort $(ratio sawmill_terasort thrill_best_terasort)x"
  [[ ${#thrill_warnings[@]} -eq 0 ]] || printf '%s\n' "${thrill_warnings[@]}"
fi
if [[ $duck_ok -eq 1 ]]; then
  echo "Sawmill/DuckDB throughput (median): wordcount $(ratio sawmill_wordcount duckdb_wordcount)x"
  [[ ${#duck_warnings[@]} -eq 0 ]] || printf '%s\n' "${duck_warnings[@]}"
fi
if [[ -s $out/sawmill_terasort.rss ]]; then
  ts_rss=$(rss_mb sawmill_terasort)
  echo "peak RSS (max over runs): sawmill terasort $ts_rss MB$( [[ $thrill_ok -eq 0 ]] ||
    echo ", thrill terasort $(rss_mb thrill_terasort) MB, thrill best terasort $(rss_mb thrill_best_terasort) MB")"
fi
echo "target WordCount >= 34 M words/s: $wc_mwps M words/s $(verdict "$wc_mwps" 34)"
echo "target TeraSort  >= 250 MB/s:     $ts_mbps MB/s $(verdict "$ts_mbps" 250)"
if [[ $thrill_ok -eq 1 ]]; then
  r=$(ratio sawmill_terasort thrill_best_terasort)
  echo "target TeraSort >= 1.5x Thrill best: $r $(verdict "$r" 1.5)"
  r=$(ratio sawmill_wordcount thrill_best_wordcount)
  echo "target WordCount >= 2.5x Thrill best: $r $(verdict "$r" 2.5)"
fi
if [[ $duck_ok -eq 1 ]]; then
  r=$(ratio sawmill_wordcount duckdb_wordcount)
  echo "target WordCount >= 1.5x DuckDB: $r $(verdict "$r" 1.5)"
fi
[[ -z ${ts_rss:-} ]] || echo "target TeraSort peak RSS <= 320 MB: $ts_rss MB $(verdict 320 "$ts_rss")"  # 320 >= RSS

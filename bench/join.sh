#!/usr/bin/env bash
# Join benchmark (issue 6): Sawmill's join job, each strategy, beside sqlite3 and DuckDB doing the
# same join on the same machine and data; checks that they all give the same rows; a skew section.
#
# Usage: bench/join.sh [--smoke] [--data DIR] [--build DIR] [--runs N] [--check] [--duckdb auto|no]
#                      [--strategies "broadcast reduce partitioned merge auto"] [--types "inner left"]
#                      [--parts P] [--reducers R] [--memory_mb M] [--no_skew] [--baselines_only]
#   --smoke     CI smoke size (alias --small): 200k events x 10k users, 1 run, outputs checked;
#               seconds. Its figures mean nothing. Default: 20M events (~350 MB) x 1M users, 3 runs.
#   --data      where the generated tables, the keyby datasets and DuckDB live (default
#               BUILD/bench-join-data, --smoke: BUILD/bench-join-smoke-data); reused when their
#               stamps match. Timed outputs go to DATA/run.XXXXXX, removed at exit.
#   --build     build directory with sawmill, jobs/join and jobs/keyby (default build).
#   --runs      runs per timed command (default 3, or 1 with --smoke).
#   --check     compare every output as sorted text (`sawmill cat | sort | md5sum`) across the
#               strategies and against sqlite (and DuckDB); always on with --smoke; slow at full
#               size. The skew section always compares its two outputs. A mismatch exits 1.
#   --duckdb    auto (default): npm-install @duckdb/node-api into DATA/duckdb if it is not there
#               and time it; no: skip it. Without node, npm or the registry: "duckdb: not available".
#   --strategies, --types  what to time (default all five strategies; inner and left).
#   --parts     partitions of the keyby datasets that partitioned and merge read (default 8).
#   --reducers  reducers of the reduce and auto strategies (default: the job's own, one per thread
#               by input size); the skew section always runs 8; --memory_mb (default 512).
#   --no_skew   skip the skew section; --baselines_only: only the data, sqlite and DuckDB (no Sawmill).
# Data (bench/join_gen.c, compiled with cc into DATA): events.tsv = user_id<TAB>ts<TAB>page with
# Zipf(1.1) user ids (the hottest id has ~12% of the rows), users.tsv = user_id<TAB>country<TAB>name
# for ids 0..U-1 less ~5% (so left join != inner join); skew.tsv = events where 30% of the rows have
# one user id and the rest are uniform. Joins: events (left) with users (right) on column 1, key
# compared as text everywhere; output key = user_id, value = ts, page, country, name.
# Sawmill: jobs/join --threads 2 --memory_mb M; broadcast, reduce and auto read the TSVs,
# partitioned and merge read `jobs/keyby --key 1 --reducers P` datasets of both tables (their
# preparation is timed apart and not counted). sqlite3: import into a temp-file DB (journal off),
# then the join written with `.mode tabs` (NULL as empty); DuckDB: in-memory, 2 threads, COPY to TSV.
# The runs alternate: each of --runs rounds runs every Sawmill strategy and type once, then sqlite,
# then DuckDB. Times are wall clock of the whole process (DuckDB: measured in its node script), LC_ALL=C. MB/s is
# events.tsv bytes (the large side's input, 1 MB = 10^6 bytes) over seconds, for every row of the
# table. x_sqlite / x_duckdb: their median import+join+write seconds over Sawmill's (>1: Sawmill
# faster). Targets (on the median): broadcast >= 150 MB/s, reduce >= 60 MB/s and >= 1.3x DuckDB's
# import+join+write (when DuckDB runs), with the output
# written; skew: reduce strategy, --reducers 8, --hot_share 0 against the default (0.01): the job's
# reduce_s_max / reduce_s_median <= 2 with hot-key handling on. Exit 1 on a failed run or a mismatch.
set -euo pipefail
source "$(dirname "$0")/common.sh"

check=0
duckdb=auto
strategies="broadcast reduce partitioned merge auto"
types="inner left"
parts=8
reducers=""  # the job's default
skew_reducers=8
memory_mb=512
skew=1
baselines_only=0
bench_accepts="--smoke --small --data --build --runs"
while [[ $# -gt 0 ]]; do
  case $1 in
    --check) check=1; shift ;;
    --duckdb) duckdb=$2; shift 2 ;;
    --strategies) strategies=$2; shift 2 ;;
    --types) types=$2; shift 2 ;;
    --parts) parts=$2; shift 2 ;;
    --reducers) reducers=$2; shift 2 ;;
    --memory_mb) memory_mb=$2; shift 2 ;;
    --no_skew) skew=0; shift ;;
    --baselines_only) baselines_only=1; shift ;;
    *) bench_arg "$@"; shift "$nargs" ;;
  esac
done
if [[ $small -eq 1 ]]; then
  events_rows=200000; users_count=10000; runs=${runs:-1}; check=1
else
  events_rows=20000000; users_count=1000000; runs=${runs:-3}
fi
absolute_build
default_data bench-join-smoke-data bench-join-data
positive "--runs, --parts, --reducers and --memory_mb want positive numbers" "$runs" "$parts" ${reducers:+"$reducers"} "$memory_mb"
[[ $duckdb == auto || $duckdb == no ]] || { echo "$me: --duckdb wants auto or no" >&2; exit 2; }
for t in $types; do
  [[ $t == inner || $t == left ]] || { echo "$me: --types: inner and/or left (events left, users right)" >&2; exit 2; }
done
for s in $strategies; do
  [[ $s =~ ^(broadcast|reduce|partitioned|merge|auto)$ ]] || { echo "$me: --strategies: unknown strategy $s" >&2; exit 2; }
done
[[ $baselines_only -eq 1 ]] && { strategies=""; skew=0; }
threads=2
sawmill=$build/sawmill
join=$build/jobs/join
keyby=$build/jobs/keyby
needs_keyby=0
[[ " $strategies " =~ \ (partitioned|merge)\  ]] && needs_keyby=1
missing=()
for tool in sqlite3 cc md5sum; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [[ -n $strategies || $skew -eq 1 ]]; then
  [[ -x $sawmill ]] || missing+=("$sawmill")
  [[ -x $join ]] || missing+=("$join")
  [[ $needs_keyby -eq 0 || -x $keyby ]] || missing+=("$keyby")
fi
report_missing "build sawmill join keyby; or --baselines_only"
run_dir

# --- data (reused when the stamp matches; the stamps name the generator's source too) ---
compile join_gen
gen=$data/join_gen
gen_hash=$src_hash
# table NAME JOIN_GEN_ARGS...: DATA/NAME.tsv from join_gen, unless its stamp says it is there.
table() {
  local name=$1 stamp t0
  shift
  stamp="join_gen $* src=$gen_hash"
  if [[ $(cat "$data/$name.stamp" 2>/dev/null) != "$stamp" || ! -s $data/$name.tsv ]]; then
    echo "generating $data/$name.tsv: $stamp ..." >&2
    rm -f "$data/$name.stamp"
    t0=$(now_ns)
    "$gen" "$@" >"$data/$name.tmp"
    mv "$data/$name.tmp" "$data/$name.tsv"
    echo "$stamp" >"$data/$name.stamp"
    echo "  $name.tsv: $(file_size "$data/$name.tsv") bytes in $(secs_since "$t0") s" >&2
  fi
}
table events events --rows "$events_rows" --users "$users_count" --seed 1 --zipf 1.1
table users users --users "$users_count" --seed 2 --drop_pct 5
[[ $skew -eq 1 ]] && table skew events --rows "$events_rows" --users "$users_count" --seed 3 --zipf 0 --hot 0.3
events=$data/events.tsv
users=$data/users.tsv
events_bytes=$(file_size "$events")
users_bytes=$(file_size "$users")
users_rows=$(wc -l <"$users")
cat "$events" "$users" >/dev/null  # into the page cache, for every contender alike

# keyby datasets for partitioned and merge: same --reducers on both sides. Rebuilt when the data
# or the keyby binary change; their time is reported, not counted.
keyby_s=""
if [[ -n $strategies && $needs_keyby -eq 1 ]]; then
  kb_stamp="keyby --key 1 --reducers $parts; $(cat "$data/events.stamp"); $(cat "$data/users.stamp"); $(stat -c %Y-%s "$keyby")"
  if [[ $(cat "$data/keyby.stamp" 2>/dev/null) != "$kb_stamp" || ! -e $data/events.kb/_MANIFEST || ! -e $data/users.kb/_MANIFEST ]]; then
    echo "preparing keyby datasets ($parts parts) ..." >&2
    rm -f "$data/keyby.stamp"
    t0=$(now_ns)
    for side in events users; do
      if ! "$keyby" --input "$data/$side.tsv" --output "$data/$side.kb" --key 1 --reducers "$parts" --threads "$threads" \
        --overwrite >"$out/keyby-$side.log" 2>&1; then
        tail -n 20 "$out/keyby-$side.log" >&2
        echo "$me: keyby of $side.tsv failed" >&2
        exit 1
      fi
    done
    keyby_s=$(secs_since "$t0")
    echo "$kb_stamp" >"$data/keyby.stamp"
  else
    keyby_s="cached"
  fi
fi

# --- timing ---
# timed NAME CMD...: runs CMD $runs times (run_timed); appends the summary's seconds (if any) to
# $out/NAME.job. Returns 1 if a run fails (the rest of the benchmark goes on; the script exits 1
# at the end).
failed=()
timed() {
  local name=$1 i
  for ((i = 1; i <= runs; i++)); do
    run_timed "$@" || { echo "$me: $name failed: ${*:2}" >&2; failed+=("$name"); return 1; }
    keep_field "$name" seconds job
    echo "  $name run $((round > 0 ? round : i))/$((round > 0 ? rounds : runs)): $(tail -n 1 "$out/$name.times") s" >&2
  done
}
round=0  # > 0 inside the timing rounds below: timed then runs once, as run `round` of `rounds`
add_times() { paste -d' ' "$1" "$2" | awk '{ printf "%.3f\n", $1 + $2 }'; }

# Sorted-text fingerprints: Sawmill's records as `sawmill cat` prints them (key TAB value, TABs in
# the value escaped as \t), and a TSV from sqlite/DuckDB put in the same form (our data has no
# backslashes or newlines, so only the value's TABs need escaping).
sort_md5() { sort -S 25% --parallel=2 -T "$out" | md5sum | cut -c1-32; }
records_md5() { "$sawmill" cat "$1" | sort_md5; }
tsv_md5() { awk '{ i = index($0, "\t"); r = substr($0, i + 1); gsub(/\t/, "\\t", r); print substr($0, 1, i) r }' "$1" | sort_md5; }

echo "bench/join: $(nproc) cores, $(cpu_model), $runs run(s) each" >&2
load0=$(cut -d" " -f1-3 /proc/loadavg)

# --- Sawmill ---
sawmill_join() {  # sawmill_join TYPE STRATEGY OUTPUT [EXTRA FLAGS...]
  local type=$1 strategy=$2 output=$3 inputs
  shift 3
  if [[ $strategy == partitioned || $strategy == merge ]]; then
    inputs=(--left "$data/events.kb" --right "$data/users.kb")  # record datasets: the record key is the key
  else
    inputs=(--left "$events" --right "$users" --left_key 1 --right_key 1)
  fi
  [[ ( $strategy == reduce || $strategy == auto ) && -n $reducers ]] && inputs+=(--reducers "$reducers")
  "$join" "${inputs[@]}" --type "$type" --strategy "$strategy" --output "$output" --overwrite \
    --threads "$threads" --memory_mb "$memory_mb" "$@"
}
sawmill_failed=()
sawmill_round() {  # one run of every strategy and type; the last round's outputs are checked
  local type strategy name
  for type in $types; do
    for strategy in $strategies; do
      name=sawmill_${type}_$strategy
      [[ " ${sawmill_failed[*]} " == *" $name "* ]] && continue
      timed "$name" sawmill_join "$type" "$strategy" "$out/$name.out" || { sawmill_failed+=("$name"); continue; }
      if [[ $round -eq $rounds ]]; then
        summary_field "$out/$name.log" records_out >"$out/$name.rows"
        [[ $check -eq 1 ]] && records_md5 "$out/$name.out" >"$out/$name.md5"
      fi
      rm -rf "$out/$name.out"
    done
  done
}
explain=""
if [[ " $strategies " == *" auto "* ]]; then
  first_type=${types%% *}
  explain=$(sawmill_join "${first_type:-inner}" auto "$out/explain.out" --explain 2>&1 | head -n 8) ||
    explain="(--explain failed: $explain)"
fi

# --- sqlite3: import into a temp-file DB, then each join written to a TSV ---
cat >"$out/import.sql" <<EOF
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
CREATE TABLE events(user_id TEXT, ts TEXT, page TEXT);
CREATE TABLE users(user_id TEXT, country TEXT, name TEXT);
.mode tabs
.import "$events" events
.import "$users" users
EOF
for type in $types; do
  cat >"$out/join_$type.sql" <<EOF
PRAGMA cache_size=-$((memory_mb * 1024));
PRAGMA temp_store=MEMORY;
.mode tabs
.nullvalue ''
.output "$out/sqlite.$type.tsv"
SELECT e.user_id, e.ts, e.page, u.country, u.name
FROM events e $([[ $type == left ]] && echo LEFT) JOIN users u ON e.user_id = u.user_id;
EOF
done
sqlite_import() { rm -f "$out/sqlite.db"; sqlite3 -bail "$out/sqlite.db" <"$out/import.sql"; }
sqlite_join() { sqlite3 -bail "$out/sqlite.db" <"$out/join_$1.sql"; }
sqlite_ok=1
sqlite_version=$(sqlite3 --version | cut -d' ' -f1)
sqlite_round() {  # one import serves every join type: import+join+write = import + that join
  local type
  [[ $sqlite_ok -eq 1 ]] || return 0
  timed sqlite_import sqlite_import || { sqlite_ok=0; return 0; }
  for type in $types; do
    timed "sqlite_${type}_join" sqlite_join "$type" || { sqlite_ok=0; return 0; }
  done
}


# --- DuckDB (npm's @duckdb/node-api, installed under DATA/duckdb, never in the repo) ---
duckdb_setup "$duckdb" "$data/duckdb"
duckdb_run() {
  node "$root/bench/join_duckdb.cjs" "$duck_prefix" "$events" "$users" "$out/duckdb" "$threads" $types
}
# One node process per run does the import and every join type; its own seconds for each phase.
duckdb_round() {
  local line import_s join_s type
  [[ $duck_ok -eq 1 ]] || return 0
  timed duckdb duckdb_run || { duck_ok=0; duck_note="not available (its run failed; see above)"; return 0; }
  line=$(grep -m1 '^duckdb ' "$out/duckdb.log")
  duck_version=$(sed -n 's/.* version=\([^ ]*\).*/\1/p' <<<"$line")
  import_s=$(sed -n 's/.* import_s=\([^ ]*\).*/\1/p' <<<"$line")
  for type in $types; do
    join_s=$(sed -n "s/.* ${type}_s=\([^ ]*\).*/\1/p" <<<"$line")
    echo "$join_s" >>"$out/duckdb_${type}_join.times"
    awk -v a="$import_s" -v b="$join_s" 'BEGIN { printf "%.3f\n", a + b }' >>"$out/duckdb_${type}_total.times"
    sed -n "s/.* ${type}_rows=\([^ ]*\).*/\1/p" <<<"$line" >"$out/duckdb_${type}_total.rows"
    cp "$out/duckdb_${type}_total.rows" "$out/duckdb_${type}_join.rows"
  done
}

# Run by run: every Sawmill strategy, then sqlite, then DuckDB, so that the machine's drift
# (identical runs here vary up to 2x, over minutes) hits them alike.
rounds=$runs
saved=$runs; runs=1
for ((round = 1; round <= rounds; round++)); do
  sawmill_round
  sqlite_round
  duckdb_round
done
runs=$saved; round=0
rm -f "$out/sqlite.db"
if [[ $sqlite_ok -eq 1 ]]; then
  for type in $types; do
    add_times "$out/sqlite_import.times" "$out/sqlite_${type}_join.times" >"$out/sqlite_${type}_total.times"
    wc -l <"$out/sqlite.$type.tsv" | tr -d ' ' >"$out/sqlite_${type}_total.rows"
    cp "$out/sqlite_${type}_total.rows" "$out/sqlite_${type}_join.rows"
    [[ $check -eq 1 ]] && tsv_md5 "$out/sqlite.$type.tsv" >"$out/sqlite_${type}_total.md5"
    rm -f "$out/sqlite.$type.tsv"
  done
fi
if [[ $duck_ok -eq 1 ]]; then
  for type in $types; do
    [[ $check -eq 1 ]] && tsv_md5 "$out/duckdb.$type.tsv" >"$out/duckdb_${type}_total.md5"
    rm -f "$out/duckdb.$type.tsv"
  done
fi

# --- skew: reduce strategy, 30% of the rows on one key, hot-key handling off against the default ---
skew_ok=1
if [[ $skew -eq 1 ]]; then
  skew_join() {  # skew_join OUTPUT [EXTRA FLAGS...]
    local output=$1
    shift
    "$join" --left "$data/skew.tsv" --right "$users" --left_key 1 --right_key 1 --type inner --strategy reduce \
      --reducers "$skew_reducers" --output "$output" --overwrite --threads "$threads" --memory_mb "$memory_mb" "$@"
  }
  cat "$data/skew.tsv" >/dev/null
  saved=$runs; runs=1
  for ((r = 1; r <= saved; r++)); do
    for variant in off on; do
      name=skew_$variant
      if [[ $variant == off ]]; then
        timed "$name" skew_join "$out/$name.out" --hot_share 0 || { skew_ok=0; break 2; }
      else
        timed "$name" skew_join "$out/$name.out" || { skew_ok=0; break 2; }
      fi
      rmed=$(summary_field "$out/$name.log" reduce_s_median)
      rmax=$(summary_field "$out/$name.log" reduce_s_max)
      echo "${rmed:--}" >>"$out/$name.rmed"
      echo "${rmax:--}" >>"$out/$name.rmax"
      awk -v a="$rmed" -v b="$rmax" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%.2f\n", (a > 0) ? b / a : 0 }' \
        >>"$out/$name.ratio"
    done
  done
  runs=$saved
  skew_same=""
  if [[ $skew_ok -eq 1 ]]; then
    # Hot-key salting changes the order of the rows, not the rows: compare as sorted text.
    if [[ $(records_md5 "$out/skew_off.out") == "$(records_md5 "$out/skew_on.out")" ]]; then
      skew_same=yes
    else
      skew_same=NO
    fi
  fi
  rm -rf "$out/skew_off.out" "$out/skew_on.out"
fi

# --- checks: the same rows everywhere (sorted text) ---
mismatch=()
if [[ $check -eq 1 ]]; then
  for type in $types; do
    ref="" ref_name=""
    for f in "$out"/sawmill_"$type"_*.md5 "$out/sqlite_${type}_total.md5" "$out/duckdb_${type}_total.md5"; do
      [[ -e $f ]] || continue
      n=$(basename "$f" .md5)
      if [[ -z $ref ]]; then
        ref=$(cat "$f"); ref_name=$n
      elif [[ $(cat "$f") != "$ref" ]]; then
        mismatch+=("$type: $n differs from $ref_name")
      fi
    done
  done
fi
# Row counts against sqlite's: cheap, so at every size.
for type in $types; do
  [[ -s $out/sqlite_${type}_total.rows ]] || continue
  for strategy in $strategies; do
    f=$out/sawmill_${type}_$strategy.rows
    if [[ -s $f && $(cat "$f") != "$(cat "$out/sqlite_${type}_total.rows")" ]]; then
      mismatch+=("$type: sawmill $strategy wrote $(cat "$f") rows, sqlite $(cat "$out/sqlite_${type}_total.rows")")
    fi
  done
done
[[ ${skew_same:-} == NO ]] && mismatch+=("skew: --hot_share 0 and the default give different rows")

# --- report ---
nz() { [[ -s $1 ]] && cat "$1" || echo "-"; }
row() {  # row LABEL NAME [SAWMILL?]: min/median wall, MB/s of events bytes, rows, job seconds, ratios
  local label=$1 name=$2 sq dk js
  if [[ ! -s $out/$name.times ]]; then
    printf "%-34s %s\n" "$label" "FAILED or not run"
    return
  fi
  sq="" dk="" js="-"
  if [[ $name == sawmill_* ]]; then
    local type=${name#sawmill_}; type=${type%%_*}
    [[ -s $out/sqlite_${type}_total.times ]] && sq=$(stat_median "$out/sqlite_${type}_total.times")
    [[ -s $out/duckdb_${type}_total.times ]] && dk=$(stat_median "$out/duckdb_${type}_total.times")
    [[ -s $out/$name.job ]] && js=$(stat_median "$out/$name.job")
  fi
  awk -v l="$label" -v n="$(wc -l <"$out/$name.times")" -v mn="$(stat_min "$out/$name.times")" \
    -v md="$(stat_median "$out/$name.times")" -v b="$events_bytes" -v rows="$(nz "$out/$name.rows")" \
    -v js="$js" -v sq="$sq" -v dk="$dk" 'BEGIN {
    xs = sq != "" ? sprintf("%8.2f", sq / md) : sprintf("%8s", "-")
    xd = dk != "" ? sprintf("%8.2f", dk / md) : sprintf("%8s", "-")
    printf "%-34s %4d %8.3f %8.3f %8.1f %8.1f %10s %8s %s %s\n", l, n, mn, md, b / 1e6 / mn, b / 1e6 / md, rows, js, xs, xd
  }'
}
mbps_median() { awk -v b="$events_bytes" -v s="$(stat_median "$out/$1.times")" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t) ? "PASS" : "FAIL" }'; }

echo
echo "Sawmill join benchmark ($( [[ $small -eq 1 ]] && echo smoke || echo full ) size, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load average at the start $load0, at the end $(cut -d" " -f1-3 /proc/loadavg))"
echo "events.tsv: $events_rows rows, $events_bytes bytes (Zipf 1.1 user ids); users.tsv: $users_rows rows, $users_bytes bytes" \
  "(ids 0..$((users_count - 1)) less ~5%); key column 1 on both; --threads $threads --memory_mb $memory_mb," \
  "reduce/auto --reducers ${reducers:-default}; partitioned/merge on keyby datasets of $parts parts (prepared: $([[ -z $keyby_s ]] && echo "not needed" || { [[ $keyby_s == cached ]] && echo "cached" || echo "$keyby_s s, not counted"; }))"
echo "sqlite3 $sqlite_version; duckdb: $([[ $duck_ok -eq 1 ]] && echo "$duck_version (npm $duck_pkg)" || echo "$duck_note")"
printf "%-34s %4s %8s %8s %8s %8s %10s %8s %8s %8s\n" "join / engine" "runs" "min_s" "median_s" "MB/s_max" "MB/s_med" \
  "rows_out" "job_s" "x_sqlite" "x_duckdb"
for type in $types; do
  for strategy in $strategies; do row "$(printf %-5s "$type") sawmill $strategy" "sawmill_${type}_$strategy"; done
  if [[ $sqlite_ok -eq 1 ]]; then
    row "$(printf %-5s "$type") sqlite import+join+write" "sqlite_${type}_total"
    row "$(printf %-5s "$type") sqlite join+write" "sqlite_${type}_join"
  else
    printf "%-5s sqlite: FAILED\n" "$type"
  fi
  if [[ $duck_ok -eq 1 ]]; then
    row "$(printf %-5s "$type") duckdb import+join+write" "duckdb_${type}_total"
    row "$(printf %-5s "$type") duckdb join+write" "duckdb_${type}_join"
  else
    printf "%-5s duckdb: %s\n" "$type" "$duck_note"
  fi
done
echo "MB/s: events.tsv bytes / seconds (wall); job_s: median of the job's own seconds; x_sqlite, x_duckdb: their median" \
  "import+join+write seconds / Sawmill's median (>1: Sawmill faster)"
for spec in "broadcast 150" "reduce 60"; do
  set -- $spec
  [[ " $strategies " == *" $1 "* ]] || continue
  line=$(printf "target %-9s >= %3d MB/s (median, output written):" "$1" "$2")
  for type in $types; do
    if [[ -s $out/sawmill_${type}_$1.times ]]; then
      v=$(mbps_median "sawmill_${type}_$1")
      line+=" $type $v MB/s $(verdict "$v" "$2");"
    else
      line+=" $type FAILED;"
    fi
  done
  echo "${line%;}"
done
# The reduce-side join against DuckDB's import+join+write (issue 23): median seconds ratio.
if [[ " $strategies " == *" reduce "* && $duck_ok -eq 1 ]]; then
  line="target reduce    >= 1.3x DuckDB (import+join+write, medians):"
  for type in $types; do
    if [[ -s $out/sawmill_${type}_reduce.times && -s $out/duckdb_${type}_total.times ]]; then
      v=$(awk -v d="$(stat_median "$out/duckdb_${type}_total.times")" -v s="$(stat_median "$out/sawmill_${type}_reduce.times")" \
        'BEGIN { printf "%.2f", d / s }')
      line+=" $type ${v}x $(verdict "$v" 1.3);"
    else
      line+=" $type FAILED;"
    fi
  done
  echo "${line%;}"
fi
if [[ -n $explain ]]; then
  echo "auto --explain (${types%% *} join, TSV inputs):"
  sed 's/^/  /' <<<"$explain"
fi
if [[ ${#mismatch[@]} -gt 0 ]]; then
  printf 'outputs: MISMATCH: %s\n' "${mismatch[@]}"
elif [[ $check -eq 1 ]]; then
  if true; then
    echo "outputs: every strategy, sqlite$([[ $duck_ok -eq 1 ]] && echo " and duckdb") give the same rows (sorted text)"
  fi
else
  echo "outputs: row counts agree with sqlite; rows not compared (--check compares them at this size)"
fi

if [[ $skew -eq 1 ]]; then
  echo
  echo "skew: skew.tsv, $events_rows rows, 30% on one user id, the rest uniform; inner join, reduce strategy, --reducers $skew_reducers"
  printf "%-34s %4s %8s %8s %15s %13s %10s\n" "hot-key handling" "runs" "min_s" "median_s" "reduce_s_median" "reduce_s_max" "max/median"
  for variant in off on; do
    name=skew_$variant
    label=$([[ $variant == off ]] && echo "off (--hot_share 0)" || echo "on (default --hot_share, 0.01)")
    if [[ ! -s $out/$name.times ]]; then
      printf "%-34s %s\n" "$label" "FAILED"
      continue
    fi
    med_dash() { grep -q -- '^-$' "$1" && echo "-" || stat_median "$1"; }
    printf "%-34s %4d %8.3f %8.3f %15s %13s %10s\n" "$label" "$(wc -l <"$out/$name.times")" "$(stat_min "$out/$name.times")" \
      "$(stat_median "$out/$name.times")" "$(med_dash "$out/$name.rmed")" "$(med_dash "$out/$name.rmax")" "$(med_dash "$out/$name.ratio")"
  done
  if [[ -s $out/skew_on.ratio ]]; then
    r=$(grep -q -- '^-$' "$out/skew_on.ratio" && echo "-" || stat_median "$out/skew_on.ratio")
    if [[ $r == - ]]; then
      echo "target reduce_s_max/reduce_s_median <= 2 with hot-key handling: no reduce_s_* fields in the summary line"
    else
      echo "target reduce_s_max/reduce_s_median <= 2 with hot-key handling: $r $(awk -v v="$r" 'BEGIN { print (v <= 2) ? "PASS" : "FAIL" }')"
    fi
  fi
  [[ -n ${skew_same:-} ]] && echo "skew outputs equal as sorted text: $skew_same"
fi

status=0
if [[ ${#mismatch[@]} -gt 0 ]]; then
  for m in "${mismatch[@]}"; do echo "$me: MISMATCH: $m" >&2; done
  status=1
fi
if [[ ${#failed[@]} -gt 0 || $sqlite_ok -eq 0 ]]; then
  echo "$me: failed runs: ${failed[*]}" >&2
  status=1
fi
exit $status

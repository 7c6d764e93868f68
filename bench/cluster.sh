#!/usr/bin/env bash
# Distributed-execution benchmark: WordCount on a local N-host cluster (`sawmill cluster up`)
# beside local mode on the same machine and data in the same run, the round trip of an empty
# job, WordCount in many small tasks, PageRank as one dataflow program, and optionally the
# scaling of WordCount and TeraSort with the number of workers.
#
# Usage: bench/cluster.sh [--bytes N] [--workers N] [--slots S] [--runs N] [--smoke]
#                         [--scaling "1 2 4 8"] [--scaling_slots S] [--tera_records N]
#                         [--coordinator_flags "--flag=value ..."] [--build DIR] [--data DIR]
#                         [--work DIR]
#   --bytes     text size for WordCount (default 1 GiB = 1073741824; --smoke: 4 MiB).
#   --smoke     CI smoke size: 4 MiB of text in 1 MiB blocks and splits, 20k TeraSort records,
#               1 run, 3 empty jobs; about 20 s. Its figures mean nothing.
#   --workers   hosts of the cluster (default 2), replication 1, blocks of --split_mb (64 MiB).
#   --slots     task slots per worker (default: cores / workers, at least 1), so that the cluster
#               runs as many tasks at once as local mode has threads (--threads = workers *
#               slots; on 2 cores: 2 workers x 1 slot against --threads 2).
#   --runs      repetitions of each timed job (default 3; --smoke: 1). Cluster and local runs
#               alternate so that a drifting machine hits both alike.
#   --scaling   also time WordCount (the --bytes text) and TeraSort (--tera_records) on clusters
#               of each listed size, --scaling_slots (default 1) slots a worker, reducers =
#               workers * slots; prints speedups over the first size. Meant for a 16-core
#               machine; on 2 cores it only shows the mechanism works.
#   --sections  what to run besides the WordCount and empty-job runs (default "small_splits
#               pagerank"; "" for none):
#     small_splits: WordCount of the first 200 MB of the text (--smoke: 8 MiB) with --split_mb 1
#               (1 MiB blocks) and 8 reducers on 4 workers x 1 slot, against local mode with
#               --threads = cores; many short tasks, so per-task costs show (target <= 1.5).
#     pagerank: jobs/pagerank, 10 iterations, --partitions 2, on a 1M-page 10M-edge graph
#               (--smoke: 20k/200k; bench/graph_gen.c, the graph of bench/dataflow.sh) on
#               --workers x --slots against --threads = workers x slots; one program of ~25
#               stages (target <= 1.25); the outputs must be byte-identical.
#   --coordinator_flags  passed to `cluster up` (default none: the coordinator's defaults), e.g.
#               "--locality_delay_ms=0" to see what delay scheduling costs or saves.
#   --data      where the generated text lives (default BUILD/bench-data, shared with
#               bench/local.sh: same file and stamp; --smoke: BUILD/bench-cluster-smoke-data);
#   --work      the cluster and the outputs (default BUILD/bench-cluster, removed after).
# Both sides get the same job flags: --reducers 2 --split_mb 64 --memory_mb 512 --threads T
# (in cluster mode --threads only sets each task's share of --memory_mb, as locally). Times:
# the job's own seconds from its summary line (local: the run; cluster: the coordinator's,
# submission to commit) and the wall clock of the whole command; the ratio cluster/local is
# judged on the medians of the job seconds (target <= 1.15) and printed on wall clocks too.
# Empty job: an empty input file, one warm-up (uploads the binary), then 10 timed runs of the
# whole `wordcount --cluster D ... --wait` command; median wall (target <= 50 ms). The put of
# the text is timed too (not part of the ratio). The cluster is always torn down on exit.
set -euo pipefail
source "$(dirname "$0")/common.sh"

bytes=""
workers=2
slots=""
scaling=""
scaling_slots=1
tera_records=""
coordinator_flags=""
sections="small_splits pagerank"
bench_accepts="--smoke --runs --build --data --work"
while [[ $# -gt 0 ]]; do
  case $1 in
    --bytes) bytes=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --slots) slots=$2; shift 2 ;;
    --scaling) scaling=$2; shift 2 ;;
    --scaling_slots) scaling_slots=$2; shift 2 ;;
    --tera_records) tera_records=$2; shift 2 ;;
    --coordinator_flags) coordinator_flags=$2; shift 2 ;;
    --sections) sections=$2; shift 2 ;;
    *) bench_arg "$@"; shift "$nargs" ;;
  esac
done
cores=$(nproc)
if [[ $small -eq 1 ]]; then
  bytes=${bytes:-$((4 << 20))}; runs=${runs:-1}; tera_records=${tera_records:-20000}; empty_runs=3
  split_mb=1
else
  bytes=${bytes:-$((1 << 30))}; runs=${runs:-3}; tera_records=${tera_records:-10000000}; empty_runs=10
  split_mb=64
fi
[[ -n $slots ]] || slots=$((cores / workers > 0 ? cores / workers : 1))
positive "--bytes, --workers, --slots, --runs, --scaling_slots and --tera_records want positive numbers" \
  "$bytes" "$workers" "$slots" "$runs" "$scaling_slots" "$tera_records"
positive "--scaling wants worker counts, e.g. \"1 2 4 8\"" $scaling
threads=$((workers * slots))
reducers=2
memory_mb=512
sawmill=$build/sawmill
jobs=$build/jobs
need_exec "build sawmill wordcount teragen terasort pagerank" "$sawmill" "$jobs/wordcount" "$jobs/teragen" \
  "$jobs/terasort" "$jobs/pagerank"
has_section() { [[ " $sections " == *" $1 "* ]]; }
# The smoke size has a cache of its own: a shared one would be regenerated at every switch.
default_data bench-cluster-smoke-data bench-data
data_dir
fresh_work bench-cluster
cluster=$work/cluster
out=$work/out
mkdir -p "$out"

down() { [[ -e $cluster/cluster.json ]] && "$sawmill" cluster down --dir "$cluster" >/dev/null 2>&1 || true; }
on_exit 'down; rm -rf "$work"'

# --- data (reused when the stamp and size match; the same cache and stamp as bench/local.sh) ---
text_data "$bytes" "$bytes bytes"
cat "$text" >/dev/null  # into the page cache, for both sides alike
: >"$work/empty.txt"

# --- helpers ---
dfs() { "$sawmill" dfs --cluster "$cluster" "$@"; }

# up W S [BLOCK_MB]: a fresh cluster of W hosts with S slots each, replication 1, blocks of
# BLOCK_MB (default split_mb).
up() {
  down
  rm -rf "$cluster"
  "$sawmill" cluster up --dir "$cluster" --workers "$1" --slots "$2" --replication 1 \
    --block_size $((${3:-$split_mb} << 20)) --sync_blocks false ${coordinator_flags:+--coordinator_flags "$coordinator_flags"} \
    >"$work/up.log" 2>&1 ||
    { cat "$work/up.log" >&2; echo "$me: cluster up failed" >&2; exit 1; }
}

# run_job NAME CMD...: runs CMD once (run_timed: the wall clock to $out/NAME.times), appends the
# summary's seconds to $out/NAME.job; exits 1 if CMD fails or prints no summary line.
run_job() {
  local name=$1 s
  shift
  run_timed "$name" "$@" || { echo "$me: $name failed: $*" >&2; exit 1; }
  s=$(summary_field "$out/$name.log" seconds)
  [[ -n $s ]] || { cat "$out/$name.log" >&2; echo "$me: $name printed no summary line" >&2; exit 1; }
  echo "$s" >>"$out/$name.job"
}

job_flags=(--reducers "$reducers" --split_mb "$split_mb" --memory_mb "$memory_mb" --threads "$threads"
           --overwrite --progress never)
cluster_wordcount() {
  "$jobs/wordcount" --cluster "$cluster" --input dfs:/bench/text.txt --output dfs:/bench/wc "${job_flags[@]}" --wait
}
local_wordcount() {
  "$jobs/wordcount" --input "$text" --output "$out/wc" "${job_flags[@]}"
}
empty_job() {
  "$jobs/wordcount" --cluster "$cluster" --input dfs:/bench/empty.txt --output dfs:/bench/empty-out --reducers 1 \
    --overwrite --progress never --wait
}

# --- WordCount: cluster against local ---
echo "bench/cluster: $cores cores, $(cpu_model); $workers workers x $slots slots vs --threads $threads; $runs run(s) each" >&2
load0=$(cut -d" " -f1-3 /proc/loadavg)  # other work on the machine skews both sides; reported
up "$workers" "$slots"
t0=$(now_ns)
dfs put "$text" /bench/text.txt >/dev/null
put_s=$(secs_since "$t0")
dfs put "$work/empty.txt" /bench/empty.txt >/dev/null
# Where the blocks went: a map runs data-local only on a host that holds its block.
blocks_per_host=$(for ((h = 1; h <= workers; h++)); do
  printf 'host%d:%s ' "$h" "$(find "$cluster/host$h" -path '*/finalized/*' -type f ! -name '*.meta' ! -name '*.crc' 2>/dev/null | wc -l)"
done)

# One untimed cluster run first: it uploads the binary (the empty job's warm-up would too).
run_job warmup cluster_wordcount
rm -f "$out/warmup."*
for ((i = 1; i <= runs; i++)); do
  run_job cluster_wc cluster_wordcount
  echo "  cluster wordcount run $i/$runs: job $(tail -n 1 "$out/cluster_wc.job") s, wall $(tail -n 1 "$out/cluster_wc.times") s" >&2
  run_job local_wc local_wordcount
  echo "  local   wordcount run $i/$runs: job $(tail -n 1 "$out/local_wc.job") s, wall $(tail -n 1 "$out/local_wc.times") s" >&2
done
cluster_job_id=$(summary_field "$out/cluster_wc.log" id)
"$sawmill" job --cluster "$cluster" status "$cluster_job_id" >"$out/cluster_wc.status" 2>&1 || true
data_local=$(summary_field "$out/cluster_wc.log" data_local_maps)
maps=$(summary_field "$out/cluster_wc.log" maps)

# Same answer on both sides (byte-identical parts by construction; checked on the records).
if ! cmp -s <("$sawmill" cat --cluster "$cluster" --format raw dfs:/bench/wc) <("$sawmill" cat --format raw "$out/wc"); then
  echo "$me: the cluster's wordcount output differs from local mode's" >&2
  exit 1
fi
words=$("$sawmill" cat --format values "$out/wc" | awk '{ s += $1 } END { print s + 0 }')

# --- empty job round trip ---
run_job empty_warmup empty_job
for ((i = 1; i <= empty_runs; i++)); do run_job empty empty_job; done

# --- WordCount in many small tasks: 4 workers, 1 MiB splits ---
if has_section small_splits; then
  ss_bytes=$((small ? 8 << 20 : 200000000))
  head -c "$ss_bytes" "$text" >"$work/text-small-splits.txt"
  ss_flags=(--reducers 8 --split_mb 1 --memory_mb "$memory_mb" --threads "$cores" --overwrite --progress never)
  up 4 1 1
  dfs put "$work/text-small-splits.txt" /bench/ss.txt >/dev/null
  run_job ss_warmup "$jobs/wordcount" --cluster "$cluster" --input dfs:/bench/ss.txt --output dfs:/bench/ss "${ss_flags[@]}" --wait
  for ((i = 1; i <= runs; i++)); do
    run_job cluster_ss "$jobs/wordcount" --cluster "$cluster" --input dfs:/bench/ss.txt --output dfs:/bench/ss "${ss_flags[@]}" --wait
    run_job local_ss "$jobs/wordcount" --input "$work/text-small-splits.txt" --output "$out/ss" "${ss_flags[@]}"
    echo "  small splits run $i/$runs: cluster $(tail -n 1 "$out/cluster_ss.job") s, local $(tail -n 1 "$out/local_ss.job") s" >&2
  done
  ss_maps=$(summary_field "$out/cluster_ss.log" maps)
  if ! cmp -s <("$sawmill" cat --cluster "$cluster" --format raw dfs:/bench/ss) <("$sawmill" cat --format raw "$out/ss"); then
    echo "$me: the cluster's small-split wordcount output differs from local mode's" >&2
    exit 1
  fi
fi

# --- PageRank: one dataflow program of ~25 stages ---
if has_section pagerank; then
  if [[ $small -eq 1 ]]; then pages=20000; edges=200000; else pages=1000000; edges=10000000; fi
  compile graph_gen
  graph=$data/graph.tsv
  graph_stamp="graph_gen --pages $pages --edges $edges --seed 1 src=$src_hash"
  if [[ $(cat "$data/graph.stamp" 2>/dev/null) != "$graph_stamp" || ! -s $graph ]]; then
    echo "generating $graph: $graph_stamp ..." >&2
    rm -f "$data/graph.stamp"
    "$data/graph_gen" --pages "$pages" --edges "$edges" --seed 1 >"$data/graph.tmp" 2>/dev/null
    mv "$data/graph.tmp" "$graph"
    echo "$graph_stamp" >"$data/graph.stamp"
  fi
  pr_flags=(--iterations 10 --damping 0.85 --partitions 2 --threads "$threads" --memory_mb "$memory_mb" --overwrite
            --progress never)
  up "$workers" "$slots"
  dfs put "$graph" /bench/graph.tsv >/dev/null
  run_job pr_warmup "$jobs/pagerank" --cluster "$cluster" --input dfs:/bench/graph.tsv --output dfs:/bench/pr "${pr_flags[@]}" --wait
  for ((i = 1; i <= runs; i++)); do
    run_job cluster_pr "$jobs/pagerank" --cluster "$cluster" --input dfs:/bench/graph.tsv --output dfs:/bench/pr "${pr_flags[@]}" --wait
    run_job local_pr "$jobs/pagerank" --input "$graph" --output "$out/pr" "${pr_flags[@]}"
    echo "  pagerank run $i/$runs: cluster $(tail -n 1 "$out/cluster_pr.job") s, local $(tail -n 1 "$out/local_pr.job") s" >&2
  done
  for f in cluster_pr local_pr; do summary_field "$out/$f.log" loop_seconds >"$out/$f.loop"; done
  if ! cmp -s <("$sawmill" cat --cluster "$cluster" --format raw dfs:/bench/pr) <("$sawmill" cat --format raw "$out/pr"); then
    echo "$me: the cluster's pagerank output differs from local mode's" >&2
    exit 1
  fi
fi

# --- report ---
ratio() { awk -v c="$(stat_median "$out/$1")" -v l="$(stat_median "$out/$2")" 'BEGIN { printf "%.2f", c / l }'; }
verdict_le() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "PASS" : "MISS" }'; }
row() {  # row LABEL NAME
  local f=$out/$2
  awk -v l="$1" -v jm="$(stat_min "$f.job")" -v jd="$(stat_median "$f.job")" -v wm="$(stat_min "$f.times")" \
    -v wd="$(stat_median "$f.times")" -v b="$text_size" -v w="$words" 'BEGIN {
    printf "%-28s %9.3f %9.3f %9.3f %9.3f %9.1f %9.1f\n", l, jm, jd, wm, wd, b / 1e6 / jd, w / 1e6 / jd
  }'
}
wc_ratio=$(ratio cluster_wc.job local_wc.job)
wc_wall_ratio=$(ratio cluster_wc.times local_wc.times)
empty_wall_ms=$(awk -v s="$(stat_median "$out/empty.times")" 'BEGIN { printf "%.0f", s * 1000 }')
empty_job_ms=$(awk -v s="$(stat_median "$out/empty.job")" 'BEGIN { printf "%.0f", s * 1000 }')
empty_min_ms=$(awk -v s="$(stat_min "$out/empty.times")" 'BEGIN { printf "%.0f", s * 1000 }')
echo
echo "Sawmill cluster benchmark ($( [[ $small -eq 1 ]] && echo smoke || echo full ) size, $cores cores, $(date -u +%Y-%m-%dT%H:%MZ), load average at the start $load0, at the end $(cut -d" " -f1-3 /proc/loadavg))"
echo "input: $text_size bytes of text, $words words; cluster: $workers workers x $slots slots, replication 1," \
  "$split_mb MiB blocks ($blocks_per_host), coordinator flags: ${coordinator_flags:-defaults}; $maps maps ($data_local data-local), $reducers reducers;" \
  "local: --threads $threads; both --split_mb $split_mb --memory_mb $memory_mb"
echo "put of the text: $put_s s ($(awk -v b="$text_size" -v s="$put_s" 'BEGIN { printf "%.0f", b / 1e6 / s }') MB/s; not part of the ratio)"
printf "%-28s %9s %9s %9s %9s %9s %9s\n" "wordcount ($runs runs)" "job_min" "job_med" "wall_min" "wall_med" "MB/s_med" "Mwords/s"
row "cluster ($workers x $slots slots)" cluster_wc
row "local (--threads $threads)" local_wc
echo "cluster/local (median job seconds): $wc_ratio (target <= 1.15) $(verdict_le "$wc_ratio" 1.15); on wall clocks: $wc_wall_ratio"
echo "empty job round trip ($empty_runs runs after a warm-up): wall median $empty_wall_ms ms (min $empty_min_ms)," \
  "coordinator's seconds median $empty_job_ms ms (target wall <= 50 ms) $(verdict_le "$empty_wall_ms" 50)"
if has_section small_splits; then
  ss_ratio=$(ratio cluster_ss.job local_ss.job)
  echo "small splits: wordcount of $ss_bytes bytes, --split_mb 1 ($ss_maps maps), 8 reducers; 4 workers x 1 slot:" \
    "median $(stat_median "$out/cluster_ss.job") s, local --threads $cores: $(stat_median "$out/local_ss.job") s;" \
    "cluster/local $ss_ratio (target <= 1.5) $(verdict_le "$ss_ratio" 1.5)"
fi
if has_section pagerank; then
  pr_ratio=$(ratio cluster_pr.job local_pr.job)
  echo "pagerank: $pages pages, $edges edges, 10 iterations, --partitions 2; $workers workers x $slots slots:" \
    "median $(stat_median "$out/cluster_pr.job") s (loop $(tail -n 1 "$out/cluster_pr.loop") s), local --threads $threads:" \
    "$(stat_median "$out/local_pr.job") s (loop $(tail -n 1 "$out/local_pr.loop") s); cluster/local $pr_ratio" \
    "(target <= 1.25) $(verdict_le "$pr_ratio" 1.25); outputs byte-identical"
fi
# Where the cluster's time went in its last run: attempt durations (process start to exit as the
# coordinator saw them) per phase, against the job's seconds.
awk -v slots=$((workers * slots)) -v job="$(tail -n 1 "$out/cluster_wc.job")" '
  $1 ~ /^job-[0-9]+\/m-/ { nm++; m += $4 + 0; if ($4 + 0 > mmax) mmax = $4 + 0 }
  $1 ~ /^job-[0-9]+\/r-/ { nr++; r += $4 + 0; if ($4 + 0 > rmax) rmax = $4 + 0 }
  END { printf "last cluster run: %.3f s; %d map attempts, %.2f s in all (%.2f s a slot, longest %.2f); " \
               "%d reduce attempts, %.2f s in all (longest %.2f); job minus map work per slot: %.2f s\n",
               job, nm, m, m / slots, mmax, nr, r, rmax, job - m / slots }' "$out/cluster_wc.status"

# --- scaling ---
if [[ -n $scaling ]]; then
  tera=$work/tera
  "$jobs/teragen" --records "$tera_records" --parts "$cores" --seed 0 --output "$tera" --overwrite >/dev/null
  tera_bytes=$((tera_records * 100))
  echo
  echo "scaling: $scaling_slots slot(s) a worker, reducers = workers x slots, --split_mb $split_mb;" \
    "wordcount $text_size bytes, terasort $tera_records records ($tera_bytes bytes); median of $runs job seconds"
  printf "%-8s %6s %12s %9s %12s %9s\n" "workers" "slots" "wordcount_s" "speedup" "terasort_s" "speedup"
  base_wc=""; base_ts=""
  for w in $scaling; do
    up "$w" "$scaling_slots"
    dfs put "$text" /bench/text.txt >/dev/null
    dfs mkdir /bench/tera >/dev/null
    for f in "$tera"/part-*; do dfs put "$f" /bench/tera/ >/dev/null; done
    r=$((w * scaling_slots))
    flags=(--reducers "$r" --split_mb "$split_mb" --memory_mb "$memory_mb" --threads "$r" --overwrite --progress never --wait)
    rm -f "$out"/scale_*
    for ((i = 1; i <= runs; i++)); do
      run_job scale_wc "$jobs/wordcount" --cluster "$cluster" --input dfs:/bench/text.txt --output dfs:/bench/wc "${flags[@]}"
      run_job scale_ts "$jobs/terasort" --cluster "$cluster" --input dfs:/bench/tera --output dfs:/bench/ts "${flags[@]}"
    done
    wc_s=$(stat_median "$out/scale_wc.job")
    ts_s=$(stat_median "$out/scale_ts.job")
    base_wc=${base_wc:-$wc_s}
    base_ts=${base_ts:-$ts_s}
    awk -v w="$w" -v s="$scaling_slots" -v a="$wc_s" -v b="$ts_s" -v a0="$base_wc" -v b0="$base_ts" 'BEGIN {
      printf "%-8d %6d %12.3f %8.2fx %12.3f %8.2fx\n", w, s, a, a0 / a, b, b0 / b }'
  done
fi

down

#!/usr/bin/env bash
# Many hosts on one machine (issue 22, items 3 and 4): a `sawmill cluster up --workers N --slots 1`
# cluster (default 32 hosts: 32 datanodes and 32 workers, a namenode and a coordinator), its idle
# cost per daemon, a word count and a TeraSort on it byte-identical to local mode, and a shuffle of
# many maps into many reduces (fan-in).
#
# Usage: bench/many_hosts.sh [--workers N] [--bytes N] [--tera_records N] [--idle_s S]
#                            [--fanin_split_mb M] [--fanin_reducers R] [--sections "..."]
#                            [--smoke] [--build DIR] [--data DIR] [--work DIR]
#   --workers   simulated hosts (default 32; --smoke: 4), 1 slot each, replication 3, 64 MiB
#               blocks (--smoke: 1 MiB), datanodes without fdatasync (--sync_blocks false).
#   --sections  what to run (default "idle namenode_rpc wordcount terasort fanin"):
#     idle:      after the inputs are stored, --idle_s seconds (default 120, two block-report
#                periods; --smoke: 3) of nothing: per role the resident memory, threads and
#                wake-ups per second (context switches of all threads), and the bytes that reach
#                the namenode's and the coordinator's RPC ports per host and minute (heartbeats,
#                polls and block reports; counted by an iptables chain on loopback, removed after).
#     wordcount: --bytes of text (default 1 GiB; --smoke 4 MiB), --reducers = workers, on the
#                cluster and in local mode (--threads = cores); parts byte-identical (the
#                manifests' content hashes) or exit 1.
#     terasort:  --tera_records records (default 10 M = 1 GB; --smoke 20 k), the same way.
#     fanin:     the text twice as input in --fanin_split_mb splits (default 1: about 2,000 maps
#                for 2 GiB) into --fanin_reducers reduces (default 200; --smoke 16); sampled every
#                0.2 s: established shuffle connections, open files of the busiest worker with its
#                task processes, and of all the cluster's processes, against their limit; the
#                segments per reduce and merge passes; byte-identical to local mode.
#     namenode_rpc: `sawmill bench namenode-rpc` against the cluster's namenode (on this disk,
#                a sync per mutation) with 1 and 8 client threads, 20,000 files (--smoke: 200).
#   --data      where generated inputs live (default BUILD/bench-data, shared with the other
#               scripts; --smoke: BUILD/bench-many-hosts-smoke-data);
#   --work      the cluster and outputs (default BUILD/bench-many-hosts, removed after).
# Times are printed for orientation only: on a 2-core machine 32 hosts share two cores.
set -euo pipefail
source "$(dirname "$0")/common.sh"

workers=""
bytes=""
tera_records=""
idle_s=""
fanin_split_mb=1
fanin_reducers=""
sections="idle namenode_rpc wordcount terasort fanin"
bench_accepts="--smoke --build --data --work"
while [[ $# -gt 0 ]]; do
  case $1 in
    --workers) workers=$2; shift 2 ;;
    --bytes) bytes=$2; shift 2 ;;
    --tera_records) tera_records=$2; shift 2 ;;
    --idle_s) idle_s=$2; shift 2 ;;
    --fanin_split_mb) fanin_split_mb=$2; shift 2 ;;
    --fanin_reducers) fanin_reducers=$2; shift 2 ;;
    --sections) sections=$2; shift 2 ;;
    *) bench_arg "$@"; shift "$nargs" ;;
  esac
done
if [[ $small -eq 1 ]]; then
  workers=${workers:-4}; bytes=${bytes:-$((4 << 20))}; tera_records=${tera_records:-20000}; idle_s=${idle_s:-3}
  fanin_reducers=${fanin_reducers:-16}; block_mb=1
else
  workers=${workers:-32}; bytes=${bytes:-$((1 << 30))}; tera_records=${tera_records:-10000000}; idle_s=${idle_s:-120}
  fanin_reducers=${fanin_reducers:-200}; block_mb=64
fi
positive "--workers, --bytes, --tera_records, --idle_s, --fanin_split_mb and --fanin_reducers want positive numbers" \
  "$workers" "$bytes" "$tera_records" "$idle_s" "$fanin_split_mb" "$fanin_reducers"
has_section() { [[ " $sections " == *" $1 "* ]]; }
cores=$(nproc)
absolute_build
sawmill=$build/sawmill
jobs=$build/jobs
need_exec "build sawmill wordcount teragen terasort" "$sawmill" "$jobs/wordcount" "$jobs/teragen" "$jobs/terasort"
default_data bench-many-hosts-smoke-data bench-data
data_dir
fresh_work bench-many-hosts
cluster=$work/cluster
out=$work/out
mkdir -p "$out"
sample=$root/bench/cluster_sample.py
watcher=""
down() {
  [[ -z $watcher ]] || kill "$watcher" 2>/dev/null || true
  [[ -e $cluster/cluster.json ]] && "$sawmill" cluster down --dir "$cluster" >/dev/null 2>&1 || true
}
on_exit 'down; [[ -n ${KEEP_WORK:-} ]] || rm -rf "$work"'
dfs() { "$sawmill" dfs --cluster "$cluster" "$@"; }

# same NAME DFS_DIR LOCAL_DIR: exits 1 unless both outputs have the same parts, byte for byte
# (their manifests' part lines: names, counts, sizes, content hashes) and the same records.
part_fields='name = "part-|recordCount|byteCount|contentHash'
same() {
  local parts_c parts_l
  parts_c=$("$sawmill" manifest --cluster "$cluster" "dfs:$2" | grep -E "$part_fields") || true
  parts_l=$("$sawmill" manifest "$3" | grep -E "$part_fields") || true
  if [[ -z $parts_c || $parts_c != "$parts_l" ]] ||
     ! cmp -s <("$sawmill" cat --cluster "$cluster" --format raw "dfs:$2") <("$sawmill" cat --format raw "$3"); then
    echo "$me: $1: the cluster's output differs from local mode's" >&2
    diff <(echo "$parts_c") <(echo "$parts_l") | head >&2 || true
    exit 1
  fi
  echo "$1: $(echo "$parts_c" | grep -c contentHash) parts, byte-identical to local mode (content hashes and records)"
}

# timed NAME CMD...: run_timed, then prints NAME's wall seconds.
timed() {
  local name=$1
  shift
  run_timed "$name" "$@" || { echo "$me: $name failed: $*" >&2; exit 1; }
  echo "$(tail -n 1 "$out/$name.times")"
}

echo "bench/many_hosts: $workers hosts x 1 slot on $cores cores, $(cpu_model)" >&2
text_data "$bytes" "$bytes bytes"
if has_section terasort; then
  tera=$data/tera-$tera_records
  if [[ ! -e $tera/_MANIFEST ]]; then
    echo "generating $tera_records TeraSort records in $tera ..." >&2
    "$jobs/teragen" --records "$tera_records" --parts 8 --seed 0 --output "$tera" --overwrite --progress never >/dev/null
  fi
fi

t0=$(now_ns)
"$sawmill" cluster up --dir "$cluster" --workers "$workers" --slots 1 --block_size $((block_mb << 20)) \
  --sync_blocks false >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; echo "$me: cluster up failed" >&2; exit 1; }
echo "cluster up: $workers hosts ($((2 * workers + 2)) processes) registered in $(secs_since "$t0") s"
t0=$(now_ns)
dfs put "$text" /bench/text.txt >/dev/null
if has_section fanin; then dfs put "$text" /bench/text2.txt >/dev/null; fi
if has_section terasort; then
  dfs mkdir /bench/tera >/dev/null
  for f in "$tera"/part-*; do dfs put "$f" /bench/tera/ >/dev/null; done
fi
echo "inputs stored in $(secs_since "$t0") s (bytes, replicated bytes): $(dfs du -s /bench)"

if has_section idle; then
  python3 "$sample" idle "$cluster" "$idle_s"
fi

if has_section namenode_rpc; then
  for t in 1 8; do
    "$sawmill" bench namenode-rpc --cluster "$cluster" --files $(( small ? 200 : 20000 )) --threads "$t"
  done
fi

flags=(--memory_mb 512 --overwrite --progress never)
# A task's merge factor as mapreduce/job_plan.cc derives it: its share of --memory_mb (a cluster
# task's share is memory / --threads, default 2) over 4 blocks of 64 KiB plus 64 KiB, within [2, 64].
merge_factor=$(( (512 << 20) / 2 / (4 * (64 << 10) + (64 << 10)) ))
(( merge_factor > 64 )) && merge_factor=64
if has_section wordcount; then
  wc_flags=(--reducers "$workers" --split_mb "$block_mb" "${flags[@]}")
  c=$(timed cluster_wc "$jobs/wordcount" --cluster "$cluster" --input dfs:/bench/text.txt --output dfs:/bench/wc "${wc_flags[@]}" --wait)
  l=$(timed local_wc "$jobs/wordcount" --input "$text" --output "$out/wc" "${wc_flags[@]}" --threads "$cores")
  echo "wordcount of $text_size bytes, $workers reducers: cluster $c s, local (--threads $cores) $l s"
  same wordcount /bench/wc "$out/wc"
fi

if has_section terasort; then
  ts_flags=(--reducers "$workers" --split_mb "$block_mb" "${flags[@]}")
  c=$(timed cluster_ts "$jobs/terasort" --cluster "$cluster" --input dfs:/bench/tera --output dfs:/bench/ts "${ts_flags[@]}" --wait)
  l=$(timed local_ts "$jobs/terasort" --input "$tera" --output "$out/ts" "${ts_flags[@]}" --threads "$cores")
  echo "terasort of $tera_records records, $workers reducers: cluster $c s, local (--threads $cores) $l s"
  same terasort /bench/ts "$out/ts"
fi

if has_section fanin; then
  fi_flags=(--reducers "$fanin_reducers" --split_mb "$fanin_split_mb" "${flags[@]}")
  python3 "$sample" watch "$cluster" "$out/fanin.json" &
  watcher=$!
  for ((i = 0; i < 100; i++)); do [[ -e $out/fanin.json.ready ]] && break; sleep 0.1; done
  [[ -e $out/fanin.json.ready ]] || { echo "$me: the sampler did not start" >&2; exit 1; }
  c=$(timed cluster_fi "$jobs/wordcount" --cluster "$cluster" --input dfs:/bench/text.txt,dfs:/bench/text2.txt \
        --output dfs:/bench/fi "${fi_flags[@]}" --wait)
  kill "$watcher"
  wait "$watcher" || true
  watcher=""
  maps=$(sed -n 's/.* maps=\([0-9]*\).*/\1/p' "$out/cluster_fi.log" | tail -n 1)
  l=$(timed local_fi "$jobs/wordcount" --input "$text,$text" --output "$out/fi" "${fi_flags[@]}" --threads "$cores")
  echo "fan-in: ${maps:-?} maps x $fanin_reducers reduces over 2 x $text_size bytes: cluster $c s, local $l s"
  python3 - "$out/fanin.json" "$workers" "$fanin_reducers" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
print(f"  most established connections at once: {m['connections']} to shuffle servers, {m['all_connections']} to any daemon")
print("  most connections one daemon served at once: " + ", ".join(f"{k} {v}" for k, v in sorted(m['per_daemon'].items())))
print(f"  most open files of one worker with its task processes: {m['worker_files']}; of all {int(sys.argv[2]) * 2 + 2} daemons with their tasks: {m['cluster_files']}")
print("  open-file limits: " + ", ".join(f"{k} {v}" for k, v in sorted(m['nofile_limits'].items())))
EOF
  # Daemons raise their soft open-file limit to the hard one (cli/daemon_util.h), whatever the
  # shell that started them had.
  if ! python3 -c 'import json, sys; sys.exit(any(v != int(sys.argv[2]) for v in json.load(open(sys.argv[1]))["nofile_limits"].values()))' \
       "$out/fanin.json" "$(ulimit -Hn)"; then
    echo "$me: a daemon's open-file limit is below the hard limit $(ulimit -Hn) (soft limit here: $(ulimit -Sn))" >&2
    exit 1
  fi
  # Segments per reduce, from the workers' logs; merge passes by ReduceFileCount's rule (groups of
  # the merge factor until at most that many files remain, then the final merge).
  fi_job=$(grep -o 'job-[0-9]*' "$out/cluster_fi.log" | head -n 1)
  grep -ho "attempt $fi_job/r-[0-9]*/[0-9]* holds its [0-9]* segments" "$cluster"/host*/worker/worker.log |
    awk -v f="$merge_factor" '
    { n = $5; c++; s += n; if (c == 1 || n < lo) lo = n; if (n > hi) hi = n }
    END { p = 1; m = hi; while (m > f) { m = int((m + f - 1) / f); p++ }
          printf "  segments per reduce attempt: %d attempts, min %d, mean %.0f, max %d; merge factor %d: %d merge pass(es)\n", c, lo, s / c, hi, f, p }'
  same fan-in /bench/fi "$out/fi"
fi

#!/usr/bin/env bash
# File store benchmark: `sawmill dfs put` and `get` of one file with replication 1 and 3 on a
# local 3-host cluster, beside `cp` and `cat > /dev/null` of the same bytes in the same run.
#
# Usage: bench/dfs.sh [--small] [--size_mb N] [--build DIR] [--work DIR] [--runs N]
#   --small    CI smoke size: 64 MiB, 1 run.  Default: 2048 MiB, 3 runs.
#   --work     where the data and the cluster live (default build/bench-dfs; removed after).
# Everything is warm in the page cache (the source file is read once first): this measures the
# store's CPU and copy costs, not the disk. get runs with the client on the datanodes' machine,
# so it reads replicas directly (short-circuit). Prints min and median seconds and MB/s
# (1 MB = 10^6 bytes) and the ratios against cp/cat on the medians. Targets: get (short-circuit)
# >= 70% of cat; put with replication 1 >= 50% of cp. Also: cat > file (a copy through user
# space; cp uses copy_file_range, a single in-kernel copy), and with fdatasync on: put against
# cp + sync.
set -euo pipefail
source "$(dirname "$0")/common.sh"

size_mb=""
bench_accepts="--small --build --work --runs"
while [[ $# -gt 0 ]]; do
  case $1 in
    --size_mb) size_mb=$2; shift 2 ;;
    *) bench_arg "$@"; shift "$nargs" ;;
  esac
done
if [[ $small -eq 1 ]]; then size_mb=${size_mb:-64}; runs=${runs:-1}; else size_mb=${size_mb:-2048}; runs=${runs:-3}; fi
positive "--size_mb and --runs want positive numbers" "$size_mb" "$runs"
sawmill=$build/sawmill
need_exec "run ./scripts/build release" "$sawmill"
fresh_work bench-dfs
cluster=$work/cluster
on_exit '"$sawmill" cluster down --dir "$cluster" >/dev/null 2>&1 || true; rm -rf "$work"'

src=$work/source.bin
head -c $((size_mb << 20)) /dev/urandom >"$src"
cat "$src" >/dev/null
bytes=$(stat -c %s "$src")
echo "bench/dfs: $size_mb MiB file, $runs run(s) per command, $(nproc) cores"
# Datanodes without fdatasync, like cp: both leave write-back to the kernel. The synced put is
# timed afterwards on a second cluster, beside cp + sync of the copy.
"$sawmill" cluster up --dir "$cluster" --workers 3 --sync_blocks false >/dev/null

# time_cmd NAME CMD...: runs CMD $runs times, prints min/median seconds, records the median.
# $after (a command, untimed) runs after each run.
declare -A median
after=true
time_cmd() {
  local name=$1; shift
  local times=()
  for ((i = 0; i < runs; i++)); do
    local t0 t1
    t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N)
    $after
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')")
  done
  local sorted
  sorted=$(printf '%s\n' "${times[@]}" | sort -g)
  local min med
  min=$(echo "$sorted" | head -1)
  med=$(echo "$sorted" | sed -n "$(((runs + 1) / 2))p")
  median[$name]=$med
  printf '%-22s min %7.3f s  median %7.3f s  %8.1f MB/s\n' "$name" "$min" "$med" "$(awk -v b="$bytes" -v t="$med" 'BEGIN { print b / t / 1e6 }')"
}

do_cp() { cp "$src" "$work/copy.bin"; rm -f "$work/copy.bin"; }
do_cat() { cat "$src" >/dev/null; }
# cp copies inside the kernel (copy_file_range); cat > file moves the bytes through user space
# once, as any streaming writer must: a second baseline for put.
do_catcopy() { cat "$src" >"$work/copy.bin"; rm -f "$work/copy.bin"; }
# Like the cp run, each put's file is removed before the next run, and (untimed) the run waits
# until the datanodes have deleted the replicas: removing a file drops its dirty pages, which
# otherwise would be written back during the next run. The get runs read a file put once more.
dfs() { "$sawmill" dfs --cluster "$cluster" "$@"; }
do_put() { dfs put --replication "$1" "$src" /bench/put; }
replicas_gone() {
  dfs rm /bench/put >/dev/null
  for ((w = 0; w < 300; w++)); do
    [[ -z $(find "$cluster" -path '*/blocks/finalized/*' -type f -print -quit) ]] && return 0
    sleep 0.1
  done
  echo "$me: replicas still on disk 30 s after rm" >&2
  return 1
}
do_get() { dfs get "/bench/r$1" - >/dev/null; }
put_for_get() { dfs put --replication "$1" "$src" "/bench/r$1"; }
cleanup_puts() { dfs rm --recursive /bench >/dev/null; }

time_cmd cp do_cp
time_cmd "cat >/dev/null" do_cat
time_cmd "cat > file" do_catcopy
after=replicas_gone
time_cmd "put replication 1" do_put 1
after=true
put_for_get 1
time_cmd "get replication 1" do_get 1
cleanup_puts
after=replicas_gone
time_cmd "put replication 3" do_put 3
after=true
put_for_get 3
time_cmd "get replication 3" do_get 3
cleanup_puts
"$sawmill" cluster down --dir "$cluster" >/dev/null
rm -rf "$cluster"
"$sawmill" cluster up --dir "$cluster" --workers 3 >/dev/null
do_cp_sync() { cp "$src" "$work/copy.bin"; sync "$work/copy.bin"; rm -f "$work/copy.bin"; }
time_cmd "cp + sync" do_cp_sync
after=replicas_gone
time_cmd "put r1 (fdatasync)" do_put 1
after=true
cleanup_puts

# ratio NAME BASE: NAME's throughput as a share of BASE's (medians).
ratio() { awk -v t="${median[$1]}" -v base="${median[$2]}" 'BEGIN { print base / t }'; }
printf 'put r1 / cp  = %.2f (target >= 0.50)\n' "$(ratio "put replication 1" cp)"
printf 'put r3 / cp  = %.2f\n' "$(ratio "put replication 3" cp)"
printf 'put r1 / cat > file = %.2f\n' "$(ratio "put replication 1" "cat > file")"
printf 'get r1 / cat = %.2f (target >= 0.70)\n' "$(ratio "get replication 1" "cat >/dev/null")"
printf 'get r3 / cat = %.2f\n' "$(ratio "get replication 3" "cat >/dev/null")"
printf 'put r1 (fdatasync) / cp + sync = %.2f\n' "$(ratio "put r1 (fdatasync)" "cp + sync")"

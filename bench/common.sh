# What the benchmark scripts share; each sources it right after its `set -euo pipefail` line
# (their --help prints the comment lines above that line): the options they have in common,
# build checks, the data and run directories, the cleanup at exit, timing helpers, and the peers
# Thrill and DuckDB.
export LC_ALL=C
root=$(cd "$(dirname "$0")/.." && pwd)
me=bench/$(basename "$0")

# The shared options' defaults; bench_arg sets them.
small=0
data=""
build=$root/build
runs=""
work=""
vocabulary=75000  # of the text that `sawmill gen text` makes for the benchmarks
thrill=${THRILL_EXAMPLES:-/tmp/peers/thrill-build/examples}  # the peer's examples/; "no": none

# bench_arg ARG [VALUE]: takes one of the shared options --small/--smoke, --data, --build,
# --runs, --work, --thrill if the script accepts it (bench_accepts lists the spellings it does),
# and -h/--help; anything else is an unknown argument (exit 2). Sets nargs to the words it took.
bench_arg() {
  if [[ " $bench_accepts -h --help " != *" $1 "* ]]; then
    echo "$me: unknown argument $1 (see --help)" >&2
    exit 2
  fi
  nargs=2
  case $1 in
    --small|--smoke) small=1; nargs=1 ;;
    --data) data=$2 ;;
    --build) build=$2 ;;
    --runs) runs=$2 ;;
    --work) work=$2 ;;
    --thrill) thrill=$2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  esac
}

# positive MESSAGE VALUE...: exits 2 with MESSAGE unless every VALUE is a positive integer.
positive() {
  local message=$1 v
  shift
  for v in "$@"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "$me: $message" >&2; exit 2; }
  done
}

# absolute_build [HINT]: BUILD as an absolute path; exits 1 if it is not a directory.
absolute_build() {
  local given=$build
  build=$(cd "$build" 2>/dev/null && pwd) || { echo "$me: no build directory $given${1:+ ($1)}" >&2; exit 1; }
}

# need_exec HINT FILE...: exits 1 naming the first FILE that is not executable, and HINT.
need_exec() {
  local hint=$1 f
  shift
  for f in "$@"; do
    [[ -x $f ]] || { echo "$me: missing $f ($hint)" >&2; exit 1; }
  done
}

# report_missing HINT: exits 1 naming everything in the array `missing`, and HINT, if it has
# anything.
report_missing() {
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "$me: missing ${missing[*]} ($1)" >&2
    exit 1
  fi
}

# default_data SMALL FULL: DATA defaults to BUILD/SMALL with --small, else BUILD/FULL.
default_data() {
  [[ -n $data ]] || { [[ $small -eq 1 ]] && data=$build/$1 || data=$build/$2; }
}

# data_dir: DATA made and absolute.
data_dir() {
  mkdir -p "$data"
  data=$(cd "$data" && pwd)
}

# fresh_work DEFAULT: WORK (default BUILD/DEFAULT) emptied, made and absolute.
fresh_work() {
  [[ -n $work ]] || work=$build/$1
  rm -rf "$work"
  mkdir -p "$work"
  work=$(cd "$work" && pwd)
}

# run_dir: data_dir, and out=DATA/run.XXXXXX for this run's outputs, removed at exit.
run_dir() {
  data_dir
  out=$(mktemp -d "$data/run.XXXXXX")
  on_exit 'rm -rf "$out"'
}

# on_exit CMD: at exit, also on INT or TERM, ends the timed command still running (child), then
# evaluates CMD.
child=""
on_exit() {
  at_exit=$1
  trap 'end_child; eval "$at_exit"' EXIT
  trap 'exit 130' INT TERM
}
end_child() {
  if [[ -n $child ]]; then
    kill "$child" 2>/dev/null && wait "$child" 2>/dev/null || true
  fi
}

# text_data BYTES WHAT: text=DATA/text.txt, BYTES of Zipf text (`sawmill gen text`, seed 1),
# generated unless its stamp matches and it is big enough (WHAT: its size as the progress line
# says it); sets text_size. The stamp is the same in every script, so they share the file.
text_data() {
  local stamp="gen text --bytes $1 --vocabulary $vocabulary --seed 1"
  text=$data/text.txt
  if [[ $(cat "$data/text.stamp" 2>/dev/null) != "$stamp" || $(file_size "$text") -lt $1 ]]; then
    echo "generating $2 of text in $text ..." >&2
    rm -f "$data/text.stamp"
    "$sawmill" gen text --bytes "$1" --vocabulary "$vocabulary" --seed 1 --output "$text"
    echo "$stamp" >"$data/text.stamp"
  fi
  text_size=$(file_size "$text")
}

# compile NAME: DATA/NAME from bench/NAME.c (cc -O2), unless its stamp has the source's hash;
# sets src_hash to that hash.
compile() {
  local src=$root/bench/$1.c bin=$data/$1
  src_hash=$(md5sum <"$src" | cut -c1-12)
  if [[ $(cat "$bin.stamp" 2>/dev/null) != "$src_hash" || ! -x $bin ]]; then
    rm -f "$bin.stamp"
    cc -O2 -o "$bin.tmp" "$src" -lm || { echo "$me: cc failed on $src" >&2; exit 1; }
    mv "$bin.tmp" "$bin"
    echo "$src_hash" >"$bin.stamp"
  fi
}

file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }
# Clock readings from bash itself: `date` is a process start, ~7 ms on our VMs, which the empty
# job's round trip (tens of ms) would otherwise include twice.
now_ns() { echo "${EPOCHREALTIME/[.,]/}000"; }
secs_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'; }
# summary_field LOG FIELD: FIELD's value on the last summary line a job printed into LOG.
summary_field() { sed -n "s/^summary .* $2=\([^ ]*\).*/\1/p" "$1" | tail -n 1; }
# stat_min, stat_median FILE: of the numbers in FILE, one a line.
stat_min() { sort -g "$1" | head -n 1; }
stat_median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cpu_model() { grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'; }

# run_timed NAME CMD...: runs CMD once, stdout to $out/NAME.log and stderr to $out/NAME.err, and
# appends its wall seconds to $out/NAME.times. CMD runs in the background, waited for, so that
# INT/TERM reach the trap at once (bash defers traps while a foreground child runs). If CMD
# fails: prints the last lines of both logs and returns 1.
run_timed() {
  local name=$1 t0 t1
  shift
  t0=${EPOCHREALTIME/[.,]/}
  "$@" >"$out/$name.log" 2>"$out/$name.err" &
  child=$!
  if ! wait "$child"; then
    child=""
    tail -n 20 "$out/$name.log" "$out/$name.err" >&2
    return 1
  fi
  t1=${EPOCHREALTIME/[.,]/}
  child=""
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e6 }' >>"$out/$name.times"
}

# peak_rss NAME CMD...: runs CMD (a program, not a function), under /usr/bin/time when there is
# one, which appends CMD's peak RSS in KB to $out/NAME.rss (a line per run).
peak_rss() {
  local name=$1
  shift
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -f %M -a -o "$out/$name.rss" "$@"
  else
    "$@"
  fi
}

# The peer engine Thrill (--thrill DIR: its build's examples/), one process with 2 worker threads;
# the scripts time it in its default configuration and its best: jemalloc on transparent huge pages.
thrill_best_conf="thp:always,metadata_thp:always"
thrill_absent="thrill: not available (build it with ../shared/peers/thrill/setup.sh; see docs/benchmarks.md)"
# thrill_has BIN...: whether every DIR/BIN (e.g. terasort/terasort) is executable (never with
# --thrill no).
thrill_has() {
  local b
  [[ $thrill != no ]] || return 1
  for b in "$@"; do [[ -x $thrill/$b ]] || return 1; done
}
# thrill_run [--rss NAME] BIN ARGS...: runs DIR/BIN locally, one process with 2 worker threads;
# with --rss, under peak_rss NAME.
thrill_run() {
  local rss=()
  [[ $1 != --rss ]] || { rss=(peak_rss "$2"); shift 2; }
  THRILL_LOCAL=1 THRILL_WORKERS_PER_HOST=2 "${rss[@]}" "$thrill/$1" "${@:2}"
}

# keep_field NAME FIELD EXT: appends FIELD of NAME's summary line to $out/NAME.EXT, if it has one.
keep_field() {
  local v
  v=$(summary_field "$out/$1.log" "$2")
  [[ -z $v ]] || echo "$v" >>"$out/$1.$3"
}

# The peer DuckDB (npm's @duckdb/node-api, installed under DATA/duckdb, never in the repo), run by
# node with a script of bench/ (join_duckdb.cjs, wordcount_duckdb.cjs).
duck_pkg="@duckdb/node-api@1.5.6-r.1"
# duckdb_setup MODE PREFIX: MODE auto: npm-installs duck_pkg into PREFIX unless PREFIX/stamp says it
# is there (npm's log: $out/npm.log, so after run_dir); no: skips DuckDB. Sets duck_prefix=PREFIX,
# duck_ok=1 if it can be run, else 0 and duck_note: "skipped (--duckdb no)" or "not available
# (WHY)"; and duck_version="" (the scripts read the version from their node script's output).
duckdb_setup() {
  duck_prefix=$2
  duck_note=""
  duck_ok=0
  duck_version=""
  if [[ $1 == no ]]; then
    duck_note="skipped (--duckdb no)"
  elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    duck_note="not available (no node/npm)"
  else
    if [[ $(cat "$duck_prefix/stamp" 2>/dev/null) != "$duck_pkg" ]]; then
      echo "installing $duck_pkg into $duck_prefix ..." >&2
      rm -rf "$duck_prefix"
      mkdir -p "$duck_prefix"
      if timeout 180 npm install --prefix "$duck_prefix" --no-audit --no-fund --loglevel=error "$duck_pkg" \
        >"$out/npm.log" 2>&1; then
        echo "$duck_pkg" >"$duck_prefix/stamp"
      else
        duck_note="not available (npm install $duck_pkg failed: $(grep -m1 -i 'err' "$out/npm.log" | cut -c1-100))"
      fi
    fi
    [[ -z $duck_note ]] && duck_ok=1
  fi
  return 0
}

#!/usr/bin/env bash
# Golden tests of the job binaries: each case generates seeded data, runs a job in local mode and
# compares its output with a coreutils oracle (GNU tr/sort/uniq/grep, all with LC_ALL=C).
#
# Usage: tests/jobs/golden_test.sh BUILD_DIR [CASE...]
#   CASE: wordcount terasort grep sort determinism memory badinput reducers (default: all of them)
# Prints one "ok" line per passed check; stops with "FAIL ..." and exit 1 at the first failure.
set -euo pipefail
export LC_ALL=C

if [[ $# -lt 1 ]]; then
  echo "usage: $0 BUILD_DIR [wordcount|terasort|grep|sort|determinism|memory|badinput|reducers]..." >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
shift
ALL_CASES=(wordcount terasort grep sort determinism memory badinput reducers)
CASES=("$@")
[[ ${#CASES[@]} -gt 0 ]] || CASES=("${ALL_CASES[@]}")

SAWMILL=$BUILD/sawmill
JOBS=$BUILD/jobs
for b in "$SAWMILL" "$JOBS"/{wordcount,grep,sort,teragen,terasort,teravalidate}; do
  [[ -x $b ]] || { echo "golden: missing binary $b (build with ./scripts/build release)" >&2; exit 1; }
done
for tool in tr sort uniq grep sed cmp python3; do
  command -v "$tool" >/dev/null || { echo "golden: needs $tool" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sawmill-golden.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

CASE=setup
fail() {
  echo "FAIL [$CASE] $*" >&2
  exit 1
}
ok() { echo "ok   [$CASE] $*"; }

# run_job JOB ARGS...: runs build/jobs/JOB without a progress line. Sets RC (exit status) and
# SUMMARY (its last summary line); stdout and stderr stay in $WORK/job.out and $WORK/job.err.
run_job() {
  local name=$1
  shift
  RC=0
  "$JOBS/$name" --progress=never "$@" >"$WORK/job.out" 2>"$WORK/job.err" || RC=$?
  SUMMARY=$(grep '^summary ' "$WORK/job.out" | tail -n 1) || SUMMARY=
}
# job JOB ARGS...: run_job, failing the test unless the job exits 0 with status=ok.
job() {
  run_job "$@"
  if [[ $RC -ne 0 || $SUMMARY != *" status=ok "* ]]; then
    tail -n 20 "$WORK/job.out" "$WORK/job.err" >&2
    fail "$* exited $RC"
  fi
}
# field NAME: a NAME=value field of $SUMMARY.
field() {
  local v
  v=$(sed -nE "s/.* $1=([^ ]+).*/\1/p" <<<"$SUMMARY")
  [[ -n $v ]] || fail "no $1= in summary line: $SUMMARY"
  echo "$v"
}
# same_file EXPECTED GOT WHAT: byte-for-byte comparison, with the first differing lines on failure.
same_file() {
  if ! cmp -s "$1" "$2"; then
    cmp "$1" "$2" >&2 || true
    diff <(head -c 2000000 "$1") <(head -c 2000000 "$2") 2>/dev/null | head -n 10 | cut -c 1-200 >&2 || true
    fail "$3: output differs from the oracle ($1 vs $2)"
  fi
}
# no_staging DIR: no hidden staging directory (.NAME.staging-*) left in DIR.
no_staging() {
  local left
  left=$(find "$1" -maxdepth 1 -name '.*.staging-*' | head -n 5)
  [[ -z $left ]] || fail "staging directory left behind: $left"
}
# flip_byte FILE OFFSET: inverts the bits of one byte in place.
flip_byte() {
  python3 - "$1" "$2" <<'EOF'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0xFF]))
EOF
}
# manifest_records DIR: the total record count of an output's _MANIFEST (its last recordCount).
manifest_records() {
  "$SAWMILL" manifest "$1" | sed -nE 's/^ *recordCount = ([0-9]+).*/\1/p' | tail -n 1
}
# wordcount_oracle INPUT: word<TAB>count lines in the `sawmill cat` escaping, sorted.
wordcount_oracle() {
  tr -s ' \t\r\n' '\n' <"$1" | grep -a -v '^$' | sort -S 256M | uniq -c |
    sed -E 's/^ *([0-9]+) (.*)$/\2\t\1/' | sed 's/\\/\\\\/g' | sort -S 256M
}

# --- a. wordcount ------------------------------------------------------------------------------
case_wordcount() {
  local d=$WORK/wordcount
  mkdir -p "$d"
  local in=$d/input.txt
  "$SAWMILL" gen text --bytes 3000000 --vocabulary 20000 --seed 11 --output "$in"
  {
    printf 'crlf line\r\nanother\tcrlf\r\nx\r\n\r\n'              # CRLF line ends
    printf '\n\n\n'                                                # empty lines
    printf '   \n\t\t \t\n \r \t\r\n'                              # only blanks
    printf 'ctl\x01\x02\x03\x04\x05\x06\x07\x08 \x01 \x08\x08\n'   # control bytes
    printf 'high\x80\x81 \xfe\xff \xff \x80 caf\xc3\xa9\n'         # bytes >= 0x80
    printf 'nul\0inside a\0b \0 \0\0 a\0b\n'                       # NUL bytes (the oracle handles them)
    printf 'back\\slash \\ \\\\ C:\\dir\\file trailing\\ \\t \\n\n' # backslashes
    printf 'the the the\n'
    head -c $((16 << 20)) /dev/zero | tr '\0' 'W'                  # one word of 16 MiB + 2 bytes
    printf 'XY\n'
    "$SAWMILL" gen text --bytes $(((16 << 20) + 4096)) --vocabulary 2000 --seed 12 | tr '\n' ' '
    printf '\n'                                                    # a 16 MiB line of many words
    printf 'words after the huge lines\n'
    printf 'last line\twithout newline'
  } >>"$in"
  wordcount_oracle "$in" >"$d/expected"
  local words
  words=$(wc -l <"$d/expected")
  ok "oracle: $words distinct words in $(($(stat -c %s "$in") >> 20)) MiB"
  local i=0 flags
  # The last one spills (the huge words are larger than the whole budget).
  for flags in "--reducers 1" "--reducers 3" "--reducers 7" "--reducers 3 --memory_mb 4"; do
    i=$((i + 1))
    # shellcheck disable=SC2086 # $flags is a list of flags
    job wordcount --input "$in" --output "$d/out$i" $flags --split_mb 1
    [[ $(field maps) -ge 30 ]] || fail "expected >= 30 map tasks with --split_mb 1, got $SUMMARY"
    [[ $(field records_out) -eq $words ]] || fail "records_out=$(field records_out), oracle has $words words"
    "$SAWMILL" cat "$d/out$i" | sort -S 256M >"$d/got$i"
    same_file "$d/expected" "$d/got$i" "wordcount $flags"
    [[ $(manifest_records "$d/out$i") -eq $words ]] || fail "_MANIFEST recordCount differs from $words"
    ok "wordcount $flags --split_mb 1: $words words match the tr|sort|uniq -c oracle ($(field maps) maps, spills=$(field spills), $(field seconds) s)"
  done
  [[ $(field spills) -gt 0 ]] || fail "wordcount --memory_mb 4 did not spill"
}

# --- b. terasort -------------------------------------------------------------------------------
case_terasort() {
  local d=$WORK/terasort
  mkdir -p "$d"
  job teragen --records 200000 --parts 3 --output "$d/gen"
  cat "$d"/gen/part-* | sort -S 256M >"$d/expected"
  job terasort --input "$d/gen" --output "$d/out" --reducers 4 --memory_mb 16 --split_mb 4
  [[ $(field records_out) -eq 200000 ]] || fail "records_out: $SUMMARY"
  "$SAWMILL" cat --format raw "$d/out" >"$d/got"
  same_file "$d/expected" "$d/got" "terasort"
  ok "terasort --reducers 4 --memory_mb 16 --split_mb 4: 200000 records equal LC_ALL=C sort byte for byte"

  job teravalidate --input "$d/out" --output "$d/report" --reference "$d/gen"
  grep -q '^teravalidate: PASS$' "$WORK/job.out" || fail "teravalidate did not print PASS"
  ok "teravalidate --reference passes"

  # Negative: swap two parts, so the order across parts breaks.
  cp -r "$d/out" "$d/swapped"
  mv "$d/swapped/part-00000" "$d/swapped/tmp"
  mv "$d/swapped/part-00001" "$d/swapped/part-00000"
  mv "$d/swapped/tmp" "$d/swapped/part-00001"
  run_job teravalidate --input "$d/swapped" --output "$d/report-swapped" --reference "$d/gen"
  [[ $RC -eq 1 ]] || fail "teravalidate on swapped parts exited $RC, want 1"
  grep -q '^teravalidate: FAIL$' "$WORK/job.out" || fail "teravalidate on swapped parts did not print FAIL"
  grep -q 'below the previous split' "$WORK/job.err" || fail "teravalidate did not report the order problem"
  ok "teravalidate fails (exit 1) on an output with part-00000 and part-00001 swapped"

  # Negative: sorted, but not the records of the reference.
  job teragen --records 200000 --parts 1 --seed 99 --output "$d/other"
  run_job teravalidate --input "$d/out" --output "$d/report-other" --reference "$d/other"
  [[ $RC -eq 1 ]] || fail "teravalidate against another reference exited $RC, want 1"
  grep -q 'MISMATCH' "$WORK/job.out" || fail "teravalidate did not report a checksum MISMATCH"
  ok "teravalidate fails (exit 1) against a reference with other records"
}

# --- c. grep -----------------------------------------------------------------------------------
case_grep() {
  local d=$WORK/grep
  mkdir -p "$d"
  "$SAWMILL" gen logs --lines 40000 --seed 1 --output "$d/a.log"
  "$SAWMILL" gen logs --lines 30000 --seed 2 --output "$d/b.log"
  {
    printf '2026-11-23T01:00:00Z host1 GET /cart 500 9ms user=alice\r\n'
    printf '\r\n\n\n'
    printf 'nul\0 GET /login 404 \0 user=bob\n'
    printf 'high \x80\xff GET /cart 503 user=carol\n'
    head -c $((3 << 20)) /dev/zero | tr '\0' 'x'  # a 3 MiB line: crosses 1 MiB splits
    printf ' GET /cart 500 user=bob\n'
    printf 'user=alice\n'
    printf 'escaped /index.html and /indexXhtml\n'
    printf 'lower case get /cart and USER=alice\n'
    printf '2026-11-23T02:00:00Z host3 POST / 404 1ms user=bob'  # no final newline
  } >"$d/edge.txt"
  # Given order, not name order; edge.txt (no final newline) sits between the two logs.
  local inputs="$d/b.log,$d/edge.txt,$d/a.log"
  local files=("$d/b.log" "$d/edge.txt" "$d/a.log")
  # One pattern per line. Note: glibc regexec's '.' does not match NUL while GNU grep's does, so
  # no pattern here puts '.' against the NUL bytes of edge.txt.
  cat >"$d/patterns" <<'EOF'
 (404|500) 
^2026-11-23T0[0-3]:[0-5][0-9]:[0-5][0-9]Z host[13] 
user=(alice|bob)$
GET /(cart|login) 5[0-9]{2}
get /|USER=
/index\.html
^$
[^[:print:]]
no-such-path-[0-9]+
EOF
  # grep_count PATTERN FILE...: matching lines in all files (grep -c exits 1 on no match).
  grep_count() {
    local pat=$1
    shift
    { grep -a -c -E -- "$pat" "$@" || true; } | awk -F: '{ s += $NF } END { print s + 0 }'
  }
  local p n expected_counts=""
  while IFS= read -r p; do
    n=$(grep_count "$p" "${files[@]}")
    expected_counts+="${p//\\/\\\\}"$'\t'"$n"$'\n'
  done <"$d/patterns"
  printf '%s' "$expected_counts" | sort >"$d/expected-counts"
  job grep --patterns_file "$d/patterns" --input "$inputs" --output "$d/counts" --split_mb 1 --reducers 2
  "$SAWMILL" cat "$d/counts" | sort >"$d/got-counts"
  same_file "$d/expected-counts" "$d/got-counts" "grep counts"
  ok "grep counts of $(wc -l <"$d/patterns") patterns match grep -a -c -E: $(tr '\n' ' ' <"$d/got-counts" | tr '\t' '=')"
  grep -q $'^no-such-path-\\[0-9\\]+\t0$' "$d/got-counts" || fail "no zero count for the pattern matching nothing"

  # One pattern at a time, each a separate job.
  for p in 'no-such-path-[0-9]+' '^2026-11-23T0[0-3]:[0-5][0-9]:[0-5][0-9]Z host[13] ' 'POST|DELETE|user=carol'; do
    n=$(grep_count "$p" "${files[@]}")
    job grep --pattern "$p" --input "$inputs" --output "$d/one" --overwrite
    printf '%s\t%s\n' "$p" "$n" >"$d/expected-one"
    "$SAWMILL" cat "$d/one" >"$d/got-one"
    same_file "$d/expected-one" "$d/got-one" "grep --pattern '$p'"
    ok "grep --pattern '$p': $n lines"
  done

  # --lines: matching lines, input files in the given order, lines in file order.
  grep -a -h -E -f "$d/patterns" "${files[@]}" >"$d/expected-lines"
  job grep --lines --patterns_file "$d/patterns" --input "$inputs" --output "$d/lines" --split_mb 1
  [[ $(field maps) -ge 7 ]] || fail "expected >= 7 map tasks with --split_mb 1: $SUMMARY"
  "$SAWMILL" cat --format keys "$d/lines" >"$d/got-lines"
  same_file "$d/expected-lines" "$d/got-lines" "grep --lines"
  ok "grep --lines --split_mb 1 over 3 files: $(wc -l <"$d/got-lines") lines equal grep -a -h -E byte for byte"
  p='user=(alice|bob)$|GET /cart 500'
  grep -a -h -E -- "$p" "${files[@]}" >"$d/expected-lines2"
  job grep --lines --pattern "$p" --input "$inputs" --output "$d/lines2" --split_mb 1 --threads 1
  "$SAWMILL" cat --format keys "$d/lines2" >"$d/got-lines2"
  same_file "$d/expected-lines2" "$d/got-lines2" "grep --lines --pattern"
  ok "grep --lines --pattern '$p': $(wc -l <"$d/got-lines2") lines equal grep -a -h -E"
}

# --- d. sort -----------------------------------------------------------------------------------
case_sort() {
  local d=$WORK/sort
  mkdir -p "$d"
  # One word per line (many duplicates), empty lines, blanks, CRs, tabs, control/high/NUL bytes.
  "$SAWMILL" gen text --bytes 2500000 --vocabulary 3000 --seed 21 | tr ' ' '\n' >"$d/a.txt"
  {
    printf '\n\n\n\n'
    printf ' \n  \n\t\n \t \n'
    printf 'crlf\r\ncrlf\r\n\r\n'
    printf 'a\tb\na\tb\na\t\n'
    printf 'nul\0x\nnul\0x\n\0\n\0\0\n'
    printf '\x01\n\x7f\n\x80\n\xff\n\xff\xfe\n'
    printf 'back\\slash\n\\\n'
    head -c $((2 << 20)) /dev/zero | tr '\0' 'm'
    printf '\n'
    printf 'no final newline'
  } >"$d/b.txt"
  "$SAWMILL" gen text --bytes 1500000 --vocabulary 3000 --seed 22 >"$d/c.txt"
  # b.txt has no final newline: the oracle must see it as its own line.
  { cat "$d/a.txt" "$d/b.txt"; printf '\n'; cat "$d/c.txt"; } | sort -S 256M >"$d/expected"
  job sort --input "$d/a.txt,$d/b.txt,$d/c.txt" --output "$d/out" --reducers 3 --split_mb 1
  local lines
  lines=$(wc -l <"$d/expected")
  [[ $(field records_out) -eq $lines ]] || fail "records_out=$(field records_out), want $lines"
  "$SAWMILL" cat --format keys "$d/out" >"$d/got"
  same_file "$d/expected" "$d/got" "sort"
  local p n nonempty=0 sizes=""
  for p in "$d"/out/part-*; do
    n=$("$SAWMILL" cat --format keys "$p" | wc -l)
    sizes+=" $n"
    [[ $n -eq 0 ]] || nonempty=$((nonempty + 1))
  done
  [[ $nonempty -ge 2 ]] || fail "range partitioning put everything into one part:$sizes"
  ok "sort --reducers 3 --split_mb 1: $lines lines (parts:$sizes) equal LC_ALL=C sort"

  # --input_format records: re-sorting another job's output by key.
  job wordcount --input "$d/b.txt,$d/c.txt" --output "$d/wc" --reducers 3
  "$SAWMILL" cat --format keys "$d/wc" | sort >"$d/expected-keys"
  job sort --input_format records --input "$d/wc" --output "$d/wc-sorted" --reducers 2
  "$SAWMILL" cat --format keys "$d/wc-sorted" >"$d/got-keys"
  same_file "$d/expected-keys" "$d/got-keys" "sort --input_format records"
  "$SAWMILL" cat "$d/wc" | sort >"$d/wc.txt"
  "$SAWMILL" cat "$d/wc-sorted" | sort >"$d/wc-sorted.txt"
  same_file "$d/wc.txt" "$d/wc-sorted.txt" "sort --input_format records (values)"
  ok "sort --input_format records: wordcount output re-sorted by key, values kept"
}

# --- e. determinism ----------------------------------------------------------------------------
# check_regime REGIME: asserts the spill count of $SUMMARY fits none | few | many.
check_regime() {
  local spills maps
  spills=$(field spills)
  maps=$(field maps)
  case $1 in
    none) [[ $spills -eq 0 ]] ;;
    few) [[ $spills -ge 1 && $spills -le $((2 * maps)) ]] ;;
    many) [[ $spills -ge $((3 * maps)) ]] ;;
  esac || fail "expected $1 spills (none: 0, few: 1..2 per map, many: >= 3 per map), got spills=$spills maps=$maps"
}
# same_output REF DIR: every part file and the _MANIFEST byte-identical.
same_output() {
  local f n=0
  for f in "$1"/*; do
    cmp -s "$f" "$2/$(basename "$f")" || fail "$2/$(basename "$f") differs from $f"
    n=$((n + 1))
  done
  [[ $(ls "$2" | wc -l) -eq $n ]] || fail "$2 has other files than $1"
}
# determinism JOB INPUT_ARGS... -- "REGIME:MB_PER_THREAD"...: runs JOB for --threads 1,2,4 and
# each memory regime (--memory_mb = MB_PER_THREAD * threads, so spill counts agree across
# thread counts) and checks all outputs are byte-identical.
determinism() {
  local name=$1 d=$2
  shift 2
  local args=()
  while [[ $1 != -- ]]; do args+=("$1"); shift; done
  shift
  local ref="" t spec regime per out spills line=""
  for spec in "$@"; do
    regime=${spec%%:*}
    per=${spec#*:}
    spills=""
    for t in 1 2 4; do
      out=$d/$name-$regime-t$t
      job "$name" "${args[@]}" --output "$out" --threads "$t" --memory_mb $((per * t))
      check_regime "$regime"
      [[ -z $spills || $spills -eq $(field spills) ]] || fail "spills differ across --threads at the same per-thread memory"
      spills=$(field spills)
      if [[ -z $ref ]]; then ref=$out; else same_output "$ref" "$out"; fi
    done
    line+=" $regime(--memory_mb $per/thread: spills=$spills)"
  done
  ok "$name outputs byte-identical (parts + _MANIFEST) over --threads 1,2,4 x$line"
  DETERMINISM_REF=$ref
}
# split_invariance JOB REF ARGS... -- SPLIT_MB...: a reduce job's output does not depend on
# --split_mb either (total-order sampling does not follow the splits).
split_invariance() {
  local name=$1 ref=$2 mb maps=""
  shift 2
  local args=()
  while [[ $1 != -- ]]; do args+=("$1"); shift; done
  shift
  for mb in "$@"; do
    job "$name" "${args[@]}" --output "$ref-split$mb" --split_mb "$mb"
    same_output "$ref" "$ref-split$mb"
    maps+=" $(field maps)"
  done
  ok "$name outputs byte-identical with --split_mb $* (maps:$maps)"
}
case_determinism() {
  local d=$WORK/determinism
  mkdir -p "$d"
  "$SAWMILL" gen text --bytes 8000000 --vocabulary 500000 --seed 31 --output "$d/text"
  determinism wordcount "$d" --input "$d/text" --reducers 3 --split_mb 3 -- none:256 few:16 many:1
  split_invariance wordcount "$DETERMINISM_REF" --input "$d/text" --reducers 3 -- 1 8
  job teragen --records 200000 --parts 3 --output "$d/gen"
  determinism terasort "$d" --input "$d/gen" --reducers 4 --split_mb 4 -- none:64 few:6 many:1
  split_invariance terasort "$DETERMINISM_REF" --input "$d/gen" --reducers 4 -- 1 16
}

# --- f. memory ---------------------------------------------------------------------------------
case_memory() {
  local d=$WORK/memory
  mkdir -p "$d"
  local records=2000000 memory_mb=8 overhead_mb=48
  job teragen --records "$records" --parts 4 --output "$d/gen"
  local bytes=$((records * 100))
  [[ $bytes -ge $((20 * memory_mb << 20)) ]] || fail "input $bytes bytes is not 20x --memory_mb $memory_mb"
  job terasort --input "$d/gen" --output "$d/out" --memory_mb "$memory_mb" --reducers 2 --threads 2
  local rss
  rss=$(field peak_rss_mb)
  [[ $(field spills) -gt 1 ]] || fail "expected spills with --memory_mb $memory_mb: $SUMMARY"
  [[ $rss -le $((memory_mb + overhead_mb)) ]] ||
    fail "peak_rss_mb=$rss exceeds --memory_mb $memory_mb + $overhead_mb MiB"
  ok "terasort of $((bytes / 1000000)) MB ($((bytes / (memory_mb << 20)))x --memory_mb $memory_mb): peak_rss_mb=$rss (limit $((memory_mb + overhead_mb))), spills=$(field spills), $(field seconds) s"
  job teravalidate --input "$d/out" --output "$d/report" --reference "$d/gen"
  grep -q '^teravalidate: PASS$' "$WORK/job.out" || fail "teravalidate did not pass"
  ok "teravalidate --reference passes on the low-memory output"
}

# --- g. bad input ------------------------------------------------------------------------------
case_badinput() {
  local d=$WORK/badinput
  mkdir -p "$d"
  "$SAWMILL" gen text --bytes 2000000 --vocabulary 50000 --seed 41 --output "$d/in.txt"
  "$SAWMILL" gen text --bytes 100000 --vocabulary 100 --seed 42 --output "$d/in2.txt"

  # Missing input.
  run_job wordcount --input "$d/in.txt,$d/does-not-exist.txt" --output "$d/o-missing"
  [[ $RC -eq 2 ]] || fail "missing input: exit $RC, want 2"
  grep -q "$d/does-not-exist.txt" "$WORK/job.err" || fail "missing input: path not in stderr: $(cat "$WORK/job.err")"
  [[ ! -e $d/o-missing ]] || fail "missing input: output was created"
  no_staging "$d"
  ok "missing input: exit 2, stderr names the path"

  # Bad flags are usage errors too.
  run_job wordcount --input "$d/in.txt" --output "$d/o-flag" --bogus_flag
  [[ $RC -eq 2 ]] || fail "unknown flag: exit $RC, want 2"
  run_job wordcount --input "$d/in.txt" --output "$d/o-flag" --threads=abc
  [[ $RC -eq 2 ]] || fail "bad flag value: exit $RC, want 2"
  grep -q "threads" "$WORK/job.err" || fail "bad flag value: flag not named: $(cat "$WORK/job.err")"
  ok "unknown flag and bad flag value: exit 2"

  # Existing output: refused without --overwrite, replaced with it.
  job wordcount --input "$d/in.txt" --output "$d/out" --reducers 2
  cp "$d/out/_MANIFEST" "$d/manifest-before"
  run_job wordcount --input "$d/in2.txt" --output "$d/out" --reducers 2
  [[ $RC -eq 2 ]] || fail "existing output: exit $RC, want 2"
  grep -q 'exists' "$WORK/job.err" || fail "existing output: no 'exists' in stderr"
  cmp -s "$d/manifest-before" "$d/out/_MANIFEST" || fail "existing output was modified"
  no_staging "$d"
  ok "existing output: exit 2 without --overwrite, output untouched"
  job wordcount --input "$d/in2.txt" --output "$d/out" --reducers 2 --overwrite
  wordcount_oracle "$d/in2.txt" >"$d/expected2"
  "$SAWMILL" cat "$d/out" | sort >"$d/got2"
  same_file "$d/expected2" "$d/got2" "wordcount --overwrite"
  no_staging "$d"
  ok "--overwrite replaces the output ($(wc -l <"$d/got2") words of the new input)"

  # Empty input file.
  : >"$d/empty.txt"
  local name
  for name in wordcount sort; do
    job "$name" --input "$d/empty.txt" --output "$d/empty-$name" --reducers 2
    [[ -f $d/empty-$name/_MANIFEST ]] || fail "empty input: no _MANIFEST from $name"
    [[ $(manifest_records "$d/empty-$name") == 0 ]] || fail "empty input: $name manifest recordCount is not 0"
    [[ -z $("$SAWMILL" cat "$d/empty-$name") ]] || fail "empty input: $name output has records"
  done
  job grep --lines --pattern x --input "$d/empty.txt" --output "$d/empty-grep"
  [[ $(manifest_records "$d/empty-grep") == 0 ]] || fail "empty input: grep --lines manifest recordCount is not 0"
  ok "empty input: wordcount, sort and grep --lines write an empty output with a _MANIFEST (recordCount 0)"

  # Corrupted part file.
  job wordcount --input "$d/in.txt" --output "$d/good" --reducers 1
  job sort --input_format records --input "$d/good" --output "$d/sorted-good"
  cp -r "$d/good" "$d/bad"
  local part=$d/bad/part-00000 size
  size=$(stat -c %s "$part")
  [[ $size -gt 200000 ]] || fail "part file too small ($size bytes) to hold several blocks"
  flip_byte "$part" $((size / 2))
  local rc=0
  "$SAWMILL" cat "$d/bad" >/dev/null 2>"$d/cat.err" || rc=$?
  [[ $rc -ne 0 ]] || fail "sawmill cat of a corrupted part exited 0"
  grep -q 'part-00000' "$d/cat.err" && grep -q 'offset' "$d/cat.err" ||
    fail "sawmill cat error does not name the file and offset: $(cat "$d/cat.err")"
  ok "corrupted part: sawmill cat exits $rc: $(head -n 1 "$d/cat.err")"
  run_job sort --input_format records --input "$d/bad" --output "$d/sorted-bad"
  [[ $RC -eq 1 ]] || fail "sort of a corrupted input: exit $RC, want 1"
  grep -q "$part" "$WORK/job.err" || fail "sort error does not name $part: $(cat "$WORK/job.err")"
  [[ ! -e $d/sorted-bad ]] || fail "failed sort left an output directory"
  no_staging "$d"
  ok "corrupted part as --input: sort exits 1 naming the file, no output, no staging dir"
  cp "$d/sorted-good/_MANIFEST" "$d/manifest-good"
  run_job sort --input_format records --input "$d/bad" --output "$d/sorted-good" --overwrite
  [[ $RC -eq 1 ]] || fail "sort --overwrite of a corrupted input: exit $RC, want 1"
  cmp -s "$d/manifest-good" "$d/sorted-good/_MANIFEST" || fail "failed --overwrite job changed the old output"
  "$SAWMILL" cat "$d/sorted-good" >/dev/null || fail "old output unreadable after a failed --overwrite job"
  no_staging "$d"
  ok "failed job with --overwrite: exit 1, old output kept intact, no staging dir"
}

# --- h. reducers -------------------------------------------------------------------------------
# An explicit --reducers is kept exactly; without it the job chooses one per thread, but no
# reduce under 64 MiB of input (so 1 here), and says so in the summary line and the _MANIFEST.
case_reducers() {
  local d=$WORK/reducers text
  mkdir -p "$d"
  "$SAWMILL" gen text --bytes 200000 --vocabulary 3000 --seed 21 --output "$d/in.txt"
  wordcount_oracle "$d/in.txt" >"$d/expected"
  parts_of() { find "$1" -maxdepth 1 -name 'part-*' | wc -l; }

  job wordcount --input "$d/in.txt" --output "$d/three" --reducers 3 --threads 2
  [[ $(parts_of "$d/three") -eq 3 && $(field reduces) -eq 3 && $(field reducers) -eq 3 ]] ||
    fail "--reducers 3: $(parts_of "$d/three") parts, summary: $SUMMARY"
  [[ $SUMMARY != *reducers_auto=* ]] || fail "--reducers 3 reported as automatic: $SUMMARY"
  text=$("$SAWMILL" manifest "$d/three")
  grep -q 'numPartitions = 3' <<<"$text" && grep -q 'reducersAuto = false' <<<"$text" ||
    fail "--reducers 3: _MANIFEST: $text"
  "$SAWMILL" cat "$d/three" | sort -S 256M >"$d/got3"
  same_file "$d/expected" "$d/got3" "wordcount --reducers 3"
  ok "--reducers 3: 3 parts, summary reducers=3, _MANIFEST numPartitions = 3, reducersAuto = false"

  job wordcount --input "$d/in.txt" --output "$d/one" --reducers 1 --threads 4
  [[ $(parts_of "$d/one") -eq 1 && $(field reducers) -eq 1 && $SUMMARY != *reducers_auto=* ]] ||
    fail "--reducers 1 --threads 4: $(parts_of "$d/one") parts, summary: $SUMMARY"
  ok "--reducers 1 --threads 4: 1 part, not automatic"

  job wordcount --input "$d/in.txt" --output "$d/auto" --threads 2
  [[ $(parts_of "$d/auto") -eq 1 && $(field reduces) -eq 1 && $(field reducers) -eq 1 ]] ||
    fail "default --reducers on $(stat -c %s "$d/in.txt") bytes: $(parts_of "$d/auto") parts, summary: $SUMMARY"
  [[ $(field reducers_auto) == 2threads/* ]] || fail "default --reducers: no reducers_auto=2threads/...: $SUMMARY"
  text=$("$SAWMILL" manifest "$d/auto")
  grep -q 'numPartitions = 1' <<<"$text" && grep -q 'reducersAuto = true' <<<"$text" ||
    fail "default --reducers: _MANIFEST: $text"
  cmp -s "$d/one/part-00000" "$d/auto/part-00000" || fail "default and --reducers 1 parts differ"
  ok "default --reducers on a small input: 1 reduce ($(field reducers_auto)), reducersAuto = true in the _MANIFEST, the part as --reducers 1's"

  "$JOBS/wordcount" --help | grep -A1 -- '--reducers (int32) default: 0' | grep -q 'one per slot' ||
    fail "wordcount --help does not document the --reducers default"
  ok "--help: --reducers default 0 (one per slot)"
}

for CASE in "${CASES[@]}"; do
  [[ " ${ALL_CASES[*]} " == *" $CASE "* ]] || { echo "golden: unknown case '$CASE'" >&2; exit 2; }
  start=$SECONDS
  "case_$CASE"
  echo "ok   [$CASE] all checks passed ($((SECONDS - start)) s)"
done

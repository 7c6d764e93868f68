#!/usr/bin/env bash
# Out-of-tree job test: installs a built Sawmill into a temp prefix, builds examples/out_of_tree
# against it (find_package(Sawmill), Sawmill::api) from a copy outside the repository, runs the
# job in local mode and compares its output, read with `sawmill cat`, with an awk oracle; then
# submits it to a 2-worker cluster and checks that the cluster output equals local mode's.
#
# Usage: tests/install/out_of_tree_test.sh BUILD_DIR
#   BUILD_DIR: a configured Sawmill build with sawmill_api and the `sawmill` CLI built.
# Prints one "ok" line per passed check; stops with "FAIL ..." and exit 1 at the first failure.
set -euo pipefail
export LC_ALL=C

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SAWMILL=$BUILD/sawmill

fail() {
  echo "FAIL $*" >&2
  exit 1
}
ok() { echo "ok   $*"; }

[[ -x $SAWMILL ]] || fail "missing $SAWMILL (build the sawmill target)"
for tool in cmake c++ awk sort cmp python3; do
  command -v "$tool" >/dev/null || fail "needs $tool"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sawmill-install.XXXXXX")
cleanup() {
  [[ -f $WORK/cluster/cluster.json ]] && "$SAWMILL" cluster down --dir "$WORK/cluster" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
PREFIX=$WORK/prefix

# --- 1. Install -------------------------------------------------------------------------------
cmake --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log" 2>&1 ||
  { cat "$WORK/install.log" >&2; fail "cmake --install $BUILD exited non-zero"; }
for f in lib/cmake/Sawmill/SawmillConfig.cmake lib/cmake/Sawmill/SawmillTargets.cmake \
         lib/libsawmill_api.a include/api/mapreduce.h include/api/codec.h; do
  [[ -f $PREFIX/$f ]] || fail "install: $f missing under the prefix"
done
ok "install: package, libraries and headers under the prefix"

# --- 1b. The installed sawmill finds the installed jobs ----------------------------------------
[[ -x $PREFIX/libexec/sawmill/jobs/wordcount ]] || fail "install: libexec/sawmill/jobs/wordcount missing"
printf 'b a b\n' >"$WORK/words.txt"
"$PREFIX/bin/sawmill" run wordcount --input "$WORK/words.txt" --output "$WORK/installed-run" --progress never \
  >"$WORK/run.log" 2>&1 || { cat "$WORK/run.log" >&2; fail "installed sawmill run wordcount"; }
[[ $("$PREFIX/bin/sawmill" cat "$WORK/installed-run") == $'a\t1\nb\t2' ]] || fail "installed sawmill run: wrong output"
printf '{"jobs": [{"name": "w", "binary": "wordcount", "inputs": ["%s"], "output": "dataset:w",
  "check": ["sawmill", "manifest", "{version}"]}]}\n' "$WORK/words.txt" >"$WORK/p.json"
"$PREFIX/bin/sawmill" pipeline run "$WORK/p.json" --store "$WORK/store" --promote >"$WORK/pipeline.log" 2>&1 ||
  { cat "$WORK/pipeline.log" >&2; fail "installed sawmill pipeline run"; }
ok "install: the installed sawmill runs the installed jobs (run, and a pipeline with a check)"

# --- 2. Installed headers: self-contained within the prefix, no Asio --------------------------
mapfile -t HEADERS < <(cd "$PREFIX/include" && find . -name '*.h' | sed 's|^\./||' | sort)
[[ ${#HEADERS[@]} -gt 0 ]] || fail "headers: none installed"
if grep -nE '#[[:space:]]*include[[:space:]]*[<"](boost/|asio)' "${HEADERS[@]/#/$PREFIX/include/}"; then
  fail "headers: an installed header includes Boost/Asio"
fi
for h in "${HEADERS[@]}"; do
  # Only the prefix on the include path: a quoted include of an uninstalled repo header fails.
  echo "#include \"$h\"" | c++ -std=c++20 -fsyntax-only -I"$PREFIX/include" -x c++ - 2>"$WORK/hdr.err" ||
    { cat "$WORK/hdr.err" >&2; fail "headers: $h does not compile on its own against the prefix"; }
done
ok "headers: ${#HEADERS[@]} installed, each compiles alone against the prefix, none includes Asio"

# --- 3. Build the example from a copy outside the repository ----------------------------------
cp -r "$SRC/examples/out_of_tree" "$WORK/src"
CONFIG_ARGS=(-S "$WORK/src" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=$PREFIX"
             -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
command -v ninja >/dev/null && CONFIG_ARGS+=(-G Ninja)
if command -v ccache >/dev/null; then
  CONFIG_ARGS+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=$WORK  # temp paths become relative, so reruns hit the cache
fi
# Link with mold when the main build does (its top-level CMakeLists uses mold when found).
if grep -qE '^MOLD:FILEPATH=/' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  CONFIG_ARGS+=(-DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=mold)
fi
cmake "${CONFIG_ARGS[@]}" >"$WORK/configure.log" 2>&1 ||
  { cat "$WORK/configure.log" >&2; fail "example: configure against $PREFIX failed"; }
cmake --build "$WORK/build" >"$WORK/build.log" 2>&1 ||
  { tail -n 40 "$WORK/build.log" >&2; fail "example: build failed"; }
JOB=$WORK/build/word_lengths
[[ -x $JOB ]] || fail "example: no word_lengths binary"
# The job must not have reached into the source tree for headers.
if grep -q -- "-I$SRC\b\|-isystem $SRC\b" "$WORK/build.log" "$WORK/build/compile_commands.json" 2>/dev/null; then
  fail "example: compiled with the Sawmill source tree on the include path"
fi
ok "example: configured with find_package(Sawmill) and built"

# --- 4. Input: seeded words of lengths 1..90, mixed separators, UTF-8 bytes -------------------
python3 - "$WORK/input.txt" <<'EOF'
import random, sys
rng = random.Random(20240611)
alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;-'\xc3\xa9\xe2\x82\xac"
seps = [b" ", b"  ", b"\t", b" \t ", b"\r "]
with open(sys.argv[1], "wb") as out:
    size = 0
    while size < 1_300_000:  # > 1 MiB: two map splits with --split_mb 1
        words = []
        for _ in range(rng.randint(0, 14)):
            n = rng.choice([rng.randint(1, 12), rng.randint(1, 12), rng.randint(1, 90)])
            words.append(bytes(rng.choice(alphabet) for _ in range(n)))
        line = b""
        for w in words:
            line += rng.choice(seps) + w if line or rng.random() < 0.2 else w
        if rng.random() < 0.1:
            line += b"\r"
        out.write(line + b"\n")
        size += len(line) + 1
EOF
ok "input: $(wc -c <"$WORK/input.txt") bytes, $(wc -l <"$WORK/input.txt") lines"

# oracle BUCKET: "LOW<TAB>COUNT" per bucket, sorted, and the count of words over 64 bytes in
# $WORK/oracle.long. awk splits fields on runs of blanks; CRs become blanks first. LC_ALL=C:
# length() counts bytes.
oracle() {
  awk -v b="$1" -v long="$WORK/oracle.long" '
    { gsub(/\r/, " ")
      for (i = 1; i <= NF; i++) { n = length($i); h[int(n / b) * b]++; if (n > 64) over++ }
    }
    END { for (k in h) printf "%08d\t%d\n", k, h[k]; print over + 0 > long }' "$WORK/input.txt" | sort
}

# --- 5. Run the job in local mode and compare ---------------------------------------------------
for bucket in 1 7; do
  out=$WORK/out-$bucket
  rc=0
  "$JOB" --input "$WORK/input.txt" --output "$out" --bucket "$bucket" --split_mb 1 --reducers 2 \
    --threads 2 --progress=never >"$WORK/job.out" 2>"$WORK/job.err" || rc=$?
  if [[ $rc -ne 0 ]] || ! grep -q '^summary .* status=ok ' "$WORK/job.out"; then
    tail -n 20 "$WORK/job.out" "$WORK/job.err" >&2
    fail "job --bucket $bucket exited $rc"
  fi
  grep -q ' maps=2 ' "$WORK/job.out" || fail "job --bucket $bucket: expected 2 map tasks: $(cat "$WORK/job.out")"
  "$SAWMILL" cat "$out" | sort >"$WORK/got-$bucket.tsv" || fail "sawmill cat $out failed"
  oracle "$bucket" >"$WORK/want-$bucket.tsv"
  [[ -s $WORK/want-$bucket.tsv ]] || fail "oracle produced nothing"
  if ! cmp -s "$WORK/got-$bucket.tsv" "$WORK/want-$bucket.tsv"; then
    diff "$WORK/got-$bucket.tsv" "$WORK/want-$bucket.tsv" | head -n 20 >&2 || true
    fail "job --bucket $bucket: output differs from the awk oracle"
  fi
  want_long=$(cat "$WORK/oracle.long")
  grep -qE "^counters:.* words_over_64_bytes=$want_long( |$)" "$WORK/job.out" ||
    fail "job --bucket $bucket: counter words_over_64_bytes, want $want_long: $(grep '^counters' "$WORK/job.out" || true)"
  ok "job --bucket $bucket: $(wc -l <"$WORK/got-$bucket.tsv") buckets match the oracle, counter $want_long"
done

# --- 6. The job's own flag is validated ---------------------------------------------------------
rc=0
"$JOB" --input "$WORK/input.txt" --output "$WORK/bad" --bucket 0 >"$WORK/job.out" 2>"$WORK/job.err" || rc=$?
[[ $rc -eq 2 ]] || fail "job --bucket 0: exit $rc, want 2"
grep -q -- '--bucket' "$WORK/job.err" || fail "job --bucket 0: no message naming --bucket"
[[ ! -e $WORK/bad ]] || fail "job --bucket 0 created its output"
ok "job --bucket 0: usage error (exit 2), no output"

# --- 7. Submit the out-of-tree binary to a cluster -------------------------------------------------
"$SAWMILL" cluster up --dir "$WORK/cluster" --workers 2 --slots 2 --replication 1 --block_size 1048576 \
  --sync_blocks false >"$WORK/cluster.log" 2>&1 || { cat "$WORK/cluster.log" >&2; fail "cluster up"; }
"$SAWMILL" dfs --cluster "$WORK/cluster" put "$WORK/input.txt" /in/input.txt || fail "dfs put"
rc=0
"$SAWMILL" job --cluster "$WORK/cluster" submit "$JOB" --input dfs:/in/input.txt --output dfs:/out/lengths \
  --bucket 7 --split_mb 1 --reducers 2 --wait --progress=never >"$WORK/job.out" 2>"$WORK/job.err" || rc=$?
if [[ $rc -ne 0 ]] || ! grep -q '^summary .* status=ok ' "$WORK/job.out"; then
  tail -n 20 "$WORK/job.out" "$WORK/job.err" >&2
  fail "cluster job exited $rc"
fi
for part in part-00000 part-00001; do
  "$SAWMILL" dfs --cluster "$WORK/cluster" get "/out/lengths/$part" "$WORK/cluster-$part" || fail "get $part"
  cmp -s "$WORK/cluster-$part" "$WORK/out-7/$part" || fail "cluster $part differs from local mode's"
done
ok "the installed-SDK job ran on a 2-worker cluster (sawmill job submit): parts byte-identical to local mode"

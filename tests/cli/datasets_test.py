#!/usr/bin/env python3
"""Versioned datasets: jobs write --output dataset:NAME (a new version each run) and read
--input dataset:NAME[@VERSION]; `sawmill dataset list|show|promote|rollback`. Checks:
- reads resolve to the given version, else `current`, else the latest complete version;
- promote and rollback are atomic: readers running during flips see one version or the other,
  never a mix or an error;
- promoting a missing or incomplete version is refused (exit 2) and changes nothing;
- the reading job's _MANIFEST names the concrete version it read (lineage).

Usage: tests/cli/datasets_test.py BUILD_DIR [--cluster]
"""
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from harness import Cluster, Fail, run_main  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
SAWMILL = os.path.join(BUILD, "sawmill")
JOBS = os.path.join(BUILD, "jobs")


class Store:
    def __init__(self, where, tmp):
        self.where, self.tmp = where, tmp
        self.cluster = where[0] == "--cluster"

    def out(self, name):
        return f"dfs:/{name}" if self.cluster else os.path.join(self.tmp, name)

    def job(self, binary, *args, ok=True):
        extra = ["--wait"] if self.cluster else []
        p = subprocess.run([os.path.join(JOBS, binary), *args, *self.where, *extra, "--progress", "never"],
                           capture_output=True, timeout=120)
        if ok and p.returncode != 0:
            raise Fail(f"{binary} {' '.join(args)}: exit {p.returncode}: {p.stderr.decode()[-800:]}")
        return p

    def dataset(self, *args, ok=True):
        p = subprocess.run([SAWMILL, "dataset", *args, *self.where], capture_output=True, timeout=60)
        if ok and p.returncode != 0:
            raise Fail(f"sawmill dataset {' '.join(args)}: exit {p.returncode}: {p.stderr.decode()}")
        return p

    def cat(self, path):
        argv = [SAWMILL, "cat", path] + (["--cluster", self.where[1]] if self.cluster else [])
        return subprocess.run(argv, capture_output=True, check=True).stdout.decode()

    def read(self, spec, out):
        """The records `spec` resolves to, through a real job (sort over record files)."""
        self.job("sort", "--input_format", "records", "--input", spec, "--output", self.out(out), "--overwrite")
        return self.cat(self.out(out))


def check(store, case, texts):
    for t in texts:
        store.job("wordcount", "--input", t, "--output", "dataset:wc")
    v1, v2 = store.read("dataset:wc@1", "r1"), store.read("dataset:wc@2", "r2")
    if v1 == v2 or "a\t2" not in v1 or "c\t2" not in v2:
        raise Fail(f"{case}: versions hold the wrong outputs: {v1!r} {v2!r}")
    if store.read("dataset:wc", "r") != v2:
        raise Fail(f"{case}: never promoted: dataset:wc should read the latest complete version")
    store.dataset("promote", "wc", "1")
    if store.read("dataset:wc", "r") != v1:
        raise Fail(f"{case}: after promote 1, dataset:wc does not read version 1")
    cluster = ["--cluster", store.where[1]] if store.cluster else []
    manifest = subprocess.run([SAWMILL, "manifest", store.out("r"), *cluster], capture_output=True).stdout.decode()
    if "datasets/wc/00000001" not in manifest:
        raise Fail(f"{case}: the reader's manifest does not name the version it read: {manifest[:500]}")
    # A dataset's manifest through the store: the current version (1) and an explicit one (2).
    for spec, text in (("dataset:wc", texts[0]), ("dataset:wc@2", texts[1])):
        p = subprocess.run([SAWMILL, "manifest", spec, *store.where], capture_output=True)
        if p.returncode != 0 or os.path.basename(text) not in p.stdout.decode():
            raise Fail(f"{case}: manifest {spec}: exit {p.returncode} {p.stderr.decode()} {p.stdout.decode()[:300]}")
    # Refusals change nothing.
    missing = store.dataset("promote", "wc", "9", ok=False)
    if missing.returncode != 2 or b"no version 00000009" not in missing.stderr:
        raise Fail(f"{case}: promote of a missing version: {missing.returncode} {missing.stderr.decode()}")
    if store.cluster:
        subprocess.run([SAWMILL, "dfs", "--cluster", store.where[1], "mkdir", "/datasets/wc/00000003"], check=True,
                       capture_output=True)
    else:
        os.makedirs(os.path.join(store.where[1], "datasets", "wc", "00000003"))
    incomplete = store.dataset("promote", "wc", "3", ok=False)
    if incomplete.returncode != 2 or b"incomplete" not in incomplete.stderr:
        raise Fail(f"{case}: promote of an incomplete version: {incomplete.returncode} {incomplete.stderr.decode()}")
    if store.read("dataset:wc", "r") != v1:
        raise Fail(f"{case}: a refused promote changed current")
    # Atomic flips: a reader loop sees version 1 or version 2, nothing else.
    seen, errors = set(), []
    stop = threading.Event()

    def reader():
        n = 0
        while not stop.is_set() or n < 3:
            try:
                got = store.read("dataset:wc", f"loop{n % 2}")
            except Fail as e:
                errors.append(str(e))
                return
            if got not in (v1, v2):
                errors.append(f"a read saw neither version: {got!r}")
                return
            seen.add(got)
            n += 1

    t = threading.Thread(target=reader)
    t.start()
    flips = 0
    for _ in range(6):
        store.dataset("promote", "wc", "2")
        store.dataset("rollback", "wc")
        flips += 2
    stop.set()
    t.join(timeout=120)
    if errors:
        raise Fail(f"{case}: during promote/rollback: {errors[0]}")
    show = store.dataset("show", "wc").stdout.decode()
    line1 = [line for line in show.splitlines() if line.startswith("00000001 ")]
    if not line1 or "(current)" not in line1[0]:
        raise Fail(f"{case}: after the flips version 1 should be current: {show}")
    listing = store.dataset("list").stdout.decode()
    if "wc current 00000001 versions 3" not in listing:
        raise Fail(f"{case}: list: {listing}")
    print(f"PASS {case}: 2 versions; reads follow current; {flips} promote/rollback flips under a reader that saw "
          f"{len(seen)} version(s), never a mix; refusals changed nothing", flush=True)
    check_memo(store, case, texts)


def versions(store, name):
    show = store.dataset("show", name).stdout.decode()
    return [line.split()[0] for line in show.splitlines() if line[:1].isdigit()]


def check_memo(store, case, texts):
    """A rerun with the same binary, arguments and input contents creates no version and runs no
    task; another argument, changed input or a rebuilt binary makes a new version; --force too."""
    run = lambda *extra, binary="wordcount": store.job(binary, "--input", texts[0], "--output", "dataset:memo", *extra)
    run()
    again = run("--threads", "1").stdout.decode()  # how it runs is not what it computes
    if "status=up_to_date maps=0 reduces=0" not in again or len(versions(store, "memo")) != 1:
        raise Fail(f"{case}: an unchanged rerun was not up to date: {again}")
    run("--reducers", "2")
    if len(versions(store, "memo")) != 2:
        raise Fail(f"{case}: another argument did not make a new version")
    # The version's lineage: its binary's SHA-256, its arguments, its inputs' content hashes.
    with open(os.path.join(JOBS, "wordcount"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    lineage = store.dataset("show", "memo", "2").stdout.decode()
    if f"binary {sha}" not in lineage or "arg --reducers\narg 2" not in lineage or "\ninput " not in lineage:
        raise Fail(f"{case}: lineage of version 2: {lineage}")
    rebuilt = os.path.join(JOBS, "wordcount-rebuilt")
    with open(os.path.join(JOBS, "wordcount"), "rb") as f, open(rebuilt, "wb") as g:
        g.write(f.read() + b"a code change")
    os.chmod(rebuilt, 0o755)
    try:
        run(binary="wordcount-rebuilt")
    finally:
        os.remove(rebuilt)
    if len(versions(store, "memo")) != 3:
        raise Fail(f"{case}: a rebuilt binary did not make a new version")
    run("--force")
    if len(versions(store, "memo")) != 4:
        raise Fail(f"{case}: --force did not run")
    # A changed input: a new version, and the dataset it reads changes its fingerprint too.
    store.job("wordcount", "--input", texts[1], "--output", "dataset:memo")
    if len(versions(store, "memo")) != 5:
        raise Fail(f"{case}: another input did not make a new version")
    print(f"PASS {case}: memoization: unchanged rerun up to date (no task), argument/binary/input change and --force "
          f"make new versions", flush=True)
    check_gc_diff_get(store, case, texts)


def check_gc_diff_get(store, case, texts):
    """get reads one block of a sorted dataset; diff counts keys added, removed and changed; gc
    keeps current and the newest versions."""
    gen = os.path.join(store.tmp, "tera-in")  # teragen writes local files
    subprocess.run([os.path.join(JOBS, "teragen"), "--records", "200000", "--parts", "2", "--seed", "9", "--output",
                    gen, "--overwrite"], check=True, capture_output=True)
    tera_in = gen
    if store.cluster:
        tera_in = "dfs:/tera-in"
        for part in ("part-00000", "part-00001"):
            subprocess.run([SAWMILL, "dfs", "--cluster", store.where[1], "put", os.path.join(gen, part),
                            f"/tera-in/{part}"], check=True, capture_output=True)
    store.job("terasort", "--input", tera_in, "--output", "dataset:tera", "--reducers", "3")
    raw = b""
    for part in ("part-00000", "part-00001"):  # teragen's 100-byte records: 10-byte key, 90-byte value
        with open(os.path.join(gen, part), "rb") as f:
            raw += f.read()
    recs = {raw[i:i + 10]: raw[i + 10:i + 100] for i in range(0, len(raw), 100)}
    for key in list(recs)[:: len(recs) // 5][:5]:
        p = store.dataset("get", "tera", key.hex(), "--hex")
        got = p.stdout.rstrip(b"\n").split(b"\t", 1)[1]
        blocks = int(p.stderr.decode().split("blocks_read=")[1].split(",")[0])
        got = re.sub(rb"\\(.)", lambda m: {b"t": b"\t", b"n": b"\n", b"\\": b"\\"}[m.group(1)], got)
        if got != recs[key] or blocks > 2:
            raise Fail(f"{case}: get {key.hex()}: {got[:30]!r} blocks_read={blocks}")
    missing = store.dataset("get", "tera", "ffffffffffffffffffff", "--hex", ok=False)
    if missing.returncode != 1 or missing.stdout:
        raise Fail(f"{case}: get of a missing key: {missing.returncode} {missing.stdout!r}")
    # diff between the wordcount versions of "memo" (1: texts[0]; 5: texts[1]).
    d = store.dataset("diff", "memo", "1", "5").stdout.decode().splitlines()
    if d[0] != "added 2 removed 2 changed 0 unchanged 0" or "+ c" not in d or "- a" not in d:
        raise Fail(f"{case}: diff: {d}")
    # Versions partitioned differently are merged: memo 2 has 2 parts (--reducers 2), 1 and 5 one.
    d = store.dataset("diff", "memo", "2", "5").stdout.decode().splitlines()
    if d[0] != "added 2 removed 2 changed 0 unchanged 0" or "+ d" not in d or "- b" not in d:
        raise Fail(f"{case}: diff across partitionings: {d}")
    d = store.dataset("diff", "memo", "1", "2").stdout.decode().splitlines()
    if d[0] != "added 0 removed 0 changed 0 unchanged 2":
        raise Fail(f"{case}: diff of the same counts in 1 and 2 parts: {d}")
    store.job("terasort", "--input", tera_in, "--output", "dataset:tera", "--reducers", "2")
    d = store.dataset("diff", "tera", "1", "2").stdout.decode().splitlines()
    if d[0] != f"added 0 removed 0 changed 0 unchanged {len(recs)}":
        raise Fail(f"{case}: diff of terasort in 3 and 2 parts: {d}")
    store.dataset("promote", "memo", "2")
    gc = store.dataset("gc", "memo", "--keep", "1").stdout.decode()
    left = versions(store, "memo")
    if left != ["00000002", "00000005"]:
        raise Fail(f"{case}: gc --keep 1 with version 2 current left {left}: {gc}")
    print(f"PASS {case}: get (5 keys of 200k, <= 2 blocks each), diff (also across partitionings: 200k records in "
          f"3 and 2 parts), gc", flush=True)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        texts = []
        for i, words in enumerate(["a b a", "c c d"]):
            path = os.path.join(tmp, f"t{i}.txt")
            with open(path, "w") as f:
                f.write(words + "\n")
            texts.append(path)
        check(Store(["--store", os.path.join(tmp, "store")], tmp), "local", texts)
        if "--cluster" in sys.argv:
            with Cluster(BUILD, workers=1, replication=1, dir=os.path.join(tmp, "cluster")) as c:
                store = Store(["--cluster", c.dir], tmp)
                dfs_texts = []
                for i, t in enumerate(texts):
                    c.put(t, f"/in/t{i}.txt")
                    dfs_texts.append(f"dfs:/in/t{i}.txt")
                check(store, "cluster", dfs_texts)


if __name__ == "__main__":
    run_main(main)

#!/usr/bin/env python3
"""Oracle test of jobs/join: every strategy x join type on seeded tables, compared as sorted text
with sqlite3 running the same SQL join (broadcast full outer through its tail task); the refusals
(partitioned/merge without matching _MANIFESTs); shuffle_bytes; malformed rows; record datasets made by jobs/keyby.

Usage: tests/jobs/join_test.py BUILD_DIR [--cluster | --cluster-only] [--no-join] [--only SUBSTR]
  --cluster  also run the matrix on a 2-worker `sawmill cluster up` (dfs:/ inputs and outputs)
  --no-join  check only the oracle side: data, sqlite import, keyby (before jobs/join exists)
Prints one PASS/FAIL line per case; exits 1 if any case failed.
"""
import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from harness import Cluster, Fail  # noqa: E402
from join_data import make_tables  # noqa: E402

TYPES = ["inner", "left", "right", "full"]
STRATEGIES = ["auto", "reduce", "broadcast", "partitioned", "merge"]
SQL_JOIN = {"inner": "INNER JOIN", "left": "LEFT JOIN", "right": "RIGHT JOIN", "full": "FULL OUTER JOIN"}
REDUCERS = 3
# Malformed rows inserted into copies of tables whose key column is not 1 (a line with fewer
# columns than the key column): name -> (table, row index, line).
BAD = {"l3k2bad": ("l3k2", 400, b"lonely"), "r4k3bad": ("r4k3", 300, b"two\tcols")}


def unescape(s):
    """Inverse of cli/escape.h (the text form of `sawmill cat`)."""
    return re.sub(rb"\\(.)", lambda m: {b"t": b"\t", b"n": b"\n", b"\\": b"\\"}[m.group(1)], s)


def cat_lines(text):
    """`key<TAB>value` byte lines (raw, unescaped) of `sawmill cat` text output."""
    out = []
    for line in text.split(b"\n")[:-1] if text else []:
        key, sep, value = line.partition(b"\t")
        if not sep:
            raise Fail(f"sawmill cat line without a TAB: {line[:100]!r}")
        out.append(unescape(key) + b"\t" + unescape(value))
    return out


def diff_excerpt(expected, got, n=5):
    e, g = collections.Counter(expected), collections.Counter(got)
    missing, extra = list((e - g).elements()), list((g - e).elements())
    lines = [f"expected {len(expected)} rows, got {len(got)}; {len(missing)} missing, {len(extra)} unexpected"]
    lines += [f"  - {x!r}" for x in sorted(missing)[:n]]
    lines += [f"  + {x!r}" for x in sorted(extra)[:n]]
    return "\n".join(lines)


def drop_empty_side(lines, lt, rt):
    """Lines without the fields of the empty side (lt or rt has no rows), when they are all empty;
    other lines unchanged (so that they differ from the expected ones)."""
    out = []
    for line in lines:
        key, _, value = line.partition(b"\t")
        fields = value.split(b"\t")
        if not lt.rows:
            n = rt.ncols - 1
            dropped, kept = fields[:len(fields) - n], fields[len(fields) - n:]
        else:
            n = lt.ncols - 1
            kept, dropped = fields[:n], fields[n:]
        out.append(b"\t".join([key] + kept) if len(fields) >= n and not any(dropped) else line)
    return sorted(out)


def parse_run(p):
    """(summary fields, counters) from a job's stdout."""
    summary, counters = {}, {}
    for line in p.stdout.decode(errors="replace").splitlines():
        if line.startswith("summary "):
            summary = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
        elif line.startswith("counters:"):
            counters = dict(f.split("=", 1) for f in line[len("counters:"):].split() if "=" in f)
    return summary, counters


class Data:
    """The tables, their TSV files (plus copies with a malformed row), and the sqlite oracle."""

    def __init__(self, root):
        self.tables = make_tables()
        self.dir = os.path.join(root, "tsv")
        os.makedirs(self.dir)
        self.files = {}
        for name, t in self.tables.items():
            self.files[name] = self._write(name, t.tsv())
        for name, (base, at, line) in BAD.items():
            rows = self.tables[base].tsv().split(b"\n")
            self.files[name] = self._write(name, b"\n".join(rows[:at] + [line] + rows[at:]))
        self.cache = {}

    def _write(self, name, data):
        path = os.path.join(self.dir, name + ".tsv")
        with open(path, "wb") as f:
            f.write(data)
        return path

    def sqlite(self, script):
        p = subprocess.run(["sqlite3", "-bail", ":memory:"], input=script.encode(), capture_output=True, timeout=60)
        if p.returncode != 0 or p.stderr:
            raise Fail(f"sqlite3 exited {p.returncode}: {p.stderr.decode(errors='replace')[:2000]}")
        return p.stdout

    def _load(self, alias, name):
        t = self.tables[name]
        cols = ", ".join(f"c{i} TEXT" for i in range(1, t.ncols + 1))
        return f"CREATE TABLE {alias}({cols});\n.mode tabs\n.import '{self.files[name]}' {alias}\n"

    def check_import(self):
        """sqlite's .import keeps every byte of every field (0xFF, '', spaces, backslashes)."""
        for name, t in self.tables.items():
            hexes = " || ',' || ".join(f"hex(c{i})" for i in range(1, t.ncols + 1))
            out = self.sqlite(self._load("t", name) + f"SELECT {hexes} FROM t ORDER BY rowid;\n")
            want = b"".join(b",".join(f.hex().upper().encode() for f in r) + b"\n" for r in t.rows)
            if out != want:
                raise Fail(f"sqlite .import of {name} changed the data:\n{diff_excerpt(want.split(), out.split())}")
        return f"{len(self.tables)} tables imported byte-exact"

    def expected(self, left, right, jtype):
        """Sorted `key<TAB>fields` lines of sqlite's join of tables `left` and `right`."""
        k = (left, right, jtype)
        if k not in self.cache:
            lt, rt = self.tables[left], self.tables[right]
            lother = [f"l.c{i}" for i in range(1, lt.ncols + 1) if i != lt.key]
            rother = [f"r.c{i}" for i in range(1, rt.ncols + 1) if i != rt.key]
            cols = ", ".join([f"COALESCE(l.c{lt.key}, r.c{rt.key})"] + lother + rother)
            sql = (self._load("l", left) + self._load("r", right) +
                   f"SELECT {cols} FROM l {SQL_JOIN[jtype]} r ON l.c{lt.key} = r.c{rt.key};\n")
            self.cache[k] = sorted(self.sqlite(sql).split(b"\n")[:-1])
        return self.cache[k]


class Local:
    label = "local"

    def __init__(self, build, root, data):
        self.build, self.root, self.data = build, root, data
        self.n = 0

    def tsv(self, name):
        return self.data.files[name]

    def new_output(self, tag):
        self.n += 1
        return os.path.join(self.root, f"out{self.n:03d}-{tag}")

    def job(self, binary, args):
        argv = [os.path.join(self.build, "jobs", binary), "--progress", "never", "--threads", "2", *args]
        return subprocess.run(argv, capture_output=True, timeout=120)

    def cat(self, path, fmt="text"):
        p = subprocess.run([os.path.join(self.build, "sawmill"), "cat", "--format", fmt, path], capture_output=True,
                           timeout=60)
        if p.returncode != 0:
            raise Fail(f"sawmill cat {path} exited {p.returncode}: {p.stderr.decode(errors='replace')[:500]}")
        return p.stdout

    def parts(self, out):
        return sorted(os.path.join(out, n) for n in os.listdir(out) if n.startswith("part-"))

    def manifest(self, out):
        p = subprocess.run([os.path.join(self.build, "sawmill"), "manifest", out], capture_output=True, timeout=60)
        if p.returncode != 0:
            raise Fail(f"sawmill manifest {out} exited {p.returncode}: {p.stderr.decode(errors='replace')}")
        return p.stdout.decode(errors="replace")

    def exists(self, out):
        return os.path.exists(out)

    def remove(self, out):
        shutil.rmtree(out, ignore_errors=True)


class OnCluster(Local):
    """The same operations on a 2-worker cluster `c` (harness.Cluster): TSV files put in its store,
    dfs:/ paths."""
    label = "cluster"

    def __init__(self, build, root, data, c):
        super().__init__(build, root, data)
        self.c = c
        for name, path in data.files.items():
            self.c.put(path, f"/tsv/{os.path.basename(path)}")

    def tsv(self, name):
        return f"dfs:/tsv/{os.path.basename(self.data.files[name])}"

    def new_output(self, tag):
        self.n += 1
        return f"dfs:/out/{self.n:03d}-{tag}"

    def job(self, binary, args):
        argv = [os.path.join(self.build, "jobs", binary), "--cluster", self.c.dir, "--wait", "--progress", "never",
                *args]
        return subprocess.run(argv, capture_output=True, timeout=150)

    def cat(self, path, fmt="text"):
        p = subprocess.run([os.path.join(self.build, "sawmill"), "cat", "--cluster", self.c.dir, "--format", fmt, path],
                           capture_output=True, timeout=60)
        if p.returncode != 0:
            raise Fail(f"sawmill cat {path} exited {p.returncode}: {p.stderr.decode(errors='replace')[:500]}")
        return p.stdout

    def _ls(self, out):
        p = self.c.dfs("ls", out[len("dfs:"):], check=False)
        if p.returncode != 0:
            return None
        return sorted(line.split()[-1].rsplit("/", 1)[-1] for line in p.stdout.decode().splitlines() if line.strip())

    def parts(self, out):
        return [f"{out}/{n}" for n in self._ls(out) or [] if n.startswith("part-")]

    def manifest(self, out):
        local = tempfile.mkdtemp(dir=self.root)
        with open(os.path.join(local, "_MANIFEST"), "wb") as f:
            f.write(self.c.dfs("cat", out[len("dfs:"):] + "/_MANIFEST").stdout)
        try:
            return Local.manifest(self, local)
        finally:
            shutil.rmtree(local)

    def exists(self, out):
        return self._ls(out) is not None

    def remove(self, out):
        pass  # small; the cluster directory goes at teardown


class Runner:
    def __init__(self, env, data, only):
        self.env, self.data, self.only = env, data, only
        self.failures = 0
        self.datasets = {}  # (table, reducers) -> dataset path made by keyby

    def report(self, name, fn):
        if self.only and self.only not in name:
            return
        start = time.monotonic()
        try:
            msg = fn()
            print(f"PASS [{self.env.label}] {name}: {msg} ({time.monotonic() - start:.2f} s)", flush=True)
        except Fail as e:
            self.failures += 1
            print(f"FAIL [{self.env.label}] {name}: {e}", flush=True)

    # ---- keyby -------------------------------------------------------------------------------

    def dataset(self, table, reducers):
        """A record dataset of `table` keyed by its key column, made by keyby (once)."""
        k = (table, reducers)
        if k not in self.datasets:
            out = self.env.new_output(f"keyby-{table}-{reducers}")
            t = self.data.tables[table]
            p = self.env.job("keyby", ["--input", self.env.tsv(table), "--output", out, "--key", str(t.key),
                                       "--reducers", str(reducers)])
            if p.returncode != 0:
                raise Fail(f"keyby {table} exited {p.returncode}: {p.stderr.decode(errors='replace')[-1500:]}")
            self.datasets[k] = out
        return self.datasets[k]

    def check_keyby(self, table, reducers):
        """keyby's records are the table's (key, other columns); parts are sorted, each key lives in
        one part, and the _MANIFEST says hash / reducers / sorted."""
        t = self.data.tables[table]
        out = self.dataset(table, reducers)
        want = sorted(b"\t".join([k] + other) for k, other in map(t.split, t.rows))
        got = sorted(cat_lines(self.env.cat(out)))
        if got != want:
            raise Fail("keyby records differ from the table:\n" + diff_excerpt(want, got))
        parts = self.env.parts(out)
        if len(parts) != reducers:
            raise Fail(f"{len(parts)} parts, want {reducers}: {parts}")
        seen = {}
        for i, part in enumerate(parts):
            keys = self.env.cat(part, "keys").split(b"\n")[:-1]
            if keys != sorted(keys):
                raise Fail(f"{part} is not sorted by key")
            for k in set(keys):
                if seen.setdefault(k, i) != i:
                    raise Fail(f"key {k!r} in parts {seen[k]} and {i}")
        m = self.env.manifest(out)
        for want_field in ['partitioner = "hash"', f"numPartitions = {reducers}", "sorted = true"]:
            if want_field not in m:
                raise Fail(f"_MANIFEST of {out} lacks {want_field}:\n{m[:1500]}")
        return (f"{len(got)} records in {reducers} sorted parts, {len(seen)} keys each in one part, "
                "_MANIFEST hash/sorted")

    def check_keyby_malformed(self):
        path = self.env.tsv("l3k2bad")
        out = self.env.new_output("keyby-bad")
        p = self.env.job("keyby", ["--input", path, "--output", out, "--key", "2", "--reducers", "2"])
        _, counters = parse_run(p)
        err = p.stderr.decode(errors="replace")
        if p.returncode != 0 or counters.get("keyby.malformed_rows") != "1" or "l3k2bad.tsv" not in err:
            raise Fail(f"exit {p.returncode}, counters {counters}, stderr: {err[-800:]}")
        n = len(cat_lines(self.env.cat(out)))
        if n != len(self.data.tables["l3k2"].rows):
            raise Fail(f"{n} records, want {len(self.data.tables['l3k2'].rows)}")
        self.env.remove(out)
        skipped = err.strip().splitlines()[-1]
        out = self.env.new_output("keyby-strict")
        p = self.env.job("keyby", ["--input", path, "--output", out, "--key", "2", "--strict"])
        err = p.stderr.decode(errors="replace")
        if p.returncode != 1 or "l3k2bad.tsv" not in err or self.env.exists(out):
            raise Fail(f"--strict: exit {p.returncode} (want 1), output exists: {self.env.exists(out)}, "
                       f"stderr: {err[-800:]}")
        p = self.env.job("keyby", ["--input", path, "--output", out, "--key", "0"])
        if p.returncode != 2:
            raise Fail(f"--key 0 exited {p.returncode}, want 2")
        strict = err.strip().splitlines()[-1]
        return f"skipped and counted ({skipped[:150]}); --strict exit 1 ({strict[:150]}); --key 0 exit 2"

    # ---- join --------------------------------------------------------------------------------

    def side(self, spec):
        """(path, table name, key flag value or None) of an input spec: "l3" (TSV) or "l3@3" (keyby)."""
        if "@" in spec:
            table, r = spec.split("@")
            return self.dataset(table, int(r)), table, None
        base = BAD[spec][0] if spec in BAD else spec
        key = self.data.tables[base].key
        return self.env.tsv(spec), base, key if key != 1 else None

    def join(self, left, right, strategy, jtype, flags=(), expect="ok", want_counters=None, stderr_names=None,
             shuffle=None, check_counters=None):
        """Runs one join and checks it. expect: "ok" (rows equal sqlite's), or (exit code, [regexes
        its stderr must match]) for a refusal. shuffle: "zero" / "positive" / None."""
        lpath, ltable, lkey = self.side(left)
        rpath, rtable, rkey = self.side(right)
        out = self.env.new_output(f"{strategy}-{jtype}")
        args = ["--left", lpath, "--right", rpath, "--type", jtype, "--strategy", strategy, "--output", out,
                "--reducers", str(REDUCERS), *flags]
        if lkey:
            args += ["--left_key", str(lkey)]
        if rkey:
            args += ["--right_key", str(rkey)]
        p = self.env.job("join", args)
        err = p.stderr.decode(errors="replace")
        summary, counters = parse_run(p)
        if expect != "ok":
            code, patterns = expect
            missing = [x for x in patterns if not re.search(x, err, re.I)]
            if p.returncode != code or missing:
                raise Fail(f"want exit {code} with stderr matching {patterns}; got exit {p.returncode}"
                           f"{', missing ' + str(missing) if missing else ''}; stderr: {err[-800:]}")
            if self.env.exists(out):
                raise Fail(f"refused, yet {out} exists")
            first = next((line for line in err.splitlines() if line.strip()), "")
            return f"refused, exit {code}: {first[:140]}"
        if p.returncode != 0 or summary.get("status") != "ok":
            raise Fail(f"exit {p.returncode}, summary {summary}; stderr: {err[-1500:]}")
        want = self.data.expected(ltable, rtable, jtype)
        got = sorted(cat_lines(self.env.cat(out)))
        note = ""
        lt, rt = self.data.tables[ltable], self.data.tables[rtable]
        if not lt.rows or not rt.rows:
            # An empty input (TSV file or dataset) cannot tell its column count, so the number of
            # empty fields of that side is not checked: only that they are empty.
            want, got = drop_empty_side(want, lt, rt), drop_empty_side(got, lt, rt)
            note = ", empty side's field count not checked"
        if got != want:
            raise Fail("output differs from sqlite:\n" + diff_excerpt(want, got))
        sb = summary.get("shuffle_bytes")
        if shuffle and sb is None:
            raise Fail(f"no shuffle_bytes in the summary: {summary}")
        if shuffle == "zero" and int(sb) != 0 or shuffle == "positive" and int(sb) <= 0:
            raise Fail(f"shuffle_bytes={sb}, want {shuffle}")
        for k, v in (want_counters or {}).items():
            if counters.get(k) != str(v):
                raise Fail(f"counter {k}={counters.get(k)}, want {v} (counters: {counters})")
        for name in stderr_names or []:
            if name not in err:
                raise Fail(f"stderr does not name {name}: {err[-800:]}")
        if check_counters:
            note += ", " + check_counters(counters, summary)
        self.env.remove(out)
        return f"{len(got)} rows = sqlite, shuffle_bytes={sb}, seconds={summary.get('seconds')}{note}"

    def matrix(self, left, right, strategies, types=TYPES, flags=(), tag=""):
        """Every strategy x type on (left, right), with the refusals and shuffle checks that apply."""
        tsv = "@" not in left or "@" not in right
        for s in strategies:
            for t in types:
                name = f"{left} x {right}{tag} {s} {t}"
                kw = {"flags": flags}
                if s in ("partitioned", "merge") and tsv:
                    tsv_name = os.path.basename(self.side(left if "@" not in left else right)[0])
                    kw["expect"] = (2, ["_MANIFEST", re.escape(tsv_name)])
                elif s in ("broadcast", "merge", "partitioned"):
                    kw["shuffle"] = "zero"
                    if s == "broadcast" and t == "full":
                        kw["check_counters"] = tail_ran
                elif s == "reduce":
                    kw["shuffle"] = "positive"
                self.report(name, lambda s=s, t=t, kw=kw: self.join(left, right, s, t, **kw))

    def explain(self):
        out = self.env.new_output("explain")
        p = self.env.job("join", ["--left", self.dataset("l3", REDUCERS), "--right", self.dataset("r2", REDUCERS),
                                  "--type", "inner", "--strategy", "auto", "--output", out, "--explain"])
        text = p.stdout.decode(errors="replace")
        if p.returncode != 0 or "merge" not in text or self.env.exists(out):
            raise Fail(f"exit {p.returncode}, output exists {self.env.exists(out)}, stdout: {text[-800:]}")
        return f"chose merge on co-partitioned sorted datasets: {text.strip().splitlines()[0][:120]}"


def run_local(r):
    r.matrix("l3", "r4", STRATEGIES)
    # One process: the broadcast side is read once for all 3 map tasks.
    r.report(f"l3@{REDUCERS} x r2 broadcast left: small side read once",
             lambda: r.join(f"l3@{REDUCERS}", "r2", "broadcast", "left", shuffle="zero",
                            check_counters=lambda c, s: broadcast_reads_per_worker(c, s, workers=1)))
    r.matrix("l3k2", "r4k3", ["auto", "reduce", "broadcast"], tag=" (--left_key 2 --right_key 3)")
    r.matrix(f"l3@{REDUCERS}", f"r2@{REDUCERS}", STRATEGIES)
    # keyby --key 2: the record key is the left table's column 2.
    r.matrix(f"l3k2@{REDUCERS}", f"r2@{REDUCERS}", ["partitioned", "merge"], ["inner", "full"])
    r.matrix("l3", f"r2@{REDUCERS}", ["auto", "reduce"], ["inner", "full"], tag=" (TSV x records)")
    for s in ("partitioned", "merge"):
        r.report(f"l3@2 x r2@3 {s}: partition counts differ",
                 lambda s=s: r.join("l3@2", "r2@3", s, "inner", expect=(2, [r"(?<![\w.-])2(?![\w.-])",
                                                                          r"(?<![\w.-])3(?![\w.-])"])))
    r.matrix("l3@2", "r2@3", ["auto"], ["inner", "full"], tag=" (partition counts differ)")
    r.matrix("e3", "r4", ["auto", "reduce", "broadcast"], tag=" (left empty)")
    r.matrix("l3", "e4", ["auto", "reduce", "broadcast"], tag=" (right empty)")
    r.matrix(f"e3@{REDUCERS}", f"r2@{REDUCERS}", ["partitioned", "merge"], tag=" (left empty)")
    r.matrix("l3", "r4", ["auto"], flags=["--broadcast_limit_mb", "0"], tag=" (--broadcast_limit_mb 0)")
    r.matrix("l3", "r4", ["reduce"], flags=["--hot_share", "0.01"], tag=" (--hot_share 0.01)")
    bad = {"want_counters": {"join.malformed_rows": 1}}
    r.report("l3k2bad x r4 reduce inner: malformed left row skipped",
             lambda: r.join("l3k2bad", "r4", "reduce", "inner", stderr_names=["l3k2bad.tsv"], **bad))
    r.report("l3 x r4k3bad broadcast left: malformed row of the broadcast side skipped",
             lambda: r.join("l3", "r4k3bad", "broadcast", "left", stderr_names=["r4k3bad.tsv"], **bad))
    for s in ("reduce", "broadcast"):
        r.report(f"l3k2bad x r4 {s} inner --strict: fails",
                 lambda s=s: r.join("l3k2bad", "r4", s, "inner", flags=["--strict"], expect=(1, ["l3k2bad.tsv"])))
    r.report("explain", r.explain)


def run_cluster(r, no_join):
    r.report("keyby l3 --reducers 3", lambda: r.check_keyby("l3", REDUCERS))
    if no_join:
        return
    r.matrix("l3", "r4", STRATEGIES)
    r.matrix(f"l3@{REDUCERS}", f"r2@{REDUCERS}", STRATEGIES)
    r.report("l3@2 x r2@3 merge: partition counts differ",
             lambda: r.join("l3@2", "r2@3", "merge", "inner", expect=(2, [r"(?<![\w.-])2(?![\w.-])",
                                                                        r"(?<![\w.-])3(?![\w.-])"])))
    r.matrix("l3", "e4", ["reduce"], ["left", "full"], tag=" (right empty)")
    # The broadcast side is read from the store once per worker: 3 map tasks on 2 workers.
    r.report(f"l3@{REDUCERS} x r2 broadcast left: small side read at most once per worker",
             lambda: r.join(f"l3@{REDUCERS}", "r2", "broadcast", "left", shuffle="zero",
                            check_counters=lambda c, s: broadcast_reads_per_worker(c, s, workers=2)))


def tail_ran(counters, summary):
    if "tail_bytes" not in summary or summary.get("reduces") != "1":
        raise Fail(f"a broadcast full join ran no tail task: summary {summary}")
    return f"tail_bytes={summary['tail_bytes']}"


def broadcast_reads_per_worker(counters, summary, workers):
    reads, maps = int(counters.get("join.broadcast_reads", 0)), int(summary.get("maps", 0))
    if not 1 <= reads <= workers or maps <= workers:
        raise Fail(f"join.broadcast_reads={reads} with {maps} map tasks on {workers} workers: want 1..{workers} "
                   f"reads and more maps than workers")
    return f"{reads} store reads for {maps} map tasks"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--cluster", action="store_true")
    ap.add_argument("--cluster-only", action="store_true", help="the cluster matrix alone (no local cases)")
    ap.add_argument("--no-join", action="store_true")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    need = ["sawmill", "jobs/keyby"] + ([] if a.no_join else ["jobs/join"])
    missing = [b for b in need if not os.access(os.path.join(build, b), os.X_OK)]
    if missing or not shutil.which("sqlite3"):
        print(f"FAIL: missing {', '.join(missing) or 'sqlite3'} (build the jobs and the sawmill CLI)")
        return 1
    root = tempfile.mkdtemp(prefix="sawmill-join-test.")
    failures = 0
    try:
        data = Data(root)
        local = Runner(Local(build, root, data), data, a.only)
        local.report("sqlite import", data.check_import)
        for table, reducers in (("l3", REDUCERS), ("l3k2", REDUCERS), ("l3", 2), ("e3", REDUCERS)):
            local.report(f"keyby {table} --reducers {reducers}", lambda t=table, n=reducers: local.check_keyby(t, n))
        local.report("keyby malformed rows", local.check_keyby_malformed)
        if a.no_join:
            for (lt, rt) in (("l3", "r4"), ("l3k2", "r4k3"), ("l3", "r2"), ("e3", "r4"), ("l3", "e4")):
                counts = " ".join(f"{t}={len(data.expected(lt, rt, t))}" for t in TYPES)
                print(f"oracle {lt} x {rt}: {counts}", flush=True)
        elif not a.cluster_only:
            run_local(local)
        failures += local.failures
        if a.cluster or a.cluster_only:
            with Cluster(build, workers=2, prefix="sawmill-join-test.", block_size=1 << 20, slots=2,
                         sync_blocks="false") as c:
                cl = Runner(OnCluster(build, root, data, c), data, a.only)
                run_cluster(cl, a.no_join)
                failures += cl.failures
    except Fail as e:
        print(f"FAIL: {e}", flush=True)
        failures += 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{'FAIL' if failures else 'PASS'}: {failures} failure(s)", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

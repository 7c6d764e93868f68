#!/usr/bin/env python3
"""The dataflow job binaries against independent computations in this test:
wordcount_df byte-identical to wordcount; pagerank within 1e-9 of a straightforward PageRank;
connected_components equal to union-find; outputs byte-identical across --threads; --help and
--explain; malformed lines counted or, with --strict, fatal.

Usage: tests/jobs/dataflow_jobs_test.py BUILD_DIR
Prints one PASS/FAIL line per case; exits 1 if any case failed.
"""
import os
import random
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from harness import Fail  # noqa: E402


def run(args, ok=True):
    p = subprocess.run(args, capture_output=True, timeout=300)
    if ok and p.returncode != 0:
        raise Fail(f"{' '.join(args)} exited {p.returncode}: {p.stderr.decode()[-2000:]}")
    return p


def parts(d):
    return sorted(f for f in os.listdir(d) if f.startswith("part-"))


def same_parts(a, b):
    if parts(a) != parts(b):
        raise Fail(f"part files differ: {parts(a)} vs {parts(b)}")
    for f in parts(a):
        with open(os.path.join(a, f), "rb") as x, open(os.path.join(b, f), "rb") as y:
            if x.read() != y.read():
                raise Fail(f"{a}/{f} and {b}/{f} differ")


def records(build, d):
    out = run([os.path.join(build, "sawmill"), "cat", d]).stdout.decode()
    return [tuple(line.split("\t", 1)) for line in out.splitlines()]


def pagerank_reference(edges, iterations, d):
    pages = sorted({p for e in edges for p in e})
    n = len(pages)
    out = {p: [] for p in pages}
    for s, t in edges:
        out[s].append(t)
    rank = {p: 1.0 / n for p in pages}
    for _ in range(iterations):
        dangling = sum(rank[p] for p in pages if not out[p])
        incoming = {p: 0.0 for p in pages}
        for p in pages:
            for t in out[p]:
                incoming[t] += rank[p] / len(out[p])
        rank = {p: (1 - d) / n + d * (incoming[p] + dangling / n) for p in pages}
    return rank


def random_graph(rng, pages, edges, named):
    name = (lambda i: f"page-{i}") if named else str
    return [(name(rng.randrange(pages)), name(int(rng.paretovariate(1.2)) % pages)) for _ in range(edges)]


def write_edges(path, edges, junk=()):
    with open(path, "w") as f:
        for s, t in edges:
            f.write(f"{s}\t{t}\n")
        for line in junk:
            f.write(line + "\n")


class Cases:
    def __init__(self, build, tmp):
        self.build, self.tmp = build, tmp
        self.jobs = os.path.join(build, "jobs")

    def job(self, name, *args, ok=True):
        return run([os.path.join(self.jobs, name)] + list(args), ok=ok)

    def wordcount_identical(self):
        text = os.path.join(self.tmp, "text.txt")
        run([os.path.join(self.build, "sawmill"), "gen", "text", "--bytes", str(3 << 20), "--vocabulary", "5000",
             "--seed", "3", "--output", text])
        for reducers in ("1", "3"):
            a, b = os.path.join(self.tmp, f"wc{reducers}"), os.path.join(self.tmp, f"wcdf{reducers}")
            self.job("wordcount", "--input", text, "--output", a, "--reducers", reducers, "--split_mb", "1")
            self.job("wordcount_df", "--input", text, "--output", b, "--reducers", reducers, "--split_mb", "1")
            same_parts(a, b)

    def pagerank(self, named, threads_check, ranks="broadcast"):
        rng = random.Random(7 if named else 8)
        edges = random_graph(rng, 300, 2000, named) + [("lonely-a" if named else "100000", "1")]
        path = os.path.join(self.tmp, f"edges{named}.tsv")
        write_edges(path, edges, junk=["no tab here", "a\tb\tc"])
        want = pagerank_reference(edges, 7, 0.85)
        out = os.path.join(self.tmp, f"pr{named}{ranks}")
        p = self.job("pagerank", "--input", path, "--output", out, "--iterations", "7", "--partitions", "4", "--ranks", ranks)
        if b"pagerank.malformed_lines=2" not in p.stdout:
            raise Fail(f"malformed lines not counted: {p.stdout.decode()}")
        got = records(self.build, out)
        if [k for k, _ in got] != sorted(want, key=lambda s: s.encode()):
            raise Fail("pagerank pages differ from the reference (or are not sorted)")
        worst = max(abs(float(v) - want[k]) for k, v in got)
        if worst > 1e-9:
            raise Fail(f"pagerank differs from the reference by {worst}")
        if threads_check:
            one = os.path.join(self.tmp, f"pr{named}{ranks}-1")
            self.job("pagerank", "--input", path, "--output", one, "--iterations", "7", "--partitions", "4",
                     "--threads", "1", "--split_mb", "1", "--ranks", ranks)
            same_parts(out, one)
        strict = self.job("pagerank", "--input", path, "--output", out + "-strict", "--strict", ok=False)
        if strict.returncode == 0 or b"malformed edge line" not in strict.stderr:
            raise Fail(f"--strict did not fail on a malformed line: {strict.stderr.decode()[-500:]}")
        return worst

    def pagerank_numbers(self):
        return self.pagerank(False, True)

    def pagerank_names(self):
        return self.pagerank(True, True)

    def pagerank_shuffle_numbers(self):
        return self.pagerank(False, True, "shuffle")

    def pagerank_shuffle_names(self):
        return self.pagerank(True, False, "shuffle")

    def connected_components(self):
        rng = random.Random(11)
        edges = [(str(rng.randrange(400)), str(rng.randrange(400))) for _ in range(300)]
        edges += [("alpha", "beta"), ("beta", "7"), ("x", "x")]
        path = os.path.join(self.tmp, "cc.tsv")
        write_edges(path, edges)
        parent = {}

        def find(x):
            parent.setdefault(x, x)
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for a, b in edges:
            parent[find(a)] = find(b)
        members = {}
        for p in list(parent):
            members.setdefault(find(p), []).append(p)
        # A component's label: its smallest id; numbers are their own ids, below any name's.
        def key(name):
            return (0, int(name)) if re.fullmatch(r"0|[1-9][0-9]*", name) else (1, name)
        want = {}
        for ms in members.values():
            numeric = [m for m in ms if key(m)[0] == 0]
            label = min(numeric, key=lambda m: int(m)) if numeric else None
            for m in ms:
                want[m] = label
        out = os.path.join(self.tmp, "cc")
        self.job("connected_components", "--input", path, "--output", out, "--partitions", "3")
        got = dict(records(self.build, out))
        if set(got) != set(want):
            raise Fail("connected_components pages differ from union-find")
        for m, label in want.items():
            if label is not None and got[m] != label:
                raise Fail(f"page {m}: label {got[m]}, union-find says {label}")
            if label is None and got[m] != got[min(members[find(m)], key=lambda x: got[x])]:
                raise Fail(f"page {m}: label differs within its component")
        # Components of names only share one label.
        for ms in members.values():
            if len({got[m] for m in ms}) != 1:
                raise Fail(f"component {sorted(ms)[:5]} has several labels")

    def help_and_explain(self):
        for name in ("wordcount_df", "pagerank", "connected_components"):
            h = self.job(name, "--help")
            if b"--explain" not in h.stdout or b"Usage" not in h.stdout:
                raise Fail(f"{name} --help lacks the usage or --explain")
        e = self.job("pagerank", "--input", "x.tsv", "--output", "y", "--explain").stdout.decode()
        if "LeftJoin#11[co-partitioned merge] -> MapValuesWith#12[broadcast]" not in e or "loop Iterate" not in e:
            raise Fail(f"pagerank --explain: {e}")
        exists = self.job("pagerank", "--input", "/nonexistent", "--output", self.tmp, ok=False)
        if exists.returncode != 2 or b"exists" not in exists.stderr or b"stages=0" not in exists.stdout:
            raise Fail(f"existing output: exit {exists.returncode}, {exists.stderr.decode()} {exists.stdout.decode()}")
        missing = self.job("wordcount_df", "--input", "/nonexistent", "--output", os.path.join(self.tmp, "z"), ok=False)
        if missing.returncode != 2 or b"/nonexistent" not in missing.stderr:
            raise Fail(f"missing input: exit {missing.returncode}, {missing.stderr.decode()}")


def main():
    build = os.path.abspath(sys.argv[1])
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        cases = Cases(build, tmp)
        for name in ("wordcount_identical", "pagerank_numbers", "pagerank_names", "pagerank_shuffle_numbers",
                     "pagerank_shuffle_names", "connected_components", "help_and_explain"):
            try:
                extra = getattr(cases, name)()
                print(f"PASS {name}" + (f" (max |diff| {extra:.3g})" if extra is not None else ""))
            except Fail as e:
                failed += 1
                print(f"FAIL {name}: {e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

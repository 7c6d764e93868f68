#!/usr/bin/env python3
"""jobs/inverted_index and `sawmill index query` against a brute-force scan of the corpus: AND and
OR queries (frequent, rare and missing terms, split posting lists) return the same top-k documents
with the same tf-idf scores (ties in any order); two ids of one document number fail the job; the index as a dataset; the cluster's index byte-identical to local.

Usage: tests/jobs/index_test.py BUILD_DIR [--cluster]
"""
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from harness import Cluster, Fail, run_main  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
SAWMILL = os.path.join(BUILD, "sawmill")
JOBS = os.path.join(BUILD, "jobs")


def corpus(path, n, seed):
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(400)] + ["Fox", "fox", "DOG"]
    docs = {}
    with open(path, "w") as f:
        offset = 0
        for i in range(n):
            text = " ".join(words[min(int(rng.paretovariate(0.8)), len(words) - 1)] for _ in range(rng.randrange(3, 20)))
            text += rng.choice(["", ", end.", " (x-y)"])
            line = f"doc{i:05d}\t{text}" if i % 10 else text  # every tenth line has no id
            doc = f"doc{i:05d}" if i % 10 else f"{os.path.basename(path)}:{offset}"
            docs[doc] = text
            f.write(line + "\n")
            offset += len(line.encode()) + 1
    return docs


def brute(docs, terms, any_term):
    """Every matching document's score, best first (ties in no particular order)."""
    tf = {d: {} for d in docs}
    for d, text in docs.items():
        for t in re.findall(r"[a-z0-9]+", text.lower()):
            tf[d][t] = tf[d].get(t, 0) + 1
    n = len(docs)
    terms = list(dict.fromkeys(t.lower() for t in terms))
    df = {t: sum(1 for d in docs if t in tf[d]) for t in terms}
    scores = {}
    for d in docs:
        held = [t for t in terms if t in tf[d]]
        if not held or (not any_term and len(held) != len(terms)):
            continue
        scores[d] = sum(tf[d][t] * math.log(n / df[t]) for t in held)
    return sorted(scores.items(), key=lambda x: -x[1])


def top_k_differs(got, scored, k):
    """Why `got` (DOC, SCORE pairs from index query) is not a top k of `scored` (brute's list), or
    None. Documents of equal score rank by document number, a hash the scan does not know: so the
    check is that the scores are the k best, each document has its score, and none repeats."""
    want = scored[:k]
    if len(got) != len(want):
        return f"{len(got)} results, the scan has {len(want)}"
    if any(abs(a - b) > 1e-9 for (_, a), (_, b) in zip(got, want)):
        return "the scores are not the k best"
    by_doc = dict(scored)
    for d, s in got:
        if d not in by_doc or abs(by_doc[d] - s) > 1e-9:
            return f"{d} does not match or scores {by_doc.get(d)}, not {s}"
    if len({d for d, _ in got}) != len(got):
        return "a document repeats"
    return None


def query(index, terms, any_term, k, *extra):
    argv = [SAWMILL, "index", "query", index, "--k", str(k), *extra, *terms] + (["--or"] if any_term else [])
    p = subprocess.run(argv, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise Fail(f"index query {terms}: {p.stderr.decode()}")
    out = [(line.split("\t")[0], float(line.split("\t")[1])) for line in p.stdout.decode().splitlines()]
    return out, p.stderr.decode()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        text = os.path.join(tmp, "corpus.txt")
        docs = corpus(text, 3000, 5)
        idx = os.path.join(tmp, "idx")
        subprocess.run([os.path.join(JOBS, "inverted_index"), "--input", text, "--output", idx, "--reducers", "3",
                        "--chunk_postings", "4", "--progress", "never"], check=True, capture_output=True)
        queries = [(["w1"], False), (["w1", "w2"], False), (["w1", "w7", "w30"], True), (["fox"], False),
                   (["FOX", "dog"], True), (["w3", "nope"], False), (["nope"], True), (["w0", "w1", "w2", "end"], False),
                   (["x", "y"], False)]
        for terms, any_term in queries:
            got, stats = query(idx, terms, any_term, 20)
            want = brute(docs, terms, any_term)
            if why := top_k_differs(got, want, 20):
                raise Fail(f"{'OR' if any_term else 'AND'} {terms}: {why}: got {got[:3]}, brute force {want[:3]}")
        rng = random.Random(9)
        vocabulary = [f"w{i}" for i in range(60)] + ["fox", "dog", "end"]
        for _ in range(40):
            terms = [rng.choice(vocabulary[:8] if rng.random() < 0.5 else vocabulary) for _ in range(rng.randrange(1, 5))]
            queries.append((terms, rng.random() < 0.5))
        for i, (terms, any_term) in enumerate(queries):
            k = [1, 5, 20, 200][i % 4]
            got, stats = query(idx, terms, any_term, k)
            want = brute(docs, terms, any_term)
            if why := top_k_differs(got, want, k):
                raise Fail(f"{'OR' if any_term else 'AND'} {terms} k={k}: {why}: got {got[:3]}, brute force {want[:3]}")
            if i % 5 == 0 and query(idx, terms, any_term, k, "--exhaustive")[0] != got:
                raise Fail(f"{'OR' if any_term else 'AND'} {terms} k={k}: --exhaustive differs")
        print(f"PASS {len(queries)} AND/OR queries (k 1 to 200) equal a brute-force scan of {len(docs)} documents "
              f"(posting lists in chunks of 4; --exhaustive agrees)", flush=True)
        store = os.path.join(tmp, "store")
        subprocess.run([os.path.join(JOBS, "inverted_index"), "--input", text, "--output", "dataset:idx", "--store",
                        store, "--reducers", "3", "--chunk_postings", "4", "--progress", "never"], check=True,
                       capture_output=True)
        got, _ = query("dataset:idx", ["w1", "w2"], False, 20, "--store", store)
        if got != query(idx, ["w1", "w2"], False, 20)[0]:
            raise Fail("querying the index as dataset:idx differs")
        print("PASS the index as a dataset (index query dataset:idx)", flush=True)
        p = subprocess.run([os.path.join(JOBS, "inverted_index"), "--input", text, "--output",
                            os.path.join(tmp, "collide"), "--doc_number_bits", "8", "--progress", "never"],
                           capture_output=True, text=True)
        if p.returncode == 0 or "hash to the same document number" not in p.stderr:
            raise Fail(f"8-bit document numbers: exit {p.returncode}, stderr {p.stderr[-300:]!r}")
        print("PASS two document ids of one number fail the job, naming both", flush=True)
        broken = os.path.join(tmp, "broken")
        shutil.copytree(idx, broken)
        for n in os.listdir(broken):
            if n.startswith("part-"):
                with open(os.path.join(broken, n), "r+b") as f:
                    f.truncate(100)
        p = subprocess.run([SAWMILL, "index", "query", broken, "w1", "w2"], capture_output=True, timeout=60)
        if p.returncode != 1 or b"broken/part-" not in p.stderr or p.stdout:
            raise Fail(f"truncated parts: exit {p.returncode}, stderr {p.stderr.decode()!r}, stdout {p.stdout[:80]!r}")
        print("PASS truncated parts: exit 1 naming the part file", flush=True)
        if "--cluster" in sys.argv:
            with Cluster(BUILD, workers=2, replication=1, dir=os.path.join(tmp, "cluster")) as c:
                c.put(text, "/corpus.txt")
                subprocess.run([os.path.join(JOBS, "inverted_index"), "--input", "dfs:/corpus.txt", "--output",
                                "dfs:/idx", "--cluster", c.dir, "--wait", "--reducers", "3", "--chunk_postings", "4",
                                "--progress", "never"], check=True, capture_output=True)
                for n in sorted(f for f in os.listdir(idx) if f.startswith("part-")):
                    remote = c.get_bytes(f"/idx/{n}")
                    with open(os.path.join(idx, n), "rb") as f:
                        if f.read() != remote:
                            raise Fail(f"cluster index part {n} differs from local mode")
                print("PASS cluster: index parts byte-identical to local mode", flush=True)


if __name__ == "__main__":
    run_main(main)

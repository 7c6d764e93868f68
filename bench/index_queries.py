#!/usr/bin/env python3
"""Query half of bench/index.sh: runs a fixed suite of AND/OR queries against an index built by
jobs/inverted_index and prints each query's latency beside the exhaustive scoring's (the baseline,
and the oracle: both must return the same documents and scores).

Terms are picked by frequency in the first 32 MiB of the corpus: f = the most frequent words, m =
rank ~100, l = rank ~2000, r = rank ~20000 (or the rarest there is). Each query runs --runs times;
the figure is the median whole-process wall time of `sawmill index query` (the tool's own
in-process time is shown beside it). Target: every median <= 50 ms.

Usage: bench/index_queries.py --sawmill BIN --index DIR --text FILE [--runs N] [--k K]
Exit 1 when a query fails or differs from the exhaustive scoring; a missed target is reported only.
"""
import argparse
import collections
import re
import statistics
import subprocess
import sys
import time


def pick_terms(text_path):
    with open(text_path, "rb") as f:
        sample = f.read(32 << 20).decode("ascii", "replace").lower()
    counts = collections.Counter(re.findall(r"[a-z0-9]+", sample))
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    at = lambda r: ranked[min(r, len(ranked) - 1)]  # noqa: E731
    return {"f0": at(0), "f1": at(1), "f2": at(2), "m0": at(100), "l0": at(2000), "r0": at(20000)}


SUITE = [["f0"], ["m0"], ["r0"],
         ["f0", "f1"], ["f0", "m0"], ["f0", "r0"], ["m0", "l0"], ["l0", "r0"],
         ["f0", "f1", "f2"], ["f0", "m0", "r0"], ["f0", "f1", "l0"],
         ["f0", "f1", "m0", "l0"]]


def run(argv):
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, timeout=600)
    wall = (time.perf_counter() - t0) * 1000
    if p.returncode != 0:
        sys.exit(f"bench/index_queries: {' '.join(argv)} failed: {p.stderr.decode()}")
    m = re.search(r"query: (\d+) result\(s\), (\d+) index records read, (\d+) postings, (\d+) tf combinations, "
                  r"([0-9.]+) ms", p.stderr.decode())
    if not m:
        sys.exit(f"bench/index_queries: no stats line from {' '.join(argv)}: {p.stderr.decode()}")
    return p.stdout, wall, [int(m.group(i)) for i in range(1, 5)], float(m.group(5))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sawmill", required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--k", type=int, default=10)
    a = ap.parse_args()
    terms = pick_terms(a.text)
    print("terms: " + " ".join(f"{k}={v}" for k, v in terms.items()))
    print(f"{'query':<34} {'hits':>4} {'records':>7} {'postings':>9} {'vectors':>7} {'ms':>7} {'in-proc':>7} "
          f"{'exhaustive':>10} {'speedup':>7}")
    worst = 0.0
    mismatches = []
    for names in SUITE:
        for any_term in ([False, True] if len(names) > 1 else [False]):
            words = [terms[n] for n in names]
            argv = [a.sawmill, "index", "query", a.index, "--k", str(a.k)] + (["--or"] if any_term else []) + words
            runs = [run(argv) for _ in range(a.runs)]
            out, _, stats, _ = runs[0]
            wall = statistics.median(r[1] for r in runs)
            inproc = statistics.median(r[3] for r in runs)
            ex_out, ex_wall, _, _ = run(argv + ["--exhaustive"])
            label = (" OR " if any_term else " AND ").join(names)
            if out != ex_out:
                mismatches.append(label)
            worst = max(worst, wall)
            print(f"{label:<34} {stats[0]:>4} {stats[1]:>7} {stats[2]:>9} {stats[3]:>7} {wall:>7.1f} {inproc:>7.1f} "
                  f"{ex_wall:>10.1f} {ex_wall / wall:>6.1f}x" + ("  DIFFERS" if out != ex_out else ""))
    verdict = "met" if worst <= 50 else "MISSED"
    print(f"slowest query median: {worst:.1f} ms (target <= 50 ms: {verdict})")
    if mismatches:
        print(f"bench/index_queries: results differ from --exhaustive for {', '.join(mismatches)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

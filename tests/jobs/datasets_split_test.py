#!/usr/bin/env python3
"""Memoization and split size (docs/datasets.md): a job whose output depends on map task
boundaries (JobSpec::keep_split_size: a dataflow stage folding doubles or dense keys, such as
pagerank's) has --split_mb in its fingerprint, so a run with another split size is not "up to
date" and runs; jobs whose output does not depend on it (wordcount, wordcount_df) stay up to date
across --split_mb, as before.

Usage: tests/jobs/datasets_split_test.py BUILD_DIR
"""
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from harness import Fail, run, run_main  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
SAWMILL = os.path.join(BUILD, "sawmill")
JOBS = os.path.join(BUILD, "jobs")


def job(store, binary, *args):
    return run([os.path.join(JOBS, binary), *args, "--store", store, "--progress", "never"], timeout=120).stdout.decode()


def versions(store, name):
    show = run([SAWMILL, "dataset", "show", name, "--store", store]).stdout.decode()
    return [line.split()[0] for line in show.splitlines() if line[:1].isdigit()]


def up_to_date(out):
    return "status=up_to_date maps=0 reduces=0" in out


def main():
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store")
        os.makedirs(store)
        edges = os.path.join(tmp, "edges.tsv")
        with open(edges, "w") as f:
            f.write("".join(f"p{rng.randrange(300)}\tp{rng.randrange(300)}\n" for _ in range(3000)))
        text = os.path.join(tmp, "words.txt")
        with open(text, "w") as f:
            f.write("".join(" ".join(f"w{rng.randrange(500)}" for _ in range(8)) + "\n" for _ in range(3000)))

        # pagerank keeps its split size: another --split_mb is another computation.
        rank = lambda mb: job(store, "pagerank", "--input", edges, "--output", "dataset:ranks", "--iterations", "3",
                              "--split_mb", str(mb))
        first = rank(1)
        if up_to_date(first) or "status=ok" not in first:
            raise Fail(f"pagerank's first run did not run: {first}")
        if not up_to_date(rank(1)):
            raise Fail("pagerank rerun with the same --split_mb was not up to date")
        other = rank(2)
        if up_to_date(other):
            raise Fail(f"pagerank with --split_mb 2 was 'up to date' with the --split_mb 1 version: {other.strip()}")
        if len(versions(store, "ranks")) != 2:
            raise Fail(f"pagerank with another --split_mb made no new version: {versions(store, 'ranks')}")
        lineage = run([SAWMILL, "dataset", "show", "ranks", "2", "--store", store]).stdout.decode()
        if "arg --split_mb=2" not in lineage:
            raise Fail(f"the split size is not in pagerank's lineage: {lineage}")
        if not up_to_date(rank(2)) or not up_to_date(rank(1)):
            raise Fail("pagerank reruns with an earlier --split_mb were not up to date")
        print("PASS pagerank: --split_mb in its fingerprint (another split size runs, the same is up to date)",
              flush=True)

        # Jobs whose output does not depend on task boundaries: --split_mb changes nothing.
        for binary in ("wordcount", "wordcount_df"):
            name = f"words-{binary.replace('_', '-')}"
            words = lambda mb: job(store, binary, "--input", text, "--output", f"dataset:{name}", "--split_mb", str(mb))
            words(1)
            again = words(2)
            if not up_to_date(again) or len(versions(store, name)) != 1:
                raise Fail(f"{binary} with another --split_mb was not up to date: {again.strip()}")
            lineage = run([SAWMILL, "dataset", "show", name, "1", "--store", store]).stdout.decode()
            if "split_mb" in lineage:
                raise Fail(f"{binary}'s lineage names the split size: {lineage}")
        print("PASS wordcount, wordcount_df: up to date across --split_mb (fingerprint unchanged)", flush=True)


if __name__ == "__main__":
    run_main(main)

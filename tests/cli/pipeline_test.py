#!/usr/bin/env python3
"""`sawmill pipeline run|check` on a local store: dependency order with independent jobs in one
step, up-to-date jobs skipped, downstream jobs reading the version produced upstream in the same
run, a failing check keeping the old version current, and a cycle or a missing input refused
before anything runs.

Usage: tests/cli/pipeline_test.py BUILD_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from harness import Fail, run_main  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
SAWMILL = os.path.join(BUILD, "sawmill")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store")
        text = os.path.join(tmp, "text.txt")
        with open(text, "w") as f:
            f.write("a b a\nc\n")

        def pipeline(jobs, *flags, ok=True, name="p.json"):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                json.dump({"jobs": jobs}, f)
            p = subprocess.run([SAWMILL, "pipeline", *flags[:1], path, "--store", store, *flags[1:]],
                               capture_output=True, timeout=300)
            if ok and p.returncode != 0:
                raise Fail(f"pipeline {flags}: exit {p.returncode}: {p.stdout.decode()} {p.stderr.decode()}")
            return p

        def current(name):
            out = subprocess.run([SAWMILL, "dataset", "list", "--store", store], capture_output=True).stdout.decode()
            for line in out.splitlines():
                if line.startswith(name + " "):
                    return line.split()[2]
            return None

        # Versions after the first run pass the check; a later one is "buggy".
        check = ["/bin/sh", "-c", "case '{version}' in *@1) exit 0;; *) exit 1;; esac"]
        jobs = [
            {"name": "counts", "binary": "wordcount", "inputs": [text], "output": "dataset:counts"},
            {"name": "counts2", "binary": "wordcount", "inputs": [text], "output": "dataset:counts2",
             "args": ["--reducers", "2"]},
            {"name": "sorted", "binary": "sort", "inputs": ["dataset:counts"], "output": "dataset:sorted",
             "args": ["--input_format", "records"], "check": check},
        ]
        # Refusals before anything runs.
        cyc = [dict(jobs[2], inputs=["dataset:sorted2"]), {"name": "s2", "binary": "sort", "inputs": ["dataset:sorted"],
                                                            "output": "dataset:sorted2"}]
        p = pipeline(cyc, "run", ok=False, name="cycle.json")
        if p.returncode != 2 or b"cycle" not in p.stderr or os.path.exists(os.path.join(store, "datasets")):
            raise Fail(f"cycle: exit {p.returncode}: {p.stderr.decode()}")
        missing = [dict(jobs[0], inputs=[os.path.join(tmp, "nope.txt")])]
        p = pipeline(missing, "run", ok=False, name="missing.json")
        if p.returncode != 2 or b"missing input" not in p.stderr or os.path.exists(os.path.join(store, "datasets")):
            raise Fail(f"missing input: exit {p.returncode}: {p.stderr.decode()}")
        print("PASS refusals: a cycle and a missing input, nothing ran", flush=True)

        out = pipeline(jobs, "run", "--promote").stdout.decode()
        if "step 1: counts counts2" not in out or "step 2: sorted" not in out:
            raise Fail(f"order: {out}")
        if "counts: new version 00000001" not in out or "sorted: new version 00000001" not in out:
            raise Fail(f"first run: {out}")
        if current("counts") != "00000001" or current("sorted") != "00000001":
            raise Fail(f"--promote did not promote: {current('counts')} {current('sorted')}")
        out = pipeline(jobs, "run", "--promote").stdout.decode()
        if "pipeline: 0 ran, 3 up to date, 0 failed" not in out:
            raise Fail(f"rerun was not all up to date: {out}")
        print("PASS first run: 2 steps, independent jobs together, promoted; rerun: 3 up to date", flush=True)

        with open(text, "a") as f:
            f.write("new words\n")
        p = pipeline(jobs, "run", "--promote", ok=False)
        out = p.stdout.decode()
        if "counts: new version 00000002" not in out or "sorted: new version 00000002" not in out:
            raise Fail(f"changed input: {out}")
        if "CHECK FAILED" not in out or "not promoted, current stays 00000001" not in out or p.returncode != 1:
            raise Fail(f"the failing check: exit {p.returncode}: {out}")
        if current("counts") != "00000002" or current("sorted") != "00000001":
            raise Fail(f"after a failed check: counts {current('counts')}, sorted {current('sorted')}")
        # sorted version 2 read counts version 2 (this run's), not counts' old current.
        show = subprocess.run([SAWMILL, "dataset", "show", "--store", store, "sorted", "2"],
                              capture_output=True).stdout.decode()
        if "datasets/counts/00000002" not in show:
            raise Fail(f"sorted 2 did not read counts 2: {show}")
        print("PASS changed input: new versions downstream from this run's upstream version; a failed check "
              "keeps the old version current", flush=True)

        # A check's bare program name: the jobs directory, then sawmill itself, then PATH; one
        # found nowhere is refused before anything runs (it used to fail after the jobs ran).
        missing = [{"name": "checked", "binary": "wordcount", "inputs": [text], "output": "dataset:checked",
                    "check": ["no-such-validator", "{version}"]}]
        p = pipeline(missing, "run", ok=False, name="missing-check.json")
        if p.returncode != 2 or b"no-such-validator" not in p.stderr or current("checked") is not None:
            raise Fail(f"a check found nowhere: exit {p.returncode}: {p.stdout.decode()} {p.stderr.decode()}")
        found = [dict(missing[0], check=["sawmill", "manifest", "{version}"])]
        p = pipeline(found, "run", "--promote", name="sawmill-check.json")
        if b"check passed" not in p.stdout or current("checked") != "00000001":
            raise Fail(f"the sawmill manifest check: {p.stdout.decode()} {p.stderr.decode()}")
        print("PASS a check named by a bare name runs from the jobs directory, sawmill or PATH; one found "
              "nowhere is refused before anything runs", flush=True)


if __name__ == "__main__":
    run_main(main)

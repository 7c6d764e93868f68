#!/usr/bin/env python3
"""The nightly scenario end to end, on a local store:
day 1: archive the day's web logs, run the pipeline (per-day page stats, all-time page stats,
sessions, a search index of the log payloads), promote; day 2: archive the new day, rerun the
same pipeline: only the datasets that read the new segments are recomputed (day 1's stats are up
to date), and the promoted index answers queries over both days as a brute-force scan does; then
a deliberately buggy version of the sessions job is caught by its check and not promoted, so
readers keep the good one.

Usage: tests/jobs/nightly_test.py BUILD_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from harness import Fail, run_main  # noqa: E402
from views_test import web_log  # noqa: E402
from index_test import brute, top_k_differs  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
SAWMILL = os.path.join(BUILD, "sawmill")
DAY = 86_400_000
DAY1 = 1_764_720_000_000  # 2025-12-03T00:00:00Z


def day_log(day_start, seed):
    """One day of hits: the generator's times, shifted and folded into [day_start, day_start + 1 day)."""
    recs = web_log(seed, 1500, 1)[0]
    return [(t - 1_764_720_000_000) % DAY + day_start for _, t, _ in recs], [p for _, _, p in recs]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store")
        archived = []

        def archive(times, payloads):
            first = len(archived)
            rows = sorted(zip(times, payloads))
            archived.extend(rows)
            data = "".join(f"{first + i}\t{t}\t{p}\n" for i, (t, p) in enumerate(rows)).encode()
            p = subprocess.run([SAWMILL, "logs", "archive", "--store", store, "--stream", "web", "--partition", "0"],
                               input=data, capture_output=True)
            if p.returncode != 0:
                raise Fail(f"archive: {p.stderr.decode()}")

        def sessions_count(version):
            out = subprocess.run([SAWMILL, "dataset", "show", "--store", store, "sessions", str(version)],
                                 capture_output=True, text=True).stdout
            return sum(int(line.split()[3]) for line in out.splitlines() if line.startswith("part "))

        def pipeline(gap_minutes, limit):
            # The check: a session count below `limit` (the buggy version makes far more).
            check = ["/bin/sh", "-c",
                     f"v=$(echo '{{version}}' | sed 's/.*@//'); n=$({SAWMILL} dataset show --store {store} sessions $v "
                     f"| awk '/^part /{{s+=$4}} END{{print s}}'); [ \"$n\" -lt {limit} ]"]
            jobs = [
                {"name": "stats_day1", "binary": "page_stats",
                 "inputs": ["logs:web@2025-12-03T00:00:00Z,2025-12-04T00:00:00Z"], "output": "dataset:stats_day1"},
                {"name": "stats_all", "binary": "page_stats", "inputs": ["logs:web"], "output": "dataset:stats_all"},
                {"name": "sessions", "binary": "sessionize", "inputs": ["logs:web"], "output": "dataset:sessions",
                 "args": ["--gap_minutes", str(gap_minutes)], "check": check},
                {"name": "search", "binary": "inverted_index", "inputs": ["logs:web"], "output": "dataset:search"},
            ]
            path = os.path.join(tmp, "nightly.json")
            with open(path, "w") as f:
                json.dump({"jobs": jobs}, f)
            return subprocess.run([SAWMILL, "pipeline", "run", path, "--store", store, "--promote"],
                                  capture_output=True, text=True, timeout=300)

        def current(name):
            out = subprocess.run([SAWMILL, "dataset", "list", "--store", store], capture_output=True, text=True).stdout
            for line in out.splitlines():
                if line.startswith(name + " "):
                    return line.split()[2]
            return None

        def check_search():
            # Log records are documents PARTITION:OFFSET with their payload as text.
            docs = {f"0:{i}": payload for i, (_, payload) in enumerate(archived)}
            for terms, any_term in [(["user7", "p"], False), (["user3", "user9", "12"], True), (["user1", "5"], False)]:
                argv = [SAWMILL, "index", "query", "dataset:search", "--store", store, "--k", "25", *terms]
                p = subprocess.run(argv + (["--or"] if any_term else []), capture_output=True, text=True)
                got = [(line.split("\t")[0], float(line.split("\t")[1])) for line in p.stdout.splitlines()]
                want = brute(docs, terms, any_term)
                why = f"exit {p.returncode} {p.stderr}" if p.returncode != 0 else top_k_differs(got, want, 25)
                if why:
                    raise Fail(f"index query {terms}: {why}: got {got[:3]}, scan {want[:3]}")

        archive(*day_log(DAY1, 11))
        p = pipeline(30, 100000)
        if p.returncode != 0 or "pipeline: 4 ran, 0 up to date" not in p.stdout:
            raise Fail(f"day 1: exit {p.returncode}: {p.stdout} {p.stderr}")
        good_day1 = sessions_count(1)
        check_search()
        print(f"PASS day 1: 4 datasets built and promoted ({good_day1} sessions; index queries equal a scan)",
              flush=True)

        archive(*day_log(DAY1 + DAY, 12))
        p = pipeline(30, 100000)
        if p.returncode != 0 or "stats_day1: up to date, version 00000001" not in p.stdout or \
                "stats_all: new version 00000002" not in p.stdout or "sessions: new version 00000002" not in p.stdout \
                or "search: new version 00000002" not in p.stdout:
            raise Fail(f"day 2: exit {p.returncode}: {p.stdout} {p.stderr}")
        currents = tuple(current(n) for n in ("stats_day1", "stats_all", "sessions", "search"))
        if currents != ("00000001", "00000002", "00000002", "00000002"):
            raise Fail(f"day 2 currents: {currents}")
        check_search()
        good = sessions_count(2)
        print(f"PASS day 2: only the datasets reading the new segments recomputed ({good} sessions); "
              f"day 1's stats up to date; the new index answers over both days", flush=True)

        # A buggy sessions job (a 1-minute gap splits every visit): its check fails, it is not promoted.
        p = pipeline(1, good + 1)
        if p.returncode != 1 or "sessions: new version 00000003" not in p.stdout or "CHECK FAILED" not in p.stdout \
                or "not promoted, current stays 00000002" not in p.stdout:
            raise Fail(f"buggy version: exit {p.returncode}: {p.stdout} {p.stderr}")
        if sessions_count(3) <= good or current("sessions") != "00000002":
            raise Fail(f"buggy version: {sessions_count(3)} sessions, current {current('sessions')}")
        print(f"PASS buggy version: {sessions_count(3)} sessions caught by the check; readers keep version 00000002",
              flush=True)


if __name__ == "__main__":
    run_main(main)

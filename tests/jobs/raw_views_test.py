#!/usr/bin/env python3
"""Views over raw logs against sqlite3: access log lines (combined log format, several time zones,
anonymous users, query strings, the response time after the agent) and JSON lines, appended with
`sawmill logs append` into two partitions, then jobs/page_stats and jobs/sessionize with
--log_format combined|jsonl equal the same statistics computed by sqlite3 over the hits this
test generated (the queries of views_test.py); lines a view cannot read are counted; on a
2-worker cluster the outputs are byte-identical to local mode.

Usage: tests/jobs/raw_views_test.py BUILD_DIR [--cluster]
"""
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from harness import Cluster, Fail, run_main  # noqa: E402
from views_test import JOBS, SAWMILL, lines, run, same_rows, sqlite_page_stats, sqlite_sessions  # noqa: E402

DAY0 = datetime.datetime(2026, 12, 3, 21, 0, tzinfo=datetime.timezone.utc)  # hits span UTC midnights
ZONES = [datetime.timezone(datetime.timedelta(hours=h)) for h in (-7, 0, 1, 5.5)]


def hits(seed, n):
    """(ts_ms, user or None for anonymous, host, page, query, latency_ms), in time order per user."""
    rng = random.Random(seed)
    users = [f"user{i}" for i in range(25)]
    clock = {u: int(DAY0.timestamp() * 1000) + rng.randrange(3_600) * 1000 for u in users}
    out = []
    for _ in range(n):
        u = rng.choice(users)
        clock[u] += rng.choice([rng.randrange(1000, 600_000), rng.randrange(1_700_000, 4_000_000)]) // 1000 * 1000
        anonymous = rng.random() < 0.1
        host = f"10.0.{users.index(u)}.9"
        out.append((clock[u], None if anonymous else u, host, f"/p/{rng.randrange(20)}",
                    rng.choice(["", "?q=1", "?q=2&x=y#top"]), rng.randrange(1, 900)))
    return out


def combined(hit, rng):
    ts, user, host, page, query, latency = hit
    t = datetime.datetime.fromtimestamp(ts / 1000, rng.choice(ZONES))
    return (f'{host} - {user or "-"} [{t.strftime("%d/%b/%Y:%H:%M:%S %z")}] "GET {page}{query} HTTP/1.1" 200 '
            f'{rng.randrange(100, 9000)} "https://example.com/{query}" "Mozilla/5.0 (X11; \\"quoted\\")" '
            f'{latency / 1000:.3f}')


def jsonl(hit, rng):
    ts, user, host, page, query, latency = hit
    t = datetime.datetime.fromtimestamp(ts / 1000, rng.choice(ZONES)).isoformat(timespec="milliseconds")
    row = {"time": t, "user": user or host, "path": page + query, "latency_ms": latency, "agent": {"n": [1, 2]}}
    return json.dumps(row, sort_keys=bool(rng.randrange(2)))


def as_parts(split, with_latency=True):
    """The hits as views_test's (offset, ts, USER<TAB>PAGE<TAB>LATENCY) partitions."""
    return [[(i, ts, f"{user or host}\t{page}\t{latency if with_latency else 'x'}")
             for i, (ts, user, host, page, query, latency) in enumerate(part)] for part in split]


def append(where, stream, fmt, parts, tmp):
    for pi, text in enumerate(parts):
        path = os.path.join(tmp, f"{stream}-{pi}.log")
        with open(path, "w") as f:
            f.write(text)
        run([SAWMILL, "logs", "append", *where, "--stream", stream, "--partition", str(pi), "--format", fmt, path])


def check_views(tmp, where, stream, fmt, want_sessions, want_stats, malformed, suffix=""):
    outs = {}
    for job, want, flags in (("sessionize", want_sessions, ["--reducers", "3"]),
                             ("page_stats", want_stats, ["--reducers", "2"])):
        out = os.path.join(tmp, f"{stream}-{job}{suffix}")
        argv = [os.path.join(JOBS, job), "--input", f"logs:{stream}", "--log_format", fmt, *flags, *where]
        if where[0] == "--cluster":
            argv += ["--output", f"dfs:/{stream}-{job}", "--wait", "--progress", "never"]
        else:
            argv += ["--output", out]
        p = run(argv)
        counter = f"{job}.malformed_records={malformed[job]}".encode()
        if malformed[job] and counter not in p.stdout:
            raise Fail(f"{job} --log_format {fmt}: want {counter.decode()} in {p.stdout.decode()}")
        cat = [SAWMILL, "cat", out] if where[0] != "--cluster" else [SAWMILL, "cat", *where, f"dfs:/{stream}-{job}"]
        got = lines(cat)
        same_rows(f"{job} --log_format {fmt}", got, want)
        outs[job] = got
    return outs


def main():
    rng = random.Random(7)
    all_hits = hits(11, 2400)
    split = [[], []]
    for h in all_hits:
        split[rng.randrange(2)].append(h)
    # A combined line without the response time: sessionize reads it, page_stats counts it.
    late = (split[1][-1][0] + 1000, "user3", "10.0.3.9", "/p/1", "", 0)
    clf = ["".join(combined(h, rng) + "\n" for h in part) for part in split]
    clf[1] += combined(late, rng).rsplit(" ", 1)[0] + "\n"
    sessions_clf = sqlite_sessions(as_parts([split[0], split[1] + [late]]), 30 * 60_000)
    stats = sqlite_page_stats(as_parts(split))
    # A JSON line with a time but no user: both views count it.
    js = ["".join(jsonl(h, rng) + "\n" for h in part) for part in split]
    js[0] += json.dumps({"time": "2026-12-04T00:00:00Z", "path": "/p/1", "latency_ms": 5}) + "\n"
    sessions_js = sqlite_sessions(as_parts(split), 30 * 60_000)
    with tempfile.TemporaryDirectory() as tmp:
        store = ["--store", os.path.join(tmp, "store")]
        append(store, "clf", "combined", clf, tmp)
        append(store, "js", "jsonl", js, tmp)
        local_clf = check_views(tmp, store, "clf", "combined", sessions_clf, stats,
                                {"sessionize": 0, "page_stats": 1})
        local_js = check_views(tmp, store, "js", "jsonl", sessions_js, stats, {"sessionize": 1, "page_stats": 1})
        print(f"PASS local: page_stats and sessionize over {len(all_hits)} appended access log lines "
              f"(combined) and JSON lines = sqlite3 ({len(stats)} page-days, {len(sessions_js)} sessions); "
              "unreadable lines counted", flush=True)
        if "--cluster" in sys.argv:
            with Cluster(sys.argv[1], workers=2, replication=1, dir=os.path.join(tmp, "cluster")) as c:
                where = ["--cluster", c.dir]
                append(where, "clf", "combined", clf, tmp)
                append(where, "js", "jsonl", js, tmp)
                for stream, fmt, local, want_s, malformed in (
                        ("clf", "combined", local_clf, sessions_clf, {"sessionize": 0, "page_stats": 1}),
                        ("js", "jsonl", local_js, sessions_js, {"sessionize": 1, "page_stats": 1})):
                    got = check_views(tmp, where, stream, fmt, want_s, stats, malformed, "-cluster")
                    if got != local:
                        raise Fail(f"--log_format {fmt}: the cluster's rows differ from local mode's")
            print("PASS cluster (2 workers): the same rows in the same order as local mode", flush=True)


if __name__ == "__main__":
    run_main(main)

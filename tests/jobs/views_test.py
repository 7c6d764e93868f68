#!/usr/bin/env python3
"""Derived views from web logs against sqlite3: jobs/sessionize over an archived log stream (two
partitions) equals the same sessions computed by SQL window functions, and jobs/page_stats the
same per page-day hits, unique users and nearest-rank percentiles; malformed records are
counted; the cluster's output is byte-identical to local mode's.

Usage: tests/jobs/views_test.py BUILD_DIR [--cluster]
"""
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from harness import Cluster, Fail, run_main  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
SAWMILL = os.path.join(BUILD, "sawmill")
JOBS = os.path.join(BUILD, "jobs")
DAY0 = 1_764_720_000_000  # 2025-12-03T00:00:00Z


def web_log(seed, n, partitions):
    """Per partition: (offset, ts, payload) with USER<TAB>PAGE<TAB>LATENCY payloads; users come
    back after short or long pauses, so some gaps exceed 30 minutes."""
    rng = random.Random(seed)
    users = [f"user{i}" for i in range(40)]
    clock = {u: DAY0 + rng.randrange(3_600_000) for u in users}
    parts = [[] for _ in range(partitions)]
    for _ in range(n):
        u = rng.choice(users)
        clock[u] += rng.choice([rng.randrange(1000, 600_000), rng.randrange(1_700_000, 1_900_000),
                                rng.randrange(3_000_000, 9_000_000)])
        page = f"/p/{rng.randrange(30)}"
        p = parts[rng.randrange(partitions)]
        p.append((len(p), clock[u], f"{u}\t{page}\t{rng.randrange(5, 900)}"))
    return parts


def sqlite_sessions(parts, gap_ms):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE hits (part INT, off INT, ts INT, user TEXT, page TEXT)")
    for pi, recs in enumerate(parts):
        for off, ts, payload in recs:
            fields = payload.split("\t")
            if len(fields) == 3 and fields[0]:
                db.execute("INSERT INTO hits VALUES (?, ?, ?, ?, ?)", (pi, off, ts, fields[0], fields[1]))
    rows = db.execute(f"""
        WITH o AS (SELECT user, ts, page,
                          ts - LAG(ts) OVER (PARTITION BY user ORDER BY ts, part, off) AS gap FROM hits),
             m AS (SELECT *, SUM(CASE WHEN gap IS NULL OR gap > {gap_ms} THEN 1 ELSE 0 END)
                             OVER (PARTITION BY user ORDER BY ts ROWS UNBOUNDED PRECEDING) AS sid FROM o)
        SELECT user, MIN(ts), MAX(ts), COUNT(*), COUNT(DISTINCT page) FROM m GROUP BY user, sid
        ORDER BY user, MIN(ts)""").fetchall()
    return [f"{u}\t{a}\t{b}\t{n}\t{d}" for u, a, b, n, d in rows]


def sqlite_page_stats(parts):
    """Per page and UTC day: hits, distinct users, nearest-rank p50/p95/p99 latency."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE hits (ts INT, user TEXT, page TEXT, latency INT)")
    for recs in parts:
        for _, ts, payload in recs:
            f = payload.split("\t")
            if len(f) == 3 and f[0] and f[1] and f[2].isdigit():
                db.execute("INSERT INTO hits VALUES (?, ?, ?, ?)", (ts, f[0], f[1], int(f[2])))
    rows = db.execute("""
        WITH d AS (SELECT page, strftime('%Y-%m-%d', ts / 1000, 'unixepoch') AS day, user, latency FROM hits),
             r AS (SELECT page, day, latency,
                          ROW_NUMBER() OVER (PARTITION BY page, day ORDER BY latency) AS rn,
                          COUNT(*) OVER (PARTITION BY page, day) AS n FROM d),
             p AS (SELECT page, day, n,
                          MIN(CASE WHEN rn >= MAX((50 * n + 99) / 100, 1) THEN latency END) AS p50,
                          MIN(CASE WHEN rn >= MAX((95 * n + 99) / 100, 1) THEN latency END) AS p95,
                          MIN(CASE WHEN rn >= MAX((99 * n + 99) / 100, 1) THEN latency END) AS p99
                   FROM r GROUP BY page, day),
             u AS (SELECT page, day, COUNT(DISTINCT user) AS users FROM d GROUP BY page, day)
        SELECT p.page, p.day, p.n, u.users, p.p50, p.p95, p.p99 FROM p JOIN u USING (page, day)
        ORDER BY p.page, p.day""").fetchall()
    return [f"{pg}\t{day}\t{n}\t{us}\t{a}\t{b}\t{c}" for pg, day, n, us, a, b, c in rows]


def sqlite_country_stats(parts, users):
    """Hits LEFT JOIN users (first line of a user wins; missing users: "unknown"), per country and day."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE hits (ts INT, user TEXT, latency INT)")
    db.execute("CREATE TABLE users (user TEXT, country TEXT)")
    for recs in parts:
        for _, ts, payload in recs:
            f = payload.split("\t")
            if len(f) == 3 and f[0] and f[2].isdigit():
                db.execute("INSERT INTO hits VALUES (?, ?, ?)", (ts, f[0], int(f[2])))
    db.executemany("INSERT INTO users VALUES (?, ?)", users)
    rows = db.execute("""
        WITH firsts AS (SELECT user, country FROM users u WHERE rowid = (SELECT MIN(rowid) FROM users WHERE user = u.user)),
             d AS (SELECT COALESCE(f.country, 'unknown') || char(9) || strftime('%Y-%m-%d', h.ts / 1000, 'unixepoch') AS k,
                          h.user, h.latency FROM hits h LEFT JOIN firsts f ON f.user = h.user),
             r AS (SELECT k, latency, ROW_NUMBER() OVER (PARTITION BY k ORDER BY latency) AS rn,
                          COUNT(*) OVER (PARTITION BY k) AS n FROM d)
        SELECT r.k, r.n, (SELECT COUNT(DISTINCT user) FROM d WHERE d.k = r.k),
               MIN(CASE WHEN rn >= MAX((50 * n + 99) / 100, 1) THEN latency END),
               MIN(CASE WHEN rn >= MAX((95 * n + 99) / 100, 1) THEN latency END),
               MIN(CASE WHEN rn >= MAX((99 * n + 99) / 100, 1) THEN latency END)
        FROM r GROUP BY r.k ORDER BY r.k""").fetchall()
    return [f"{k}\t{n}\t{us}\t{a}\t{b}\t{c}" for k, n, us, a, b, c in rows]


def run(argv, ok=True):
    p = subprocess.run(argv, capture_output=True, timeout=300)
    if ok and p.returncode != 0:
        raise Fail(f"{' '.join(argv[:3])}...: exit {p.returncode}: {p.stderr.decode()[-800:]}")
    return p


def archive(where, parts):
    for pi, recs in enumerate(parts):
        data = "".join(f"{o}\t{t}\t{p}\n" for o, t, p in recs).encode()
        p = subprocess.run([SAWMILL, "logs", "archive", *where, "--stream", "web", "--partition", str(pi)],
                           input=data, capture_output=True)
        if p.returncode != 0:
            raise Fail(f"archive: {p.stderr.decode()}")


def lines(cat_argv):
    out = run(cat_argv).stdout.decode()
    return [re.sub(r"\\t", "\t", line) for line in out.splitlines()]


def same_rows(what, got, want):
    """The job's rows equal sqlite3's, in any order."""
    if sorted(got) != sorted(want):
        raise Fail(f"{what}: {len(got)} rows, sqlite {len(want)}; first differences: {sorted(set(got) ^ set(want))[:3]}")


def main():
    parts = web_log(4, 3000, 2)
    parts[1].append((len(parts[1]), DAY0, "no tabs here"))  # malformed
    want = sqlite_sessions(parts, 30 * 60_000)
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store")
        archive(["--store", store], parts)
        out = os.path.join(tmp, "sessions")
        p = run([os.path.join(JOBS, "sessionize"), "--input", "logs:web", "--output", out, "--store", store,
                 "--reducers", "3"])
        if b"sessionize.malformed_records=1" not in p.stdout:
            raise Fail(f"the malformed record was not counted: {p.stdout.decode()}")
        got = lines([SAWMILL, "cat", out])
        same_rows("sessionize", got, want)
        print(f"PASS local: sessionize = sqlite3 window functions ({len(want)} sessions of {sum(map(len, parts))} "
              f"records, 2 log partitions, 1 malformed counted)", flush=True)
        stats = os.path.join(tmp, "stats")
        p = run([os.path.join(JOBS, "page_stats"), "--input", "logs:web", "--output", stats, "--store", store,
                 "--reducers", "2"])
        if b"page_stats.malformed_records=1" not in p.stdout:
            raise Fail(f"page_stats: the malformed record was not counted: {p.stdout.decode()}")
        got_stats, want_stats = lines([SAWMILL, "cat", stats]), sqlite_page_stats(parts)
        same_rows("page_stats", got_stats, want_stats)
        print(f"PASS local: page_stats = sqlite3 ({len(want_stats)} page-days: hits, unique users, p50/p95/p99)",
              flush=True)
        # Users 0-34 have countries (user3 twice: the first line wins); 35-39 are unknown.
        users = [(f"user{i}", ["fr", "de", "jp", "br"][i % 4]) for i in range(35)] + [("user3", "zz")]
        users_tsv = os.path.join(tmp, "users.tsv")
        with open(users_tsv, "w") as f:
            f.write("".join(f"{u}\t{c}\n" for u, c in users))
        want_country = sqlite_country_stats(parts, users)
        for strategy in ("auto", "broadcast"):
            country = os.path.join(tmp, f"country-{strategy}")
            run([os.path.join(JOBS, "country_stats"), "--input", "logs:web", "--users", users_tsv, "--strategy", strategy,
                 "--output", country, "--store", store, "--reducers", "2"])
            got_country = lines([SAWMILL, "cat", country])
            same_rows(f"country_stats --strategy {strategy}", got_country, want_country)
        print(f"PASS local: country_stats (hits LEFT JOIN users, reduce-side and broadcast) = sqlite3 "
              f"({len(want_country)} country-days)", flush=True)
        if "--cluster" in sys.argv:
            # Each view job on 1, 2 and 4 workers; country_stats with both of its join strategies.
            jobs = [("sessionize", ["--reducers", "3"], out), ("page_stats", ["--reducers", "2"], stats)] + [
                ("country_stats", ["--users", "dfs:/users.tsv", "--strategy", strategy, "--reducers", "2"],
                 os.path.join(tmp, f"country-{strategy}")) for strategy in ("auto", "broadcast")]
            for workers in (1, 2, 4):
                with Cluster(BUILD, workers=workers, replication=1, dir=os.path.join(tmp, f"cluster{workers}")) as c:
                    d = c.dir
                    archive(["--cluster", d], parts)
                    run([SAWMILL, "dfs", "--cluster", d, "put", users_tsv, "/users.tsv"])
                    for i, (binary, flags, local_dir) in enumerate(jobs):
                        run([os.path.join(JOBS, binary), "--input", "logs:web", "--output", f"dfs:/out{i}", "--cluster",
                             d, "--wait", "--progress", "never", *flags])
                        for n in sorted(f for f in os.listdir(local_dir) if f.startswith("part-")):
                            remote = run([SAWMILL, "dfs", "--cluster", d, "cat", f"/out{i}/{n}"]).stdout
                            with open(os.path.join(local_dir, n), "rb") as f:
                                if f.read() != remote:
                                    raise Fail(f"{binary} {' '.join(flags)} on {workers} worker(s): {n} differs "
                                               "from local mode")
                print(f"PASS cluster: sessionize, page_stats and country_stats (both strategies) on {workers} "
                      "worker(s): parts byte-identical to local mode", flush=True)

if __name__ == "__main__":
    run_main(main)

#!/usr/bin/env python3
"""`sawmill logs append` of raw log files on a local store and on a cluster's store: each line is
appended once at the next offset with the time it carries (checked against Python's own parsing
of the same lines), whether a file is appended again, grows (a partial last line waits), is
rotated and compressed (gzip, zstd, bzip2), or a second appender races the first (it fails,
nothing is lost or doubled); bad lines fail the append naming file and line with nothing
written, or are counted with --skip_bad; JSON lines take their time from --time_field; the lines
of `sawmill gen logs --format combined` are appended with their times.

Usage: tests/cli/logs_append_test.py BUILD_DIR [--cluster]
"""
import datetime
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from harness import Cluster, Fail, run_main, wait_for  # noqa: E402
from logs_test import SAWMILL, Store  # noqa: E402


def access_line(i):
    t = datetime.datetime(2026, 12, 6, 8, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=-7)))
    t += datetime.timedelta(seconds=7 * i)
    return (f'10.1.{i % 200}.{i % 7} - user{i % 11} [{t.strftime("%d/%b/%Y:%H:%M:%S %z")}] '
            f'"GET /page/{i % 17}?q={i} HTTP/1.1" {200 if i % 9 else 404} {100 + i} "-" "bot/{i % 3}" 0.0{i % 10}\n')


def access_lines(a, b):
    return "".join(access_line(i) for i in range(a, b))


def expected(text):
    """(timestamp ms, payload) of each line, the time parsed by Python, not by Sawmill."""
    out = []
    for line in text.splitlines():
        stamp = line[line.index("[") + 1:line.index("]")]
        t = datetime.datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z")
        out.append((int(t.timestamp()) * 1000, line))
    return out


def write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)


class Appender:
    def __init__(self, store, work):
        self.store, self.work = store, work

    def append(self, stream, files, *flags, ok=True, env=None):
        argv = [SAWMILL, "logs", "append", "--stream", stream, "--partition", "0", *flags,
                *[os.path.join(self.work, f) for f in files], *self.store.where]
        p = subprocess.run(argv, capture_output=True, timeout=120, env=env)
        if ok and p.returncode != 0:
            raise Fail(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.decode()}")
        return p

    def expect_appended(self, p, first, n):
        out = p.stdout.decode()
        want = (f"appended {n} record(s) to " if n else "appended nothing to ")
        if want not in out or (n and f"at offsets {first}-{first + n - 1} " not in out):
            raise Fail(f"want {n} record(s) from offset {first}, got:\n{out}")

    def check_contents(self, stream, lines):
        got = [(ts, payload) for _, ts, payload in self.store.contents(stream, 0)]
        offsets = [o for o, _, _ in self.store.contents(stream, 0)]
        if offsets != list(range(len(offsets))):
            raise Fail(f"{stream}: offsets are not 0..{len(offsets) - 1}")
        if got != lines:
            for k, (g, w) in enumerate(zip(got, lines)):
                if g != w:
                    raise Fail(f"{stream}: record {k} is {g}, want {w}")
            raise Fail(f"{stream}: {len(got)} records, want {len(lines)}")


def check(store, case, work):
    a = Appender(store, work)
    log = os.path.join(work, "access.log")
    fmt = ["--format", "combined"]
    # A new file, then the same file again.
    write(log, access_lines(0, 200))
    a.expect_appended(a.append("web", ["access.log"], *fmt), 0, 200)
    a.expect_appended(a.append("web", ["access.log"], *fmt), 0, 0)
    want = expected(access_lines(0, 200))
    a.check_contents("web", want)
    # Growth with a line still being written: only complete lines, the rest when it ends.
    partial = access_line(250)
    write(log, access_lines(200, 250) + partial[:30], "a")
    p = a.append("web", ["access.log"], *fmt)
    a.expect_appended(p, 200, 50)
    if "an unterminated last line waits" not in p.stdout.decode():
        raise Fail(f"the partial line is not reported: {p.stdout.decode()}")
    write(log, partial[30:] + access_lines(251, 260), "a")
    a.expect_appended(a.append("web", ["access.log"], *fmt), 250, 10)
    want += expected(access_lines(200, 260))
    # Rotation: access.log -> access.log.1 (after more lines) -> access.log.2.gz; a new
    # access.log each time. Listed oldest first, as the docs say.
    write(log, access_lines(260, 280), "a")
    os.rename(log, log + ".1")
    write(log, access_lines(1000, 1040))
    a.expect_appended(a.append("web", ["access.log.1", "access.log"], *fmt), 260, 60)
    want += expected(access_lines(260, 280) + access_lines(1000, 1040))
    subprocess.run(["gzip", "-9", log + ".1"], check=True)
    os.rename(log + ".1.gz", log + ".2.gz")
    write(log, access_lines(1040, 1045), "a")
    os.rename(log, log + ".1")
    write(log, access_lines(2000, 2010))
    a.expect_appended(a.append("web", ["access.log.2.gz", "access.log.1", "access.log"], *fmt), 320, 15)
    want += expected(access_lines(1040, 1045) + access_lines(2000, 2010))
    # Every copy again, compressed three ways or not: nothing.
    subprocess.run(["zstd", "-q", "-k", log + ".1", "-o", log + ".1.zst"], check=True)
    subprocess.run(["bzip2", "-k", log], check=True)
    a.expect_appended(a.append("web", ["access.log.2.gz", "access.log.1.zst", "access.log.1", "access.log.bz2",
                                       "access.log"], *fmt), 0, 0)
    a.check_contents("web", want)
    print(f"{case}: same file, growth, rotation with gzip/zstd/bzip2: {len(want)} records, each once", flush=True)

    # Two appenders at once: the first holds the partition (paused just after taking its lock),
    # the second fails naming it; nothing is lost or doubled.
    write(os.path.join(work, "b.log"), access_lines(3000, 3100))
    write(os.path.join(work, "c.log"), access_lines(4000, 4030))
    pause = os.path.join(work, "paused")
    env = dict(os.environ, SAWMILL_FAULTS=f"logs.partition.locked=once:pause({pause})")
    argv = [SAWMILL, "logs", "append", "--stream", "web", "--partition", "0", *fmt,
            os.path.join(work, "b.log"), *store.where]
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        wait_for("the first appender to hold the partition", lambda: os.path.exists(pause))
        second = a.append("web", ["c.log"], *fmt, ok=False)
        if second.returncode != 1 or b"is being appended to by another process" not in second.stderr:
            raise Fail(f"the second appender: exit {second.returncode}: {second.stderr.decode()}")
    finally:
        if os.path.exists(pause):
            os.remove(pause)
        out, err = first.communicate(timeout=120)
    if first.returncode != 0 or f"at offsets 335-434 ".encode() not in out:
        raise Fail(f"the first appender: exit {first.returncode}: {out.decode()} {err.decode()}")
    a.expect_appended(a.append("web", ["c.log", "b.log"], *fmt), 435, 30)
    want += expected(access_lines(3000, 3100) + access_lines(4000, 4030))
    a.check_contents("web", want)
    print(f"{case}: a racing appender fails, then appends; {len(want)} records, each once", flush=True)

    # Bad lines: the append fails naming file and line and writes nothing; --skip_bad counts.
    bad = os.path.join(work, "bad.log")
    write(bad, access_lines(5000, 5003) + "not a log line\n" + access_lines(5003, 5005))
    p = a.append("web", ["bad.log"], *fmt, ok=False)
    if p.returncode != 2 or f"{bad}:4: ".encode() not in p.stderr:
        raise Fail(f"a bad line: exit {p.returncode}: {p.stderr.decode()}")
    a.check_contents("web", want)
    p = a.append("web", ["bad.log"], *fmt, "--skip_bad")
    a.expect_appended(p, 465, 5)
    if f"skipped 1 bad line(s)" not in p.stdout.decode() or f"{bad}:4: " not in p.stdout.decode():
        raise Fail(f"--skip_bad report: {p.stdout.decode()}")
    want += expected(access_lines(5000, 5005))
    a.check_contents("web", want)

    # JSON lines: RFC 3339 text or epoch milliseconds in the member --time_field names.
    app = os.path.join(work, "app.jsonl")
    rows = [{"msg": f"m{i}", "at": "2026-12-06T10:00:0%d.5+02:00" % i if i % 2 else 1796551200000 + i}
            for i in range(6)]
    write(app, "".join(json.dumps(r) + "\n" for r in rows))
    a.expect_appended(a.append("app", ["app.jsonl"], "--format", "jsonl", "--time_field", "at"), 0, 6)
    times = [1796551200000 + i if i % 2 == 0 else 1796544000000 + i * 1000 + 500 for i in range(6)]
    a.check_contents("app", list(zip(times, [json.dumps(r) for r in rows])))
    p = a.append("app", ["app.jsonl"], "--format", "jsonl", ok=False)
    if p.returncode != 0:
        raise Fail(f"the same JSON file again: {p.stderr.decode()}")
    print(f"{case}: bad lines named and skipped, JSON lines timed by their member", flush=True)

    # `sawmill gen logs --format combined` writes lines that append reads, each timed as Python
    # reads it.
    gen = os.path.join(work, "gen.log")
    subprocess.run([SAWMILL, "gen", "logs", "--format", "combined", "--lines", "500", "--seed", "5", "--output", gen],
                   check=True)
    with open(gen) as f:
        text = f.read()
    a.expect_appended(a.append("gen", ["gen.log"], *fmt), 0, 500)
    a.check_contents("gen", expected(text))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, "local")
        os.makedirs(work)
        check(Store(["--store", os.path.join(tmp, "store")]), "local", work)
        if "--cluster" in sys.argv:
            work = os.path.join(tmp, "cluster-files")
            os.makedirs(work)
            with Cluster(sys.argv[1], workers=1, replication=1, dir=os.path.join(tmp, "cluster")) as c:
                check(Store(["--cluster", c.dir]), "cluster", work)
    print("PASS")


if __name__ == "__main__":
    run_main(main)

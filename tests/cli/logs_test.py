#!/usr/bin/env python3
"""`sawmill logs archive|ls|stat` and `--input logs:STREAM[/PARTITION][@FROM,TO]` on a local
store directory and on a cluster's store:
archiving is idempotent, a gap or a conflicting record is refused with nothing written,
malformed lines are named by file and line, segments roll over and follow each other, and the
segments hold exactly the archived records (read back with `sawmill cat`); a job reading a log
selection gets exactly the records in its offset or time range, and a text-lines job (wordcount,
wordcount_df) gets each selected record's payload as its line.

Usage: tests/cli/logs_test.py BUILD_DIR [--cluster]
"""
import os
import random
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from harness import Cluster, Fail, run, run_main  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
SAWMILL = os.path.join(BUILD, "sawmill")


def records(first, n, seed=1, size=40):
    rng = random.Random(seed)
    out = []
    for off in range(first, first + n):
        payload = "".join(rng.choice("abcdefgh \t=/") for _ in range(rng.randrange(1, size)))
        out.append((off, 1_700_000_000_000 + off * 250 + rng.randrange(100), payload))
    return out


def tsv(recs):
    return "".join(f"{o}\t{t}\t{p}\n" for o, t, p in recs).encode()


class Store:
    def __init__(self, where):
        self.where = where  # ["--store", DIR] or ["--cluster", D]

    def logs(self, *args, stdin=b"", ok=True):
        p = subprocess.run([SAWMILL, "logs", *args, *self.where], input=stdin, capture_output=True, timeout=120)
        if ok and p.returncode != 0:
            raise Fail(f"sawmill logs {' '.join(args)}: exit {p.returncode}: {p.stderr.decode()}")
        return p

    def archive(self, stream, part, recs, *extra, ok=True):
        return self.logs("archive", "--stream", stream, "--partition", str(part), *extra, stdin=tsv(recs), ok=ok)

    def segments(self, stream, part):
        out = self.logs("ls", stream, str(part)).stdout.decode().split("\n")
        return [line.split()[0] for line in out if line.strip()]

    def contents(self, stream, part):
        """(offset, timestamp, payload) of every archived record, read back with `sawmill cat`."""
        got = []
        for seg in self.segments(stream, part):
            cat = [SAWMILL, "cat"]
            cat += ["--cluster", self.where[1], "dfs:" + seg] if self.where[0] == "--cluster" else [seg]
            text = subprocess.run(cat, capture_output=True, check=True).stdout
            for line in text.split(b"\n")[:-1]:
                key, _, value = (unescape(x) for x in line.partition(b"\t"))
                got.append((int.from_bytes(key, "big"), int.from_bytes(value[:8], "big") ^ (1 << 63),
                            value[8:].decode()))
        return got


def unescape(s):
    """Inverse of `sawmill cat`'s text escaping."""
    return re.sub(rb"\\(.)", lambda m: {b"t": b"\t", b"n": b"\n", b"\\": b"\\"}[m.group(1)], s)


def check(store, case):
    a = records(0, 1000)
    r = store.archive("web", 0, a).stdout.decode()
    if "archived 1000 new" not in r:
        raise Fail(f"{case}: first archive: {r}")
    # Idempotent: the same records again, and an overlapping batch that adds new ones.
    r = store.archive("web", 0, a).stdout.decode()
    if "archived 0 new" not in r or "1000 already archived" not in r:
        raise Fail(f"{case}: re-archive was not a no-op: {r}")
    b = records(0, 1500)[600:]
    r = store.archive("web", 0, b).stdout.decode()
    if "archived 500 new" not in r or "400 already archived" not in r:
        raise Fail(f"{case}: overlapping archive: {r}")
    before = store.segments("web", 0)
    # A gap, a conflict (with new records after it) and a malformed line: refused, nothing written.
    gap = store.archive("web", 0, records(1501, 10), ok=False)
    if gap.returncode != 2 or b"gap" not in gap.stderr or b"up to 1499" not in gap.stderr:
        raise Fail(f"{case}: gap: exit {gap.returncode}: {gap.stderr.decode()}")
    bad = records(0, 1510)[1400:]
    bad[5] = (bad[5][0], bad[5][1], bad[5][2] + "x")
    conflict = store.archive("web", 0, bad, ok=False)
    if conflict.returncode != 2 or b"conflict: offset 1405" not in conflict.stderr:
        raise Fail(f"{case}: conflict: exit {conflict.returncode}: {conflict.stderr.decode()}")
    malformed = store.logs("archive", "--stream", "web", "--partition", "0",
                           stdin=tsv(records(0, 1502)[1500:]) + b"1502\tnot-a-time\tx\n", ok=False)
    if malformed.returncode != 2 or b"stdin:3: bad timestamp" not in malformed.stderr:
        raise Fail(f"{case}: malformed: exit {malformed.returncode}: {malformed.stderr.decode()}")
    if store.segments("web", 0) != before:
        raise Fail(f"{case}: a refused archive changed the segments: {before} -> {store.segments('web', 0)}")
    want = records(0, 1500)
    if store.contents("web", 0) != want:
        raise Fail(f"{case}: the segments do not hold exactly the archived records")
    # Roll-over: segments of about 1 MiB, following each other.
    big = records(0, 60000, seed=2, size=80)
    store.archive("big", 3, big, "--segment_mb", "1")
    segs = store.segments("big", 3)
    if len(segs) < 2:
        raise Fail(f"{case}: no roll-over: {segs}")
    stat = store.logs("stat", "big", "3").stdout.decode().splitlines()[0]
    if f"segments {len(segs)} offsets 0-59999 records 60000" not in stat:
        raise Fail(f"{case}: stat: {stat}")
    if store.contents("big", 3) != big:
        raise Fail(f"{case}: rolled-over segments do not hold the records")
    streams = store.logs("ls").stdout.decode().split()
    if streams != ["big", "web"]:
        raise Fail(f"{case}: ls: {streams}")
    print(f"PASS {case}: idempotent, gap/conflict/malformed refused with nothing written, {len(segs)} segments "
          f"rolled over; {stat}", flush=True)
    check_selection(store, case, big)
    check_text_lines(store, case, big)


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def check_selection(store, case, big):
    """--input logs:STREAM[/PARTITION][@FROM,TO] through a real job (jobs/sort over the selected
    records): exactly the records in the offset or time range, from every selected partition."""
    other = records(0, 20000, seed=3, size=30)
    store.archive("big", 5, other, "--segment_mb", "1")
    by_part = {3: big, 5: other}
    t_lo, t_hi = big[1000][1], big[40000][1]
    selections = {
        "logs:big/3@100,30100": [r for r in big if 100 <= r[0] < 30100],
        "logs:big/3@59990,": [r for r in big if r[0] >= 59990],
        "logs:big@,50": [r for p in by_part.values() for r in p if r[0] < 50],
        f"logs:big@{iso(t_lo)},{iso(t_hi)}": [r for p in by_part.values() for r in p if t_lo <= r[1] < t_hi],
        "logs:big/5": other,
    }
    for n, (sel, want) in enumerate(selections.items()):
        out = f"sel{n}"
        args = [os.path.join(BUILD, "jobs", "sort"), "--input_format", "records", "--input", sel, "--progress", "never"]
        if store.where[0] == "--cluster":
            args += ["--cluster", store.where[1], "--wait", "--output", f"dfs:/{out}"]
            cat = [SAWMILL, "cat", "--cluster", store.where[1], f"dfs:/{out}"]
        else:
            args += ["--store", store.where[1], "--output", os.path.join(store.where[1], out)]
            cat = [SAWMILL, "cat", os.path.join(store.where[1], out)]
        p = subprocess.run(args, capture_output=True, timeout=120)
        if p.returncode != 0:
            raise Fail(f"{case}: sort --input {sel}: exit {p.returncode}: {p.stderr.decode()[-1000:]}")
        got = []
        for line in subprocess.run(cat, capture_output=True, check=True).stdout.split(b"\n")[:-1]:
            key, _, value = (unescape(x) for x in line.partition(b"\t"))
            got.append((int.from_bytes(key, "big"), int.from_bytes(value[:8], "big") ^ (1 << 63), value[8:].decode()))
        if sorted(got) != sorted(want):
            raise Fail(f"{case}: --input {sel}: {len(got)} records, want {len(want)}")
    bad = subprocess.run([os.path.join(BUILD, "jobs", "sort"), "--input_format", "records", "--input",
                          "logs:big@5,2023-11-14T00:00:00Z"] +
                         (["--store", store.where[1], "--output", "/nonexistent/x"] if store.where[0] == "--store"
                          else ["--cluster", store.where[1], "--wait", "--output", "dfs:/bad"]),
                         capture_output=True, timeout=60)
    if bad.returncode != 2 or b"both be offsets or both times" not in bad.stderr:
        raise Fail(f"{case}: a mixed range was not refused: {bad.returncode} {bad.stderr.decode()}")
    print(f"PASS {case}: {len(selections)} log selections (offsets, times, partitions) read exactly their records",
          flush=True)


def check_text_lines(store, case, big):
    """Text-lines jobs over a log selection read the payloads as lines, not the records' binary
    timestamps glued to them: wordcount and wordcount_df over logs:big/3@100,30100 (across
    segments) are byte-identical to wordcount over the same payloads as a local text file."""
    text = os.path.join(os.path.dirname(store.where[1]) if store.where[0] == "--cluster" else store.where[1],
                        "payloads.txt")
    with open(text, "w") as f:
        f.write("".join(p + "\n" for off, _, p in big if 100 <= off < 30100))
    plain = os.path.join(os.path.dirname(text), "wc-plain")
    run([os.path.join(BUILD, "jobs", "wordcount"), "--input", text, "--output", plain, "--reducers", "2",
         "--progress", "never", "--overwrite"])
    want = run([SAWMILL, "cat", plain]).stdout
    for job in ("wordcount", "wordcount_df"):
        args = [os.path.join(BUILD, "jobs", job), "--input", "logs:big/3@100,30100", "--reducers", "2",
                "--split_mb", "1", "--progress", "never"]
        if store.where[0] == "--cluster":
            args += ["--cluster", store.where[1], "--wait", "--output", f"dfs:/wc-{job}"]
            cat = [SAWMILL, "cat", "--cluster", store.where[1], f"dfs:/wc-{job}"]
        else:
            args += ["--store", store.where[1], "--output", os.path.join(store.where[1], f"wc-{job}")]
            cat = [SAWMILL, "cat", os.path.join(store.where[1], f"wc-{job}")]
        run(args, timeout=120)
        got = run(cat).stdout
        if got != want:
            diff = sorted(set(got.split(b"\n")) ^ set(want.split(b"\n")))[:4]
            raise Fail(f"{case}: {job} over a log selection differs from wordcount over its payloads: {diff}")
    print(f"PASS {case}: wordcount and wordcount_df over a log selection count its payloads' words "
          f"({len(want.splitlines())} words, byte-identical)", flush=True)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        check(Store(["--store", os.path.join(tmp, "store")]), "local")
        if "--cluster" in sys.argv:
            with Cluster(BUILD, workers=1, replication=1, dir=os.path.join(tmp, "cluster")) as c:
                check(Store(["--cluster", c.dir]), "cluster")


if __name__ == "__main__":
    run_main(main)

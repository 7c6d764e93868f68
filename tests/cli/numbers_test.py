#!/usr/bin/env python3
"""Numbers given to `sawmill` on the command line are checked (issue 18, B4): each bad number
below (not a number, trailing junk, negative where unsigned, out of range, empty) makes the
command exit 2 before it does anything, with an error naming the flag or argument (or the file and
field of a --config file) and the text.

Usage: tests/cli/numbers_test.py BUILD_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import harness  # noqa: E402
from harness import Fail  # noqa: E402

BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build"
SAWMILL = os.path.join(BUILD, "sawmill")


def cases(d):
    """(argv after `sawmill`, what the error must name, the bad text); D is a scratch directory."""
    store = ["--store", os.path.join(d, "store")]
    no_secret = ["--secret_file", os.path.join(d, "no-such-secret")]
    archive = ["logs", "archive", *store, "--stream", "web", "--from", os.devnull]
    return [
        (["logs", "ls", *store, "web", "abc"], "PARTITION", "abc"),
        (["logs", "stat", *store, "web", "abc"], "PARTITION", "abc"),
        (["logs", "stat", *store, "web", "-1"], "PARTITION", "-1"),
        (["logs", "stat", *store, "web", "3x"], "PARTITION", "3x"),
        ([*archive, "--partition", "abc"], "--partition", "abc"),
        ([*archive, "--partition", "4294967296"], "--partition", "4294967296"),
        ([*archive, "--partition", "-1"], "--partition", "-1"),
        ([*archive, "--partition", "1", "--segment_mb", "99999999999999999999"], "--segment_mb",
         "99999999999999999999"),
        (["dataset", "promote", *store, "ds", "99999999999999999999999"], "VERSION", "99999999999999999999999"),
        (["dataset", "promote", *store, "ds", "1x"], "VERSION", "1x"),
        (["dataset", "gc", *store, "ds", "--keep", "-1"], "--keep", "-1"),
        (["dataset", "diff", *store, "ds", "1", "x"], "TO", "x"),
        (["dataset", "diff", *store, "ds", "1", "2", "--show", "1e3"], "--show", "1e3"),
        (["index", "query", os.path.join(d, "index"), "--k", "-1", "term"], "--k", "-1"),
        (["gen", "text", "--vocabulary", "4294967296", "--output", os.path.join(d, "text")], "--vocabulary",
         "4294967296"),
        (["gen", "logs", "--lines", "12x", "--output", os.path.join(d, "logs")], "--lines", "12x"),
        (["namenode", "--dir", os.path.join(d, "nn"), *no_secret, "--heartbeat_timeout_ms",
          "99999999999999999999"], "--heartbeat_timeout_ms", "99999999999999999999"),
        (["datanode", "--dir", os.path.join(d, "dn"), "--namenode", "127.0.0.1:1", "--host", "h", *no_secret,
          "--block_report_ms", "-5"], "--block_report_ms", "-5"),
        (["coordinator", "--dir", os.path.join(d, "co"), "--namenode", "127.0.0.1:1", *no_secret,
          "--slow_start", "abc"], "--slow_start", "abc"),
        (["worker", "--dir", os.path.join(d, "w"), "--coordinator", "127.0.0.1:1", "--namenode", "127.0.0.1:1",
          "--host", "h", *no_secret, "--fetch_threads="], "--fetch_threads", "''"),
        (["worker", "--dir", os.path.join(d, "w"), "--coordinator", "127.0.0.1:1", "--namenode", "127.0.0.1:1",
          "--host", "h", *no_secret, "--shuffle_memory_mb", "-1"], "--shuffle_memory_mb", "-1"),
        (["cluster", "up", "--dir", os.path.join(d, "cluster"), "--workers", "1", "--replication", "4294967297"],
         "--replication", "4294967297"),
        # Numbers of a deployment's cluster.json (--config) are checked too, naming the file and field.
        (["namenode", "--config", config(d, "replication", -1)], 'replication.json: field "replication"', "-1"),
        (["namenode", "--config", config(d, "block_size", -5)], 'block_size.json: field "block_size"', "-5"),
        (["namenode", "--config", config(d, "pid", 1 << 40)], 'pid.json: field "processes[0].pid"',
         str(1 << 40)),
    ]


def config(d, field, value):
    """A one-namenode cluster.json in D with `field` set to `value`; its path."""
    namenode = {"role": "namenode", "host": "h1", "address": "127.0.0.1:7100", "http": "127.0.0.1:7101",
                "dir": "nn"}
    top = {"secret_file": "no-such-secret", "replication": 1, "block_size": 1 << 20, "processes": [namenode]}
    (namenode if field == "pid" else top)[field] = value
    path = os.path.join(d, field + ".json")
    with open(path, "w") as f:
        json.dump(top, f)
    return path


def main():
    d = tempfile.mkdtemp(prefix="sawmill-numbers.")
    failures = []
    try:
        for argv, name, text in cases(d):
            try:
                p = subprocess.run([SAWMILL, *argv], stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
            except subprocess.TimeoutExpired:
                failures.append(f"sawmill {' '.join(argv)}: still running after 60 s")
                continue
            err = p.stderr.decode(errors="replace")
            if p.returncode != 2 or name not in err or text not in err:
                failures.append(f"sawmill {' '.join(argv)}: exit {p.returncode}, want 2 and an error naming "
                                f"{name} and {text}; stderr: {err.strip()[-300:]!r}")
            else:
                print(f"ok   sawmill {' '.join(argv[:2])} ... {name} {text}: {err.strip().splitlines()[0]}",
                      flush=True)
    finally:
        harness.run([SAWMILL, "cluster", "down", "--dir", os.path.join(d, "cluster")], check=False)
        shutil.rmtree(d, ignore_errors=True)
    if failures:
        raise Fail(f"{len(failures)} case(s):\n" + "\n".join(failures))


if __name__ == "__main__":
    harness.run_main(main)

#!/usr/bin/env python3
"""A daemon started on a directory another daemon runs in fails and leaves that daemon's files
alone (issue 18, B6): on a 1-host `sawmill cluster up`, each of the namenode, coordinator,
datanode and worker is started a second time with its own saved arguments, once on the running
one's port and once on port 0 (it could bind, but the directory is taken); then a namenode of
another directory on the running one's port (the bind fails). Each second start must exit
non-zero, and the first one's endpoint.json must be byte for byte unchanged with the first
process still running.

Usage: tests/cli/daemon_dir_test.py BUILD_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import harness  # noqa: E402
from harness import Fail, runs_in, wait_for  # noqa: E402

BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build"
SAWMILL = os.path.join(BUILD, "sawmill")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def saved_argv(directory):
    """The argv `cluster up` started the daemon of `directory` with (NUL-separated in D/argv)."""
    return [a.decode() for a in read(os.path.join(directory, "argv")).split(b"\0")[:-1]]


def with_port(argv, port):
    argv = list(argv)
    argv[argv.index("--port") + 1] = str(port)
    return argv


def second_start(name, directory, argv, cluster_dir):
    """Runs `argv` against the running daemon of `directory`; what went wrong ("" if nothing): it
    must exit non-zero and leave the first daemon's endpoint.json and process untouched."""
    endpoint_file = os.path.join(directory, "endpoint.json")
    before = read(endpoint_file)
    first_pid = json.loads(before)["pid"]
    log = os.path.join(cluster_dir, f"second-{name.replace('/', '-')}-{argv[argv.index('--port') + 1]}.log")
    with open(log, "wb") as out:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        # Either it exits, or it took over: its own endpoint replaced the first one's.
        def settled():
            if p.poll() is not None:
                return True
            try:
                return json.loads(read(endpoint_file)).get("pid") == p.pid
            except (OSError, ValueError):
                return False
        wait_for(f"the second {name} to exit", settled, timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
    output = read(log).decode(errors="replace")[-2000:]
    after = read(endpoint_file) if os.path.exists(endpoint_file) else None
    if after != before:  # put it back, so that the next case starts from the same state
        with open(endpoint_file, "wb") as f:
            f.write(before)
    if p.returncode == 0 or p.returncode < 0:
        return f"second {name} ({' '.join(argv[1:])}) did not fail (exit {p.returncode}):\n{output}"
    if after is None:
        return f"second {name} (exit {p.returncode}) deleted the running {name}'s {endpoint_file}:\n{output}"
    if after != before:
        return f"second {name} changed {endpoint_file}: {before!r} -> {after!r}"
    if not runs_in(first_pid, cluster_dir):
        return f"the running {name} (pid {first_pid}) is gone"
    last = output.strip().splitlines()[-1] if output.strip() else ""
    print(f"ok   second {name} on port {argv[argv.index('--port') + 1]} exited {p.returncode} ({last}), "
          f"{os.path.relpath(endpoint_file, cluster_dir)} unchanged", flush=True)
    return ""


def main():
    cluster_dir = tempfile.mkdtemp(prefix="sawmill-daemon-dir.")
    failures = []
    try:
        harness.run([SAWMILL, "cluster", "up", "--dir", cluster_dir, "--workers", "1", "--slots", "1",
                     "--sync_blocks", "false"])
        daemons = [("namenode", "namenode"), ("coordinator", "coordinator"),
                   ("host1/datanode", "host1/datanode"), ("host1/worker", "host1/worker")]
        for name, sub in daemons:
            directory = os.path.join(cluster_dir, sub)
            argv = saved_argv(directory)
            port = json.loads(read(os.path.join(directory, "endpoint.json")))["address"].rsplit(":", 1)[1]
            # The bind fails; then it binds (any port) but the directory is taken.
            for p in (port, 0):
                failures.append(second_start(name, directory, with_port(argv, p), cluster_dir))
        # A namenode of another directory on the running one's port: the bind fails.
        nn = os.path.join(cluster_dir, "namenode")
        argv = saved_argv(nn)
        argv[argv.index("--dir") + 1] = os.path.join(cluster_dir, "namenode2")
        port = json.loads(read(os.path.join(nn, "endpoint.json")))["address"].rsplit(":", 1)[1]
        failures.append(second_start("namenode", nn, with_port(argv, port), cluster_dir))
        # The store still answers at the addresses the running daemons registered.
        harness.run([SAWMILL, "dfs", "--cluster", cluster_dir, "ls", "/"])
        print("ok   the cluster still serves", flush=True)
    finally:
        harness.run([SAWMILL, "cluster", "down", "--dir", cluster_dir], check=False)
        shutil.rmtree(cluster_dir, ignore_errors=True)
    failures = [f for f in failures if f]
    if failures:
        raise Fail(f"{len(failures)} case(s):\n" + "\n".join(failures))


if __name__ == "__main__":
    harness.run_main(main)

#!/usr/bin/env python3
"""Daemons tied to a supervisor (`cluster up --supervisor_pid`, issue 20 item 6): a child python
process brings a 2-host cluster up with its own pid as supervisor and is SIGKILLed (as ctest
kills a test on its timeout, with no cleanup run); every daemon of cluster.json must then end by
itself, cleanly (its log says the supervisor ended). A daemon, and `cluster up`, given a
supervisor that has already ended refuse to start, naming --supervisor_pid.

Usage: tests/cli/supervisor_test.py BUILD_DIR
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import harness  # noqa: E402
from harness import Fail, dead, processes_in, wait_for  # noqa: E402

BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build"
SAWMILL = os.path.join(BUILD, "sawmill")

# The supervised child: brings the cluster up with its own pid, says so, and waits to be killed.
CHILD = """
import os, subprocess, sys, time
p = subprocess.run([sys.argv[1], "cluster", "up", "--dir", sys.argv[2], "--workers", "2",
                    "--slots", "1", "--supervisor_pid", str(os.getpid())], capture_output=True)
print("up" if p.returncode == 0 else "failed: " + p.stderr.decode(errors="replace"), flush=True)
time.sleep(3600)
"""


def daemons(directory):
    """(role, host, pid) of every process cluster.json lists."""
    with open(os.path.join(directory, "cluster.json")) as f:
        return [(p["role"], p["host"], p["pid"]) for p in json.load(f)["processes"]]


def logs_saying(directory, text):
    found = []
    for root, _, files in os.walk(directory):
        for name in files:
            if name.endswith(".log"):
                with open(os.path.join(root, name), errors="replace") as f:
                    if text in f.read():
                        found.append(os.path.join(root, name))
    return found


def main():
    directory = tempfile.mkdtemp(prefix="sawmill-supervisor.")
    child = subprocess.Popen([sys.executable, "-c", CHILD, SAWMILL, directory], stdout=subprocess.PIPE)
    try:
        line = child.stdout.readline().decode().strip()
        if line != "up":
            raise Fail(f"cluster up under the child: {line or 'no answer'}")
        procs = daemons(directory)
        if len(procs) != 6 or any(dead(pid) for _, _, pid in procs):
            raise Fail(f"want 6 running daemons, cluster.json lists {procs}")
        child.send_signal(signal.SIGKILL)
        child.wait()
        wait_for("every daemon to end after its supervisor was SIGKILLed",
                 lambda: all(dead(pid) for _, _, pid in procs), timeout=60)
        said = logs_saying(directory, f"supervisor (pid {child.pid}) ended")
        if len(said) != 6:
            raise Fail(f"want 6 daemon logs saying the supervisor ended, got {said}")
        print(f"all 6 daemons ended after their supervisor (pid {child.pid}) was SIGKILLed", flush=True)

        # A supervisor already gone: the killed child's pid.
        p = subprocess.run([SAWMILL, "namenode", "--dir", os.path.join(directory, "late"), "--secret_file",
                            os.path.join(directory, "secret"), "--supervisor_pid", str(child.pid)],
                           capture_output=True, timeout=60)
        err = p.stderr.decode(errors="replace")
        if p.returncode == 0 or f"--supervisor_pid {child.pid}: no such process" not in err:
            raise Fail(f"a namenode whose supervisor has ended exited {p.returncode}: {err[-2000:]}")
        if os.path.exists(os.path.join(directory, "late", "endpoint.json")):
            raise Fail("the refused namenode wrote endpoint.json")
        p = subprocess.run([SAWMILL, "cluster", "up", "--dir", os.path.join(directory, "c2"), "--workers", "1",
                            "--supervisor_pid", str(child.pid)], capture_output=True, timeout=60)
        err = p.stderr.decode(errors="replace")
        if p.returncode == 0 or "--supervisor_pid" not in err:
            raise Fail(f"cluster up with an ended supervisor exited {p.returncode}: {err[-2000:]}")
        print("a daemon and cluster up refuse a supervisor that has ended", flush=True)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        leaked = processes_in(directory)
        for pid in leaked:
            os.kill(pid, signal.SIGKILL)
        if leaked:
            print(f"killed leftover processes {leaked}; keeping {directory}", flush=True)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    print("PASS", flush=True)


if __name__ == "__main__":
    harness.run_main(main)

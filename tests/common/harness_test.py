#!/usr/bin/env python3
"""harness.Cluster tears its cluster down however the test ends: an exception in the `with`
block, a SIGTERM, and a SIGKILL of the test (what ctest does on a timeout; the watchdog's job).
Each case runs a child test process holding a 1-worker cluster and checks that no daemon of it
is left afterwards.

Usage: tests/common/harness_test.py BUILD_DIR
"""
import os
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import Fail, processes_in, run_main, wait_for  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])

# The child: brings a cluster up in DIR, says so, then fails or waits to be signalled.
CHILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
from harness import Cluster, Fail
with Cluster(sys.argv[2], workers=1, dir=sys.argv[3]) as c:
    print("up", flush=True)
    if sys.argv[4] == "raise":
        raise Fail("deliberate")
    time.sleep(120)
"""


def check(case, how):
    with tempfile.TemporaryDirectory(prefix="sawmill-harness-test.") as tmp:
        d = os.path.join(tmp, "cluster")
        p = subprocess.Popen([sys.executable, "-c", CHILD, HERE, BUILD, d, how], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            if p.stdout.readline() != b"up\n":
                raise Fail(f"{case}: the child's cluster did not come up: {p.stderr.read().decode()[-2000:]}")
            daemons = [pid for pid in processes_in(d) if pid != p.pid]
            if len(daemons) < 4:
                raise Fail(f"{case}: {len(daemons)} processes run from the cluster, want its 4 daemons")
            if how != "raise":
                p.send_signal(getattr(signal, how))
            p.wait(timeout=60)
            wait_for(f"{case}: every process of the cluster to end", lambda: not processes_in(d), timeout=30)
        finally:
            p.kill()
            p.wait()
            subprocess.run([os.path.join(BUILD, "sawmill"), "cluster", "down", "--dir", d], capture_output=True)
        print(f"PASS {case}: {len(daemons)} processes up, none left after the test exited {p.returncode}", flush=True)


def main():
    check("exception", "raise")
    check("SIGTERM", "SIGTERM")
    check("SIGKILL", "SIGKILL")


if __name__ == "__main__":
    run_main(main)

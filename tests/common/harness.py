"""What the tests on real processes share (tests/dfs/cluster_test.py,
tests/scheduler/cluster_jobs_test.py, tests/scheduler/netns_test.py): running commands, waiting
on conditions with deadlines (never bare sleeps), recognizing a cluster's processes, and HTTP
requests that ignore proxy settings from the environment (the daemons are on local addresses).
"""
import subprocess
import sys
import time
import urllib.error
import urllib.request


class Fail(Exception):
    pass


def run_main(main):
    """A test script's entry: runs main(); a Fail prints FAIL and exits 1."""
    try:
        main()
    except Fail as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)


def run(argv, check=True, timeout=300, input=None):
    p = subprocess.run(argv, input=input, capture_output=True, timeout=timeout)
    if check and p.returncode != 0:
        raise Fail(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.decode(errors='replace')[-3000:]}")
    return p


def wait_for(what, cond, timeout=60.0, interval=0.05):
    """Polls cond() until it returns something true (which is returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise Fail(f"timed out after {timeout:.0f} s waiting for {what}")


def runs_in(pid, directory):
    """Whether `pid` is a live process whose command line names `directory`."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return directory.encode() in f.read()
    except OSError:
        return False


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url, timeout=10):
    """(status, content type, body text) of a GET, errors included."""
    try:
        with _OPENER.open(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()

"""What the tests on real processes share: running commands, waiting on conditions with deadlines
(never bare sleeps), HTTP requests that ignore proxy settings from the environment (the daemons
are on local addresses), and `Cluster`, a `sawmill cluster up` for one `with` block that is
always torn down: on success, on any exception, on SIGTERM, and (through a watchdog process) even
when the test itself is SIGKILLed, as ctest does on a timeout.
"""
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
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


def processes_in(directory):
    """Pids of the live processes (not this one) with an argument that is `directory` or a path
    under it, or that names it after a '='."""
    pattern = re.compile(rb"(^|=)" + re.escape(directory.encode()) + rb"(/|$)")
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if any(pattern.search(a) for a in args):
            pids.append(int(name))
    return pids


def dead(pid):
    """Whether `pid` is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def _raise_exit(signum, frame):
    raise SystemExit(128 + signum)


def exit_on_sigterm():
    """From now on a SIGTERM (a user, `timeout`) raises SystemExit in the main thread, so that
    `with` blocks and `finally` clauses run their cleanup."""
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _raise_exit)


@contextlib.contextmanager
def sigterm_deferred():
    """A SIGTERM in the block (main thread only) takes effect at its end, so that a teardown is
    not cut short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if pending:
            raise SystemExit(128 + signal.SIGTERM)


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url, timeout=10):
    """(status, content type, body text) of a GET, errors included."""
    try:
        with _OPENER.open(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def output_parts(dfs, path):
    """{part name: bytes} of a store output directory, which must have a _MANIFEST; `dfs(*args)`
    runs `sawmill dfs --cluster D ARGS...`."""
    ls = dfs("ls", path).stdout.decode().split("\n")
    names = sorted(line.split()[-1].rsplit("/", 1)[-1] for line in ls if line.strip())
    if "_MANIFEST" not in names:
        raise Fail(f"{path} has no _MANIFEST: {names}")
    return {n: dfs("cat", f"{path}/{n}").stdout for n in names if n.startswith("part-")}


def stop_cluster(sawmill, directory, pids, timeout=20):
    """`sawmill cluster down --dir DIRECTORY`, a wait for `pids` (the cluster's daemons) to end,
    then SIGKILL of every process still running from the directory (attempts, drivers, daemons
    restarted or left behind). Returns what went wrong with the first two, or None."""
    problem = None
    try:
        p = subprocess.run([sawmill, "cluster", "down", "--dir", directory], capture_output=True, timeout=60)
        if p.returncode != 0:
            problem = (f"{sawmill} cluster down --dir {directory} exited {p.returncode}: "
                       f"{p.stderr.decode(errors='replace')[-3000:]}")
    except subprocess.TimeoutExpired:
        problem = f"{sawmill} cluster down --dir {directory} did not finish in 60 s"
    try:
        wait_for("cluster down to stop every process", lambda: not any(runs_in(pid, directory) for pid in pids),
                 timeout=timeout)
    except Fail as e:
        problem = problem or str(e)
    for pid in processes_in(directory):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return problem


class Cluster:
    """`sawmill cluster up --dir D --workers W --replication R --FLAG VALUE...` on 127.0.0.1 for a
    `with` block:

        with Cluster(build, workers=2, block_size=1 << 20) as c:
            c.dfs("put", local, "/in/x")

    D is `dir`, or a new temporary directory (removed after a success, kept for inspection after
    a failure). At the end of the block, whatever happened: `sawmill cluster down`, then SIGKILL
    of any process still running from D. After a success the test fails if cluster down did
    not stop every daemon. Every daemon watches this process (`cluster up --supervisor_pid`) and
    stops once it ends, and a watchdog process does the teardown too if this process dies
    without it (ctest SIGKILLs a test on its timeout)."""

    def __init__(self, build, workers=1, replication=1, dir=None, prefix="sawmill-test.", **flags):
        self.build = os.path.abspath(build)
        self.sawmill = os.path.join(self.build, "sawmill")
        self.jobs = os.path.join(self.build, "jobs")
        self.workers = workers
        self.owned = dir is None
        self.dir = os.path.abspath(dir) if dir else tempfile.mkdtemp(prefix=prefix)
        self.argv = [self.sawmill, "cluster", "up", "--dir", self.dir, "--workers", str(workers),
                     "--replication", str(replication)]
        # Every daemon also stops once this process ends, SIGKILL included (supervisor_pid=None:
        # it does not).
        flags = {"supervisor_pid": os.getpid(), **flags}
        for name, value in flags.items():
            if value is not None:
                self.argv += ["--" + name, str(value)]
        self.watchdog = None

    def __enter__(self):
        exit_on_sigterm()
        self._start_watchdog()
        try:
            run(self.argv)
        except BaseException:
            self._stop(failed=True)
            raise
        return self

    def __exit__(self, etype, value, tb):
        self._stop(failed=etype is not None)
        return False

    def _start_watchdog(self):
        # Its own session and no parent but init (the intermediate process exits at once), so
        # that killing this process's tree leaves it; it learns the cluster from its stdin, not
        # its command line, so that the teardown's scan of command lines does not kill it.
        self.watchdog = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--watchdog"],
                                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        self.watchdog.stdin.write(json.dumps([self.sawmill, self.dir]).encode() + b"\n")
        self.watchdog.stdin.flush()
        self.watchdog.wait()

    def _stop(self, failed):
        with sigterm_deferred():
            problem = stop_cluster(self.sawmill, self.dir, self._pids())
            if self.watchdog is not None:
                try:
                    self.watchdog.stdin.write(b"done\n")
                    self.watchdog.stdin.close()
                except OSError:
                    pass  # the watchdog is gone; nothing is left for it to do
                self.watchdog = None
        if failed or problem:
            if self.owned:
                print(f"(cluster left in {self.dir} for inspection)", file=sys.stderr, flush=True)
            if problem and not failed:
                raise Fail(problem)
        elif self.owned:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _pids(self):
        try:
            return [p["pid"] for p in self.config()["processes"]]
        except (OSError, ValueError, KeyError):
            return []

    def config(self):
        with open(os.path.join(self.dir, "cluster.json")) as f:
            return json.load(f)

    def process(self, role, host=None):
        for p in self.config()["processes"]:
            if p["role"] == role and (host is None or p["host"] == host):
                return p
        raise Fail(f"no {role} {host} in cluster.json")

    def kill(self, role, host=None, sig=signal.SIGKILL):
        """Sends `sig` to a daemon and waits until it is gone."""
        pid = self.process(role, host)["pid"]
        os.kill(pid, sig)
        wait_for(f"{role} {host} to die", lambda: dead(pid), timeout=10)

    # --- the store ---

    def dfs(self, *args, check=True, input=None, timeout=300):
        return run([self.sawmill, "dfs", "--cluster", self.dir, *args], check=check, input=input, timeout=timeout)

    def put(self, local, path):
        self.dfs("put", local, path)

    def put_bytes(self, path, data, *extra):
        src = os.path.join(self.dir, "upload.tmp")
        with open(src, "wb") as f:
            f.write(data)
        self.dfs("put", *extra, src, path)

    def get_bytes(self, path):
        return self.dfs("cat", path).stdout

    def fsck(self):
        p = self.dfs("fsck", check=False)
        return p.returncode, p.stdout.decode(errors="replace")

    def output_parts(self, path):
        return output_parts(self.dfs, path)

    # --- jobs and the coordinator ---

    def job(self, binary, *args, check=True):
        """BUILD/jobs/BINARY --cluster D --progress never ARGS..."""
        argv = [os.path.join(self.jobs, binary), "--cluster", self.dir, "--progress", "never", *args]
        try:
            return run(argv, check=check, timeout=150)
        except subprocess.TimeoutExpired:
            # A hung job: say what the coordinator thinks of every job before giving up.
            listing = run([self.sawmill, "job", "--cluster", self.dir, "list"], check=False).stdout.decode()
            ids = [line.split()[0] for line in listing.splitlines() if line.startswith("job-")]
            states = "".join(run([self.sawmill, "job", "--cluster", self.dir, "status", i], check=False).stdout.decode()
                             for i in ids)
            raise Fail(f"{' '.join(argv)} did not finish in 150 s:\n{states}")

    def http(self, path):
        return http_get("http://" + self.process("coordinator")["http"] + path)

    def status(self, job_id):
        code, _, body = self.http("/api/jobs/" + job_id)
        if code != 200:
            raise Fail(f"/api/jobs/{job_id}: HTTP {code}: {body}")
        return json.loads(body)


def _watchdog():
    """`harness.py --watchdog`, started by Cluster: reads [sawmill, dir] from stdin, detaches,
    and waits for stdin's end. "done" first: the test tore the cluster down; nothing else (the
    test died): tear it down here."""
    sawmill, directory = json.loads(sys.stdin.readline())
    if os.fork():
        os._exit(0)
    os.setsid()
    if sys.stdin.read().strip() != "done":
        stop_cluster(sawmill, directory, [])


if __name__ == "__main__" and sys.argv[1:] == ["--watchdog"]:
    _watchdog()

"""The chaos harness's fault kinds (tests/chaos/chaos.py): each injects one fault into a running
`harness.Cluster` at a moment the harness picks, and undoes what an operator would (a restart, a
SIGCONT, room on a disk). docs/reliability.md, "Chaos harness", describes each.
"""
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, os.path.join(HERE, "..", "scheduler"))
from harness import Fail, dead, http_get, run, wait_for  # noqa: E402
from cluster_jobs_test import flip_block_bytes  # noqa: E402
from tmpfs import fill  # noqa: E402

HOSTS = ("host1", "host2", "host3")


class NotInjected(Exception):
    """The scenario ended before the fault found what it acts on (no master ran, no map output)."""


class Fault:
    """One fault of a run. `setup(c)` runs before the scenario (cluster up, nothing running),
    `inject(c, scenario)` at the chosen moment in the injector thread; `cleanup(c)` after the
    scenario, before the checks. `needs_reconnect`: the fault takes the coordinator or the
    namenode away, so clients fail until they reconnect (issue 20, item 2)."""
    needs_reconnect = False
    timed = True  # injected at the harness's seeded moment (else: from the scenario's start)
    tmpfs_size = None  # a worker's attempt folder on a tmpfs of this size ("16m"), mounted by chaos.py

    def __init__(self, rng):
        self.rng = rng
        self.host = rng.choice(HOSTS)
        self.what = ""
        self.note = ""  # what cleanup() found out

    def setup(self, c):
        pass

    def inject(self, c, scenario):
        raise NotImplementedError

    def cleanup(self, c):
        pass

    def release(self):
        """After the cluster is down (whatever happened): frees what setup() made outside it."""


def restart(c, process, env=None):
    """`sawmill cluster start --dir D --process PROCESS` (a daemon that is down), optionally with
    SAWMILL_FAULTS set for it alone."""
    environ = dict(os.environ)
    environ.pop("SAWMILL_FAULTS", None)
    if env:
        environ.update(env)
    p = subprocess.run([c.sawmill, "cluster", "start", "--dir", c.dir, "--process", process], env=environ,
                       capture_output=True, timeout=60)
    if p.returncode != 0:
        raise Fail(f"cluster start --process {process} exited {p.returncode}: {p.stderr.decode(errors='replace')}")


def api(c, path):
    """The coordinator's JSON at `path`, or None. Its HTTP address is read from its endpoint.json,
    which a coordinator being restarted rewrites (cluster.json keeps the port it gets back)."""
    try:
        with open(os.path.join(c.dir, "coordinator", "endpoint.json")) as f:
            address = json.load(f)["http"]
        code, _, body = http_get(f"http://{address}{path}")
    except (OSError, ValueError, KeyError):
        return None  # not listening yet, or its endpoint being rewritten
    return json.loads(body) if code == 200 else None


def wait_ready(c):
    """Until the namenode has every datanode live and the coordinator every worker."""
    def ready():
        p = run([c.sawmill, "dfs", "--cluster", c.dir, "datanodes"], check=False, timeout=30)
        live = sum(" live " in line for line in p.stdout.decode(errors="replace").splitlines())
        workers = (api(c, "/api/cluster") or {}).get("workers", [])
        return live == len(HOSTS) and sum(w["live"] for w in workers) == len(HOSTS)
    wait_for("every datanode and worker to register", ready, timeout=60, interval=0.2)


def process_name(role, host):
    return role if role in ("namenode", "coordinator") else f"{host}/{role}"


class Kill(Fault):
    """SIGKILL of a daemon, started again after a seeded outage of 0.2-3 s."""

    def __init__(self, rng, role):
        super().__init__(rng)
        self.role = role
        self.needs_reconnect = role in ("coordinator", "namenode")
        self.delay_s = rng.uniform(0.2, 3.0)

    def inject(self, c, scenario):
        host = None if self.role in ("namenode", "coordinator") else self.host
        pid = c.process(self.role, host)["pid"]
        os.kill(pid, signal.SIGKILL)
        wait_for(f"{self.role} to die", lambda: dead(pid), timeout=10)
        time.sleep(self.delay_s)  # the outage being modelled, not a wait for a condition
        restart(c, process_name(self.role, host))
        self.what = f"SIGKILL of {process_name(self.role, host)}, started again after {self.delay_s:.1f} s"


class Stop(Fault):
    """SIGSTOP of a daemon, SIGCONT 1-5 s later (a process that hangs, then goes on)."""

    def __init__(self, rng, role):
        super().__init__(rng)
        self.role = role
        self.pause_s = rng.uniform(1.0, 5.0)

    def inject(self, c, scenario):
        host = None if self.role in ("namenode", "coordinator") else self.host
        pid = c.process(self.role, host)["pid"]
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(self.pause_s)  # the hang being modelled
        finally:
            os.kill(pid, signal.SIGCONT)
        self.what = f"SIGSTOP of {process_name(self.role, host)} for {self.pause_s:.1f} s"


def active_jobs(c):
    """Ids of the coordinator's jobs that are not finished."""
    p = run([c.sawmill, "job", "--cluster", c.dir, "list"], check=False, timeout=30)
    ids = []
    for line in p.stdout.decode(errors="replace").splitlines():
        f = line.split()
        if len(f) >= 3 and f[0].startswith("job-") and f[2].rstrip(":") not in ("succeeded", "failed"):
            ids.append(f[0])
    return ids


def poll_until(scenario, find, interval=0.05):
    """Calls find() until it returns something, or raises NotInjected once the scenario ends."""
    while True:
        ended = scenario.done.is_set()
        got = find()
        if got:
            return got
        if ended:
            raise NotInjected("the scenario ended first")
        time.sleep(interval)


class KillMaster(Fault):
    """SIGKILL of a dataflow program's running master attempt (country_stats, the join)."""

    def inject(self, c, scenario):
        def master():
            for jid in active_jobs(c):
                s = api(c, f"/api/jobs/{jid}") or {}
                if not s.get("stages"):
                    continue  # not a program
                for a in s.get("attempts", []):
                    if a.get("state") == "running":
                        # attempt job-N/m-00000/K runs in the folder jobs/job-N/m-00000_K
                        pattern = f"/jobs/{jid}/{a['attempt_id'].split('/', 1)[1].replace('/', '_')}/spec"
                        pids = [int(x) for x in run(["pgrep", "-f", pattern], check=False).stdout.split()]
                        if pids:
                            return a["attempt_id"], pids
            return None
        attempt, pids = poll_until(scenario, master)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.what = f"SIGKILL of the master attempt {attempt}"


class KillClient(Fault):
    """SIGKILL of the submitting client's whole process group (`sawmill pipeline run` and the job
    binaries following their jobs, or `sawmill logs archive`); chaos.py reruns the command."""

    def inject(self, c, scenario):
        what = poll_until(scenario, scenario.client.kill)
        self.what = f"SIGKILL of the client: {what}"


class CorruptBlock(Fault):
    """A byte flipped in the middle of a finalized block replica on a datanode's disk."""

    def inject(self, c, scenario):
        def pick():
            files = sorted(glob.glob(os.path.join(c.dir, "host*", "datanode", "blocks", "finalized", "**", "blk_*"),
                                     recursive=True))
            files = [f for f in files if os.path.getsize(f) > 4096]
            return files and self.rng.choice(files)
        path = poll_until(scenario, pick)
        with open(path, "r+b") as f:
            at = os.path.getsize(path) // 2
            f.seek(at)
            b = f.read(1)
            f.seek(at)
            f.write(bytes([b[0] ^ 0x40]))
        self.path, self.at, self.byte = path, at, b[0] ^ 0x40
        self.what = f"flipped byte {at} of {os.path.relpath(path, c.dir)}"

    def cleanup(self, c):
        # fsck knows only the corruption someone found: say whether a reader found this one.
        try:
            with open(self.path, "rb") as f:
                f.seek(self.at)
                latent = f.read(1) == bytes([self.byte])
        except (OSError, AttributeError):
            latent = False
        self.note = " (not read during the run: left for the datanode's scanner)" if latent else \
            " (the replica was replaced)"


def complete_record_file(path):
    """Whether `path` is a whole record file (its footer's magic and index end where the file
    does; docs/formats/record-file.md), so that one being written is left alone."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 72 or data[-8:] != b"SSAWMIL1":
        return False
    index_end = int.from_bytes(data[-40:-32], "little") + int.from_bytes(data[-32:-24], "little")
    return index_end + 72 == len(data)


class CorruptMapOutput(Fault):
    """A byte flipped in each partition's first block of a written map output (map.out) on a
    worker's disk while its job runs: the reduces must find it corrupt and have the map rerun."""

    def inject(self, c, scenario):
        def written_map_out():
            for path in glob.glob(os.path.join(c.dir, "host*", "worker", "jobs", "job-*", "*", "map.out")):
                try:
                    if complete_record_file(path):
                        return path, flip_block_bytes(path)
                except (OSError, IndexError, ValueError):
                    continue  # removed meanwhile (its job ended)
            return None
        path, offsets = poll_until(scenario, written_map_out, interval=0.01)
        self.what = f"flipped bytes of {os.path.relpath(path, c.dir)} at block offsets {offsets}"


class FullDisk(Fault):
    """One worker's attempt folder (a 16 MiB tmpfs) filled to 512 KiB free until the scenario ends."""
    tmpfs_size = "16m"

    def jobs_dir(self, c):
        return os.path.join(c.dir, self.host, "worker", "jobs")

    def inject(self, c, scenario):
        self.ballast = fill(self.jobs_dir(c), leave=512 << 10, name="chaos-ballast")
        self.what = f"{self.host}'s worker disk filled (512 KiB left)"

    def cleanup(self, c):
        if getattr(self, "ballast", None):
            os.remove(self.ballast)


class FaultPoint(Fault):
    """A daemon started again before the scenario with one fault point armed `nth(N):abort` (it
    dies at that exact step), then started again, unarmed, 0.2-3 s after it died."""
    timed = False
    POINTS = {"datanode": ("datanode.block.finalize", 1, 12),
              "coordinator": ("coordinator.commit.step", 1, 30),
              "namenode": ("namenode.journal.sync", 1, 150)}

    def __init__(self, rng, role):
        super().__init__(rng)
        self.role = role
        self.needs_reconnect = role in ("coordinator", "namenode")
        point, lo, hi = self.POINTS[role]
        self.spec = f"{point}=nth({rng.randint(lo, hi)}):abort"
        self.delay_s = rng.uniform(0.2, 3.0)
        self.name = process_name(role, None if self.needs_reconnect else self.host)

    def setup(self, c):
        host = None if self.needs_reconnect else self.host
        pid = c.process(self.role, host)["pid"]
        os.kill(pid, signal.SIGTERM)
        wait_for(f"{self.name} to stop", lambda: dead(pid), timeout=30)
        restart(c, self.name, {"SAWMILL_FAULTS": self.spec})
        self.pid = c.process(self.role, host)["pid"]
        wait_ready(c)

    def inject(self, c, scenario):
        poll_until(scenario, lambda: dead(self.pid))
        time.sleep(self.delay_s)  # the outage being modelled
        restart(c, self.name)
        self.what = f"{self.name} died at {self.spec}, started again after {self.delay_s:.1f} s"


# cgroup v2: its own mount on a host with both hierarchies, else the root.
CGROUP2 = "/sys/fs/cgroup/unified" if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs") else "/sys/fs/cgroup"
CGROUP_PREFIX = "sawmill-chaos-"


def can_partition():
    """Whether the partition kind can run here: root, iptables and cgroup v2."""
    return (os.geteuid() == 0 and shutil.which("iptables") is not None and
            os.path.exists(os.path.join(CGROUP2, "cgroup.procs")))


def iptables(*args, check=True):
    p = subprocess.run(["iptables", "-w", *args], capture_output=True, timeout=30)
    if check and p.returncode != 0:
        raise Fail(f"iptables {' '.join(args)} exited {p.returncode}: {p.stderr.decode(errors='replace')}")
    return p


def remove_stale_partitions():
    """Rules and cgroups a killed harness left (their owner's pid, in their name, is gone)."""
    if not can_partition():
        return
    for line in iptables("-S", check=False).stdout.decode(errors="replace").splitlines():
        if f"--comment {CGROUP_PREFIX}" in line and line.startswith("-A "):
            owner = line.split(f"--comment {CGROUP_PREFIX}", 1)[1].split("-", 1)[0]
            if owner.isdigit() and dead(int(owner)):
                iptables("-D", *line[3:].split(), check=False)
    for d in glob.glob(os.path.join(CGROUP2, CGROUP_PREFIX + "*")):
        owner = os.path.basename(d)[len(CGROUP_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and dead(int(owner)):
            try:
                os.rmdir(d)
            except OSError:
                pass


def listening_ports(pids):
    """The TCP ports the processes `pids` listen on."""
    out = run(["ss", "-Hltnp"], check=False, timeout=30).stdout.decode(errors="replace")
    ports = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 6 and any(f"pid={pid}," in f[5] for pid in pids):
            ports.add(int(f[3].rsplit(":", 1)[1]))
    return sorted(ports)


class Partition(Fault):
    """A one-host network partition: for 1-6 s the host's datanode and worker (with the worker's
    executors and task processes) can neither send to anyone nor be reached, then the network
    heals. Before the scenario the two daemons are started again in a cgroup of their own, so that
    every socket they and their children make belongs to it; the partition is an iptables rule
    dropping every packet that cgroup sends, and one dropping every packet to their ports."""

    def __init__(self, rng):
        super().__init__(rng)
        self.hold_s = rng.uniform(1.0, 6.0)
        self.cgroup = f"{CGROUP_PREFIX}{os.getpid()}-{self.host}"
        self.path = os.path.join(CGROUP2, self.cgroup)
        self.rules = []

    def setup(self, c):
        os.makedirs(self.path, exist_ok=True)
        for role in ("worker", "datanode"):
            pid = c.process(role, self.host)["pid"]
            os.kill(pid, signal.SIGTERM)
            wait_for(f"{self.host}/{role} to stop", lambda: dead(pid), timeout=30)
        # The shell joins the cgroup, then becomes `cluster start`, whose daemons inherit it.
        procs = os.path.join(self.path, "cgroup.procs")
        p = subprocess.run(["sh", "-c", f'echo $$ > "{procs}" && exec "$0" "$@"', c.sawmill, "cluster", "start",
                            "--dir", c.dir, "--process", self.host], capture_output=True, timeout=60)
        if p.returncode != 0:
            raise Fail(f"cluster start --process {self.host} in {self.path} exited {p.returncode}: "
                       f"{p.stderr.decode(errors='replace')}")
        wait_ready(c)

    def inject(self, c, scenario):
        with open(os.path.join(self.path, "cgroup.procs")) as f:
            pids = [int(x) for x in f.read().split()]
        ports = listening_ports(pids)
        tag = ["-m", "comment", "--comment", self.cgroup]
        self.rules = [["OUTPUT", "-m", "cgroup", "--path", self.cgroup, *tag, "-j", "DROP"]]
        for i in range(0, len(ports), 15):  # multiport takes up to 15
            self.rules.append(["INPUT", "-p", "tcp", "-m", "multiport", "--dports",
                               ",".join(map(str, ports[i:i + 15])), *tag, "-j", "DROP"])
        try:
            for rule in self.rules:
                iptables("-A", *rule)
            time.sleep(self.hold_s)  # the partition being modelled
        finally:
            self.heal()
        self.what = (f"{self.host} partitioned for {self.hold_s:.1f} s ({len(pids)} processes, "
                     f"ports {','.join(map(str, ports))})")

    def heal(self):
        for rule in self.rules:
            iptables("-D", *rule, check=False)
        self.rules = []

    def cleanup(self, c):
        self.heal()

    def release(self):
        self.heal()
        try:
            os.rmdir(self.path)
        except OSError:
            pass  # absent, or a process is still in it (reported by the leak check)


class Control(Fault):
    """Negative controls of the harness's own checks (kinds control_*, in neither `safe` nor
    `all`): each leaves, after the scenario, what one check must catch, so such a run must fail."""

    def __init__(self, rng, what):
        super().__init__(rng)
        self.control = what

    def inject(self, c, scenario):
        self.what = f"control: {self.control} after the scenario"

    def cleanup(self, c):
        if self.control == "tamper":  # a dataset part rewritten: the bytes check
            out = run([c.sawmill, "dataset", "list", "--cluster", c.dir]).stdout.decode()
            version = [line.split()[2] for line in out.splitlines() if line.startswith("search ")][0]
            part = f"/datasets/search/{version}/part-00000"
            data = c.get_bytes(part)
            c.dfs("rm", part)
            c.put_bytes(part, data[:-1] + bytes([data[-1] ^ 1]))
        elif self.control == "leftover":  # the leftovers check
            c.put_bytes("/datasets/search/_temporary/attempt-x", b"x")
        elif self.control == "leak":  # a process that ignores cluster down's SIGTERM: the leak check
            subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(15, signal.SIG_IGN); "
                              "time.sleep(120)", os.path.join(c.dir, "leak")], start_new_session=True)


def _kinds():
    kinds = {}
    for role in ("coordinator", "namenode", "datanode", "worker"):
        kinds[f"kill_{role}"] = lambda rng, role=role: Kill(rng, role)
        kinds[f"stop_{role}"] = lambda rng, role=role: Stop(rng, role)
    kinds.update({"kill_master": KillMaster, "kill_client": KillClient, "corrupt_block": CorruptBlock,
                  "corrupt_map_output": CorruptMapOutput, "full_disk": FullDisk, "partition": Partition})
    for role in ("datanode", "coordinator", "namenode"):
        kinds[f"fault_point_{role}"] = lambda rng, role=role: FaultPoint(rng, role)
    return kinds


CONTROLS = {f"control_{what}": (lambda rng, what=what: Control(rng, what)) for what in ("tamper", "leftover", "leak")}
KINDS = _kinds()
# Faults that take neither the coordinator nor the namenode away: the clients survive them
# without reconnecting (issue 20, item 2), so CI runs these.
SAFE = ["kill_worker", "kill_datanode", "stop_worker", "stop_datanode", "kill_master", "kill_client",
        "corrupt_block", "corrupt_map_output", "full_disk", "fault_point_datanode"]


def make(kind, seed):
    if kind in CONTROLS:
        return CONTROLS[kind](random.Random(seed))
    if kind not in KINDS:
        raise Fail(f"unknown fault kind {kind!r}; kinds: {', '.join(sorted(KINDS))}")
    return KINDS[kind](random.Random(seed))

#!/usr/bin/env python3
"""A cluster across network namespaces, each with its own address, started host by host from one
config file (`sawmill namenode|coordinator|datanode|worker --config F`, docs/deploy.md), runs
wordcount submitted from the root namespace and produces the same bytes as local mode.

Usage: tests/scheduler/netns_test.py BUILD_DIR
Needs root and `ip netns`; without them it prints "skipped: ..." and exits 0. Three namespaces
(swm<pid>a..c, hosts h1..h3) hang off a bridge in the root namespace by veth pairs, addressed in
a free 10.213.X.0/24; namenode and coordinator run in h1, a datanode and a worker in each. Waits
are on conditions with deadlines; namespaces, links and processes are removed even on failure.
"""
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile

BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build"
SAWMILL = os.path.join(BUILD, "sawmill")
WORDCOUNT = os.path.join(BUILD, "jobs", "wordcount")
MB = 1 << 20
HOSTS = 3
# Each namespace has its own port space, so fixed ports cannot collide with anything outside.
NAMENODE_PORT, NAMENODE_HTTP, COORDINATOR_PORT, COORDINATOR_HTTP, DATANODE_PORT, WORKER_PORT = (
    7100, 7101, 7200, 7201, 7300, 7400)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from harness import Fail, exit_on_sigterm, http_get, output_parts, run, wait_for  # noqa: E402


class Skip(Exception):
    pass


def log(msg):
    print(f"ok   [netns] {msg}", flush=True)


class Network:
    """A bridge in the root namespace and HOSTS namespaces on it, each with one veth pair."""

    def __init__(self):
        pid = os.getpid()
        self.prefix = f"swm{pid}"  # interface names stay under 15 bytes
        self.bridge = self.prefix + "br"
        self.namespaces = [self.prefix + chr(ord("a") + i) for i in range(HOSTS)]
        self.subnet = None
        self.made_namespaces, self.made_links = [], []

    def free_subnet(self):
        used = run(["ip", "-4", "-o", "addr", "show"]).stdout.decode() + run(["ip", "-4", "route"]).stdout.decode()
        start = os.getpid() % 200
        for k in range(200):
            x = 20 + (start + k) % 200
            if f"10.213.{x}." not in used:
                return f"10.213.{x}"
        raise Fail("no free 10.213.X.0/24 for the test network")

    def ip(self, i):
        return f"{self.subnet}.{i + 1}"

    def up(self):
        self.subnet = self.free_subnet()
        run(["ip", "link", "add", self.bridge, "type", "bridge"])
        self.made_links.append(self.bridge)
        run(["ip", "addr", "add", f"{self.subnet}.254/24", "dev", self.bridge])
        run(["ip", "link", "set", self.bridge, "up"])
        for i, ns in enumerate(self.namespaces):
            outside, inside = ns + "0", ns + "1"
            run(["ip", "netns", "add", ns])
            self.made_namespaces.append(ns)
            run(["ip", "link", "add", outside, "type", "veth", "peer", "name", inside])
            self.made_links.append(outside)
            run(["ip", "link", "set", inside, "netns", ns])
            run(["ip", "link", "set", outside, "master", self.bridge])
            run(["ip", "link", "set", outside, "up"])
            run(["ip", "netns", "exec", ns, "ip", "addr", "add", f"{self.ip(i)}/24", "dev", inside])
            run(["ip", "netns", "exec", ns, "ip", "link", "set", inside, "up"])
            run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"])
        log(f"namespaces {', '.join(self.namespaces)} at {self.ip(0)}..{self.ip(HOSTS - 1)} on bridge "
            f"{self.bridge} ({self.subnet}.254)")

    def down(self):
        for ns in reversed(self.made_namespaces):  # takes the veth pair with it
            run(["ip", "netns", "del", ns], check=False)
        for link in reversed(self.made_links):
            if run(["ip", "link", "show", link], check=False).returncode == 0:
                run(["ip", "link", "del", link], check=False)


class Deployment:
    """One config file and secret, daemons started by namespace with --config, like real hosts."""

    def __init__(self, net):
        self.net = net
        self.dir = tempfile.mkdtemp(prefix="sawmill-netns.")
        self.procs = []  # (name, Popen, log path)
        self.hosts = [f"h{i + 1}" for i in range(HOSTS)]
        secret = os.path.join(self.dir, "secret")
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
        os.close(fd)
        master = net.ip(0)
        processes = [
            {"role": "namenode", "host": "h1", "address": f"{master}:{NAMENODE_PORT}",
             "http": f"{master}:{NAMENODE_HTTP}", "dir": "h1/namenode"},
            {"role": "coordinator", "host": "h1", "address": f"{master}:{COORDINATOR_PORT}",
             "http": f"{master}:{COORDINATOR_HTTP}", "dir": "h1/coordinator"},
        ]
        for i, h in enumerate(self.hosts):
            processes.append({"role": "datanode", "host": h, "address": f"{net.ip(i)}:{DATANODE_PORT}", "dir": h})
            processes.append({"role": "worker", "host": h, "address": f"{net.ip(i)}:{WORKER_PORT}",
                              "dir": f"{h}/worker"})
        # Relative paths: resolved against the config file's directory by every daemon.
        self.config = {"secret_file": "secret", "replication": 2, "block_size": MB, "processes": processes}
        self.config_file = os.path.join(self.dir, "cluster.json")
        with open(self.config_file, "w") as f:
            json.dump(self.config, f, indent=2)

    def start(self, name, ns, role, *extra):
        path = os.path.join(self.dir, name.replace("/", "-") + ".log")
        out = open(path, "ab")
        p = subprocess.Popen(["ip", "netns", "exec", ns, SAWMILL, role, "--config", self.config_file, *extra],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self.procs.append((name, p, path))
        return p

    def wait_endpoint(self, name, p, directory):
        path = os.path.join(self.dir, directory, "endpoint.json")

        def ready():
            if p.poll() is not None:
                raise Fail(f"{name} exited {p.returncode} before listening:\n{self.tail(name)}")
            try:
                with open(path) as f:
                    return json.load(f)
            except (OSError, ValueError):
                return None
        return wait_for(f"{name}'s {path}", ready, timeout=30)

    def tail(self, name):
        for n, _, path in self.procs:
            if n == name:
                with open(path, "rb") as f:
                    return f.read()[-2000:].decode(errors="replace")
        return ""

    def up(self):
        a = self.net.namespaces[0]
        nn = self.start("namenode", a, "namenode")
        ep = self.wait_endpoint("namenode", nn, "h1/namenode")
        if ep["address"] != f"{self.net.ip(0)}:{NAMENODE_PORT}":
            raise Fail(f"namenode advertises {ep['address']}, not its configured address")
        for i, h in enumerate(self.hosts):
            dn = self.start(f"{h}/datanode", self.net.namespaces[i], "datanode", "--host", h)
            self.wait_endpoint(f"{h}/datanode", dn, f"{h}/datanode")
        co = self.start("coordinator", a, "coordinator")
        self.wait_endpoint("coordinator", co, "h1/coordinator")
        for i, h in enumerate(self.hosts):
            # An explicit flag overrides the config file.
            w = self.start(f"{h}/worker", self.net.namespaces[i], "worker", "--host", h, "--slots", "2")
            self.wait_endpoint(f"{h}/worker", w, f"{h}/worker")

        want = {f"{self.net.ip(i)}:{DATANODE_PORT}" for i in range(HOSTS)}

        def datanodes_live():
            p = self.dfs("datanodes", check=False)
            rows = [line.split() for line in p.stdout.decode().splitlines()[1:] if line.strip()]
            live = {r[2] for r in rows if len(r) > 3 and r[3] == "live"}
            return live == want
        wait_for(f"datanodes at {sorted(want)} live at the namenode", datanodes_live, timeout=30)
        log(f"{HOSTS} datanodes registered with their namespace addresses {sorted(want)}")

        want = {f"{self.net.ip(i)}:{WORKER_PORT}" for i in range(HOSTS)}

        def workers_registered():
            try:
                workers = self.coordinator_json("/api/cluster")["workers"]
            except (OSError, ValueError, Fail):
                return False
            return {w["address"] for w in workers} == want and {w["host"] for w in workers} == set(self.hosts)
        wait_for(f"workers at {sorted(want)} registered with the coordinator", workers_registered, timeout=30)
        log(f"{HOSTS} workers registered, shuffle servers at {sorted(want)}")

    def dfs(self, *args, check=True):
        return run([SAWMILL, "dfs", "--cluster", self.dir, *args], check=check)

    def coordinator_json(self, path):
        url = f"http://{self.net.ip(0)}:{COORDINATOR_HTTP}{path}"
        code, _, body = http_get(url)
        if code != 200:
            raise Fail(f"{url}: HTTP {code}")
        return json.loads(body)

    def down(self):
        for _, p, _ in reversed(self.procs):  # workers, coordinator, datanodes, namenode
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        stuck = []
        for name, p, _ in reversed(self.procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                stuck.append(name)
                p.kill()
                p.wait()
        unclean = [f"{n} ({p.returncode})" for n, p, _ in self.procs if p.returncode != 0]
        return stuck, unclean


def local_parts(text, out):
    shutil.rmtree(out, ignore_errors=True)
    run([WORDCOUNT, "--input", text, "--output", out, "--reducers", "3", "--split_mb", "1", "--progress", "never"])
    return {n: open(os.path.join(out, n), "rb").read() for n in sorted(os.listdir(out)) if n.startswith("part-")}


def check_config_errors(d):
    """A worker without --host and a datanode listening everywhere with nothing to advertise are
    refused before they start anything."""
    p = run([SAWMILL, "worker", "--config", d.config_file], check=False)
    if p.returncode != 2 or b"--host" not in p.stderr:
        raise Fail(f"worker --config without --host: exit {p.returncode}, {p.stderr.decode()}")
    p = run([SAWMILL, "worker", "--config", d.config_file, "--host", "h9"], check=False)
    if p.returncode != 2 or b"h9" not in p.stderr:
        raise Fail(f"worker --config --host h9: exit {p.returncode}, {p.stderr.decode()}")
    p = run([SAWMILL, "datanode", "--config", d.config_file, "--host", "h1", "--advertise", "0.0.0.0"], check=False)
    if p.returncode != 2 or b"--advertise" not in p.stderr:
        raise Fail(f"datanode --advertise 0.0.0.0: exit {p.returncode}, {p.stderr.decode()}")
    log("config errors refused: worker without --host, unknown host h9, wildcard --advertise")


def check_environment():
    if os.geteuid() != 0:
        raise Skip("needs root for network namespaces")
    if shutil.which("ip") is None:
        raise Skip("no `ip` command (iproute2)")
    if run(["ip", "netns", "list"], check=False).returncode != 0:
        raise Skip("`ip netns` is unavailable")
    for f in (SAWMILL, WORDCOUNT):
        if not os.access(f, os.X_OK):
            raise Fail(f"{f} is not built")
    probe = f"swm{os.getpid()}p"
    if run(["ip", "netns", "add", probe], check=False).returncode != 0:
        raise Skip("cannot create a network namespace here")
    run(["ip", "netns", "del", probe], check=False)


def test(d):
    check_config_errors(d)
    d.up()
    text = os.path.join(d.dir, "text.txt")
    run([SAWMILL, "gen", "text", "--bytes", "3000000", "--seed", "1", "--output", text])
    local = local_parts(text, os.path.join(d.dir, "local_out"))
    # From the root namespace, which reaches every namespace through the bridge.
    d.dfs("put", text, "/in/text.txt", "--replication", "2", "--block_size", str(MB))
    p = run([WORDCOUNT, "--cluster", d.dir, "--input", "dfs:/in/text.txt", "--output", "dfs:/out", "--reducers", "3",
             "--split_mb", "1", "--wait", "--progress", "never"])
    job_id = next((line.split()[1].rstrip(":") for line in p.stdout.decode().splitlines()
                   if line.startswith("submitted ")), None)
    if job_id is None:
        raise Fail(f"no job id in: {p.stdout.decode()}")
    parts = output_parts(d.dfs, "/out")
    if parts.keys() != local.keys():
        raise Fail(f"parts {sorted(parts)} vs local {sorted(local)}")
    for n in local:
        if parts[n] != local[n]:
            raise Fail(f"{n} differs from local mode ({len(parts[n])} vs {len(local[n])} bytes)")
    log(f"{job_id}: {len(local)} parts, {sum(len(v) for v in local.values())} bytes, byte-identical to local mode")
    status = d.coordinator_json("/api/jobs/" + job_id)
    if status["state"] != "succeeded":
        raise Fail(f"{job_id} is {status['state']}: {status['error']}")
    ran = sorted({a["host"] for a in status["attempts"] if a["state"] == "succeeded"})
    if len(ran) < 2:
        raise Fail(f"{job_id}'s attempts all ran on {ran}: want at least 2 hosts")
    log(f"{job_id}: {len(status['attempts'])} attempts succeeded on hosts {ran}, "
        f"{status['data_local_maps']} of {status['maps']} maps data-local")
    check_same_machine_paths(d, text)


def cat_from(d, ns, path):
    """`sawmill dfs cat` in namespace `ns` with the client's verbose log: (bytes, fallback lines)."""
    env = dict(os.environ, GLOG_v="1", GLOG_logtostderr="1")
    p = subprocess.run(["ip", "netns", "exec", ns, SAWMILL, "dfs", "--cluster", d.dir, "cat", path],
                       capture_output=True, timeout=60, env=env)
    if p.returncode != 0:
        raise Fail(f"dfs cat from {ns} exited {p.returncode}: {p.stderr.decode(errors='replace')[-2000:]}")
    fallbacks = [line for line in p.stderr.decode(errors="replace").splitlines()
                 if "reading over the wire" in line or "; trying " in line]
    return p.stdout, fallbacks


def check_same_machine_paths(d, text):
    """Namespaces share the kernel's boot id, so a client in one takes the same-machine paths to
    datanodes in the others: their Unix sockets (file-system paths, reachable from every network
    namespace) and short-circuit reads of replica files. Both must work, not fall back to TCP;
    with the sockets moved away the client must say so and fall back to the advertised address."""
    ns = d.net.namespaces[-1]
    with open(text, "rb") as f:
        want = f.read()
    data, fallbacks = cat_from(d, ns, "/in/text.txt")
    if data != want:
        raise Fail(f"dfs cat from {ns} read other bytes than were put")
    if fallbacks:
        raise Fail(f"same-machine paths failed across namespaces: {fallbacks[:3]}")
    sockets = [os.path.join(d.dir, h, "datanode", "data.sock") for h in d.hosts]
    for s in sockets:
        os.rename(s, s + ".moved")
    try:
        data, fallbacks = cat_from(d, ns, "/in/text.txt")
    finally:
        for s in sockets:
            os.rename(s + ".moved", s)
    if data != want:
        raise Fail(f"dfs cat from {ns} without Unix sockets read other bytes than were put")
    if not any("; trying " in line for line in fallbacks):
        raise Fail("with the datanodes' Unix sockets moved away the client did not report falling back to TCP")
    log(f"dfs cat from {ns}: same bytes over the other namespaces' Unix sockets and short-circuit reads "
        f"(no fallback), and over TCP to the advertised addresses with the sockets moved away")


def main():
    try:
        check_environment()
    except Skip as e:
        print(f"skipped: {e}", flush=True)
        return 0
    # A SIGTERM (a user, `timeout`) still runs the cleanup below.
    exit_on_sigterm()
    net, d = Network(), None
    failed = False
    try:
        net.up()
        d = Deployment(net)
        test(d)
    except (Fail, subprocess.TimeoutExpired) as e:
        failed = True
        print(f"FAIL [netns] {e}", flush=True)
        for name, _, _ in (d.procs if d else []):
            print(f"---- {name} log tail:\n{d.tail(name)}", flush=True)
    except BaseException:  # a signal, an unexpected error: clean up, keep the logs, re-raise
        failed = True
        raise
    finally:
        if d is not None:
            stuck, unclean = d.down()
            if stuck or unclean:
                failed = True
                print(f"FAIL [netns] stop: {stuck} ignored SIGTERM; exit codes: {unclean}", flush=True)
            else:
                log("every daemon stopped cleanly on SIGTERM")
        net.down()
        if d is not None and not failed:
            shutil.rmtree(d.dir, ignore_errors=True)
        elif d is not None:
            print(f"logs kept in {d.dir}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

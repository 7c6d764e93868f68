#!/usr/bin/env python3
"""Samples the processes of a local cluster (D/cluster.json) for bench/many_hosts.sh.

  cluster_sample.py idle D SECONDS
      Per role (namenode, coordinator, datanode, worker): resident memory, threads and
      wake-ups per second (context switches of all its threads) over SECONDS of idleness, and
      the bytes that reached the namenode's and the coordinator's RPC ports in that time (an
      iptables chain on loopback, removed afterwards), per host and minute.
  cluster_sample.py watch D OUT
      Writes OUT.ready, samples every 0.2 s until SIGTERM, then writes to OUT the most of: established TCP
      connections to the workers' shuffle ports, to any daemon's port, and to one daemon of each role, open files of one worker with its task
      processes, open files of all the cluster's processes, and each daemon's open-file limit.
"""
import json
import os
import signal
import subprocess
import sys
import time

CHAIN = "sawmill-many-hosts"


def processes(cluster_dir):
    with open(os.path.join(cluster_dir, "cluster.json")) as f:
        return json.load(f)["processes"]


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def status_field(text, name):
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def context_switches(pid):
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tids:
        text = read(f"/proc/{pid}/task/{tid}/status")
        total += status_field(text, "voluntary_ctxt_switches") + status_field(text, "nonvoluntary_ctxt_switches")
    return total


def snapshot(p):
    text = read(f"/proc/{p['pid']}/status")
    return {"rss_kb": status_field(text, "VmRSS"), "threads": status_field(text, "Threads"),
            "switches": context_switches(p["pid"])}


def port(address):
    return int(address.rsplit(":", 1)[1])


def iptables(*args, check=True):
    return subprocess.run(["iptables", "-w", *args], check=check, capture_output=True, text=True)


def remove_chain():
    iptables("-D", "INPUT", "-i", "lo", "-j", CHAIN, check=False)
    iptables("-F", CHAIN, check=False)
    iptables("-X", CHAIN, check=False)


def count_ports(ports):
    """Counting rules on loopback input: bytes to each port and bytes from it."""
    remove_chain()
    iptables("-N", CHAIN)
    for p in ports:
        iptables("-A", CHAIN, "-p", "tcp", "--dport", str(p))
        iptables("-A", CHAIN, "-p", "tcp", "--sport", str(p))
    iptables("-I", "INPUT", "-i", "lo", "-j", CHAIN)


def port_bytes(ports):
    out = iptables("-L", CHAIN, "-v", "-x", "-n").stdout.splitlines()[2:]
    total = {p: 0 for p in ports}
    for line in out:
        f = line.split()
        for word in f:
            if word.startswith("dpt:") or word.startswith("spt:"):
                total[int(word[4:])] += int(f[1])
    return total


def idle(cluster_dir, seconds):
    procs = processes(cluster_dir)
    hosts = sum(1 for p in procs if p["role"] == "datanode")
    rpc = {p["role"]: port(p["address"]) for p in procs if p["role"] in ("namenode", "coordinator")}
    counting = True
    try:
        count_ports(list(rpc.values()))
    except (OSError, subprocess.CalledProcessError) as e:
        counting = False
        print(f"(no iptables counters: {e}; traffic not measured)")
    try:
        before = {p["pid"]: snapshot(p) for p in procs}
        t0 = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        after = {p["pid"]: snapshot(p) for p in procs}
        traffic = port_bytes(list(rpc.values())) if counting else None
    finally:
        if counting:
            remove_chain()
    print(f"idle for {elapsed:.0f} s, {hosts} hosts")
    print(f"{'role':<12}{'count':>6}{'RSS MiB (mean)':>16}{'RSS MiB (all)':>15}{'threads':>9}{'wake-ups/s':>12}")
    for role in ("namenode", "coordinator", "datanode", "worker"):
        pids = [p["pid"] for p in procs if p["role"] == role]
        if not pids:
            continue
        rss = sum(after[pid]["rss_kb"] for pid in pids) / 1024
        threads = sum(after[pid]["threads"] for pid in pids) / len(pids)
        wakeups = sum(after[pid]["switches"] - before[pid]["switches"] for pid in pids) / elapsed / len(pids)
        print(f"{role:<12}{len(pids):>6}{rss / len(pids):>16.1f}{rss:>15.1f}{threads:>9.1f}{wakeups:>12.1f}")
    if traffic is not None:
        minutes = elapsed / 60
        for role, p in rpc.items():
            print(f"traffic to and from the {role}: {traffic[p] / minutes / 1024:.1f} KiB/min in all, "
                  f"{traffic[p] / minutes / hosts:.0f} bytes per host per minute")


def descendants(pid, children):
    out = [pid]
    for c in children.get(pid, []):
        out.extend(descendants(c, children))
    return out


def open_files(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def tcp_established():
    """Established connections by the local port of their server side (each counted once there)."""
    by_port = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in read(table).splitlines()[1:]:
            f = line.split()
            if f[3] != "01":
                continue
            local = int(f[1].rsplit(":", 1)[1], 16)
            by_port[local] = by_port.get(local, 0) + 1
    return by_port


def nofile_limit(pid):
    for line in read(f"/proc/{pid}/limits").splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return 0


def watch(cluster_dir, out_path):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    procs = processes(cluster_dir)
    workers = [p["pid"] for p in procs if p["role"] == "worker"]
    shuffle_ports = {port(p["address"]) for p in procs if p["role"] == "worker"}
    limits = {p["role"]: nofile_limit(p["pid"]) for p in procs}
    role_of = {port(p["address"]): p["role"] for p in procs}
    most = {"connections": 0, "all_connections": 0, "worker_files": 0, "cluster_files": 0,
            "per_daemon": {}}
    open(out_path + ".ready", "w").close()
    while not stop:
        children = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                f = read(f"/proc/{d}/stat").rsplit(")", 1)
                if len(f) == 2:
                    children.setdefault(int(f[1].split()[1]), []).append(int(d))
        per_worker = [sum(open_files(q) for q in descendants(w, children)) for w in workers]
        total = sum(per_worker) + sum(open_files(p["pid"]) for p in procs if p["role"] != "worker")
        most["worker_files"] = max(most["worker_files"], max(per_worker, default=0))
        most["cluster_files"] = max(most["cluster_files"], total)
        by_port = tcp_established()
        most["connections"] = max(most["connections"], sum(by_port.get(p, 0) for p in shuffle_ports))
        most["all_connections"] = max(most["all_connections"], sum(by_port.get(p, 0) for p in role_of))
        for p, role in role_of.items():  # the most one daemon of each role served at once
            most["per_daemon"][role] = max(most["per_daemon"].get(role, 0), by_port.get(p, 0))
        time.sleep(0.2)
    most["nofile_limits"] = limits
    with open(out_path, "w") as f:
        json.dump(most, f)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("idle", "watch"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    if sys.argv[1] == "idle":
        idle(sys.argv[2], float(sys.argv[3]))
    else:
        watch(sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The chaos harness (issue 20): each run starts a 3-host cluster and runs the nightly scenario on
it (archive a day of web logs, run the pipeline of views, index and a join with --promote, then
the next day) while a seeded schedule injects ONE fault at a random moment (tests/chaos/faults.py).
After each run: every dataset's manifest content hashes equal a fault-free run's, fsck is healthy,
no _temporary or .staging- entry is left in the store, and no process outlives `cluster down`.
Prints a table of fault kind x runs x survived, and a replay command for each failed run.

Usage: tests/chaos/chaos.py BUILD [--runs N] [--seed S] [--faults safe|all|KIND,...] [--fault KIND]
                            [--work DIR]
Run r uses seed S+r and the fault kinds in turn, so `--seed S+r --runs 1 --fault KIND` replays it.
"""
import argparse
import collections
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, os.path.join(HERE, "..", "jobs"))
import faults  # noqa: E402
from harness import Cluster, Fail, processes_in, run, wait_for  # noqa: E402
from tmpfs import can_mount, tmpfs  # noqa: E402
from views_test import web_log  # noqa: E402

MB = 1 << 20
DAY = 86_400_000
DAY1 = 1_764_720_000_000  # 2025-12-03T00:00:00Z
PARTITIONS = 3
DATASETS = ("stats_day1", "stats_all", "sessions", "search", "country")


def log(msg):
    print(msg, flush=True)


class ClientFailed(Exception):
    pass


class Client:
    """Runs the scenario's client commands one at a time, each in its own process group, so the
    KillClient fault can SIGKILL the whole of the current one (kill()); a command killed that way
    is run again, as an operator would."""

    def __init__(self):
        self.lock = threading.Lock()
        self.proc, self.what, self.killed = None, None, set()

    def run(self, what, argv, input=None):
        while True:
            p = subprocess.Popen(argv, stdin=subprocess.PIPE if input else subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, start_new_session=True)
            with self.lock:
                self.proc, self.what = p, what
            try:
                out, err = p.communicate(input, timeout=300)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.communicate()
                raise ClientFailed(f"{what} did not finish in 300 s")
            finally:
                with self.lock:
                    self.proc = None
            if p.pid in self.killed:
                log(f"       {what} was killed: run again")
                continue
            if p.returncode != 0:
                text = (out + err).decode(errors="replace")
                first = next((line for line in text.splitlines() if "error" in line.lower()), "")
                raise ClientFailed(f"{what} exited {p.returncode}: {first}\n{text[-1500:]}")
            return out.decode(errors="replace")

    def kill(self):
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                return None
            self.killed.add(self.proc.pid)
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.what


class Scenario:
    """The nightly scenario on cluster `c`: users table, day 1 archived (3 partitions), the pipeline
    with --promote, day 2 archived, the pipeline again."""

    def __init__(self, build, work):
        self.sawmill, self.jobs = os.path.join(build, "sawmill"), os.path.join(build, "jobs")
        self.work = work
        self.client = Client()
        self.done = threading.Event()
        day1 = self._day(DAY1, 11, [0] * PARTITIONS)
        self.days = [day1, self._day(DAY1 + DAY, 12, [len(part) for part in day1])]
        self.users = os.path.join(work, "users.tsv")
        with open(self.users, "w") as f:
            f.write("".join(f"user{i}\t{['fr', 'de', 'jp', 'br'][i % 4]}\n" for i in range(35)))

    @staticmethod
    def _day(day_start, seed, first):
        """Per partition: the TSV lines `OFFSET<TAB>TS<TAB>PAYLOAD` of a day of hits in time order,
        offsets from first[partition] on."""
        parts = web_log(seed, 12000, PARTITIONS)
        rows = [sorted(((ts - DAY1) % DAY + day_start, p) for _, ts, p in recs) for recs in parts]
        return [[f"{first[pi] + i}\t{t}\t{p}\n" for i, (t, p) in enumerate(recs)] for pi, recs in enumerate(rows)]

    def pipeline_file(self, c):
        jobs = [
            {"name": "stats_day1", "binary": "page_stats", "output": "dataset:stats_day1", "args": ["--reducers", "2"],
             "inputs": ["logs:web@2025-12-03T00:00:00Z,2025-12-04T00:00:00Z"]},
            {"name": "stats_all", "binary": "page_stats", "inputs": ["logs:web"], "output": "dataset:stats_all",
             "args": ["--reducers", "2"]},
            {"name": "sessions", "binary": "sessionize", "inputs": ["logs:web"], "output": "dataset:sessions",
             "args": ["--reducers", "3"]},
            {"name": "search", "binary": "inverted_index", "inputs": ["logs:web"], "output": "dataset:search",
             "args": ["--reducers", "3"]},
            {"name": "country", "binary": "country_stats", "inputs": ["logs:web"], "output": "dataset:country",
             "args": ["--users", "dfs:/users.tsv", "--reducers", "2"]},
        ]
        path = os.path.join(c.dir, "nightly.json")
        with open(path, "w") as f:
            json.dump({"jobs": jobs}, f)
        return path

    def run(self, c):
        t0 = time.monotonic()
        try:
            store = ["--cluster", c.dir]
            self.client.run("dfs put users.tsv", [self.sawmill, "dfs", *store, "put", self.users, "/users.tsv"])
            pipeline = self.pipeline_file(c)
            for d, parts in enumerate(self.days, 1):
                for pi, data in enumerate(parts):
                    self.client.run(f"day {d}: logs archive --partition {pi}",
                                    [self.sawmill, "logs", "archive", *store, "--stream", "web", "--partition", str(pi)],
                                    input="".join(data).encode())
                self.client.run(f"day {d}: pipeline run --promote",
                                [self.sawmill, "pipeline", "run", pipeline, *store, "--promote", "--jobs_dir", self.jobs])
        finally:
            self.done.set()
            self.took_s = time.monotonic() - t0


def manifests(c):
    """{dataset: [(part, content hash in its manifest, SHA-256 of its bytes as read)]} of each
    dataset's current version."""
    listing = run([c.sawmill, "dataset", "list", "--cluster", c.dir], check=False, timeout=60).stdout.decode()
    current = {line.split()[0]: line.split()[2] for line in listing.splitlines() if len(line.split()) > 2}
    got = {}
    for name in DATASETS:
        p = run([c.sawmill, "manifest", "--cluster", c.dir, f"dataset:{name}"], check=False, timeout=60)
        text = p.stdout.decode(errors="replace")
        names = [line.split('"')[1] for line in text.splitlines() if line.strip().startswith("( name =")]
        hashes = [line.split('"')[1] for line in text.splitlines() if "contentHash" in line]
        if p.returncode != 0 or name not in current:
            got[name] = f"manifest exited {p.returncode}, current {current.get(name)}"
            continue
        got[name] = [(n, h, hashlib.sha256(c.get_bytes(f"/datasets/{name}/{current[name]}/{n}")).hexdigest()[:16])
                     for n, h in zip(names, hashes)]
    return got


def check(c, reference):
    """What each run must leave: the reference's datasets, a healthy store without leftovers."""
    wait_for("every job to end", lambda: not faults.active_jobs(c), timeout=180, interval=0.5)
    got = manifests(c)
    if reference is not None:
        for name in DATASETS:
            if got[name] != reference[name]:
                raise Fail(f"dataset {name}: (part, manifest content hash, bytes' SHA-256) {got[name]} differ from "
                           f"the fault-free run's {reference[name]}")

    def healthy():
        code, report = c.fsck()
        return code == 0 and "status: HEALTHY" in report
    try:
        wait_for("fsck to be healthy", healthy, timeout=60, interval=0.5)
    except Fail:
        raise Fail(f"fsck is not healthy after 60 s: {c.fsck()[1][-1500:]}")
    listing = c.dfs("ls", "--recursive", "/").stdout.decode(errors="replace").splitlines()
    left = [line.split()[-1] for line in listing if "/_temporary" in line or "/.staging-" in line]
    if left:
        raise Fail(f"left in the store: {left[:5]}")
    return got


def stop_and_check_leaks(c):
    """`cluster down`, then every process started from the cluster's directory must end."""
    run([c.sawmill, "cluster", "down", "--dir", c.dir], check=False, timeout=60)
    try:
        wait_for("every process of the cluster to end", lambda: not processes_in(c.dir), timeout=30)
    except Fail:
        leaked = []
        for pid in processes_in(c.dir):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
                leaked.append(f"{pid}: {cmdline[:200]}")
            except OSError:
                pass
        if leaked:
            raise Fail(f"processes left after cluster down: {leaked}")


def one_run(build, work, kind, seed, reference, span_s):
    """One run; returns (manifests, the scenario's seconds, what was injected or None, failure or
    None)."""
    rng = random.Random(seed)
    fault = faults.make(kind, seed) if kind else None
    at_s = rng.uniform(0.05, 0.9) * span_s
    d = os.path.join(work, f"run-{seed}-{kind or 'none'}")
    shutil.rmtree(d, ignore_errors=True)
    scenario = Scenario(build, work)
    injected, problem, got = None, None, None
    try:
        with tmpfs_for(fault, d):
            with Cluster(build, workers=3, replication=2, dir=d, block_size=MB, slots=2, sync_blocks="false") as c:
                if fault:
                    fault.setup(c)
                injector = Injector(fault, c, scenario, at_s if fault.timed else 0.0) if fault else None
                try:
                    scenario.run(c)
                except ClientFailed as e:
                    problem = f"client failed: {e}"
                    if fault and fault.needs_reconnect:
                        problem += (" (a fault that takes the coordinator or the namenode away: the clients must "
                                    "wait it out, issue 20 item 2)")
                if injector:
                    injector.join()
                    injected, error = injector.result()
                    if error:
                        problem = problem or f"injecting {kind}: {error}"
                    fault.cleanup(c)
                    injected = injected and injected + fault.note
                if problem is None:
                    got = check(c, reference)
                stop_and_check_leaks(c)
    except Fail as e:
        problem = problem or str(e)
    except Exception as e:  # noqa: BLE001 (a harness error fails this run, not the others)
        problem = problem or f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}"
    finally:
        if fault:
            fault.release()
    if problem is None:
        shutil.rmtree(d, ignore_errors=True)
    else:
        log(f"       (cluster left in {d} for inspection)")
    return got, getattr(scenario, "took_s", 0.0), injected, problem


def tmpfs_for(fault, d):
    """A tmpfs for the worker folder the fault fills, mounted before the cluster starts."""
    import contextlib
    if fault is None or not fault.tmpfs_size:
        return contextlib.nullcontext()
    return tmpfs(os.path.join(d, fault.host, "worker", "jobs"), fault.tmpfs_size)


class Injector(threading.Thread):
    """Waits `at_s` (or the scenario's end, then injects nothing), then injects the fault."""

    def __init__(self, fault, c, scenario, at_s):
        super().__init__(daemon=True)
        self.fault, self.c, self.scenario, self.at_s = fault, c, scenario, at_s
        self.injected, self.error = None, None
        self.start()

    def run(self):
        if self.scenario.done.wait(self.at_s):
            self.injected = None  # the scenario ended before the moment
            return
        try:
            self.fault.inject(self.c, self.scenario)
            self.injected = (f"at {self.at_s:.1f} s: " if self.fault.timed else "") + self.fault.what
        except faults.NotInjected:
            pass
        except Exception as e:  # noqa: BLE001 (reported as the run's failure)
            self.error = f"{type(e).__name__}: {e}\n{traceback.format_exc()[-800:]}"

    def result(self):
        return self.injected, self.error


def fault_list(a):
    if a.fault:
        kinds = [a.fault]
    elif a.faults in ("safe", "all"):
        kinds = list(faults.SAFE) if a.faults == "safe" else sorted(faults.KINDS)
    else:
        kinds = [k for k in a.faults.split(",") if k]
    for k in kinds:
        faults.make(k, 0)  # raises Fail naming an unknown or unbuilt kind
    if not can_mount() and "full_disk" in kinds:
        log("note: full_disk needs root (a tmpfs mount): left out")
        kinds.remove("full_disk")
    if not faults.can_partition() and "partition" in kinds:
        log("note: partition needs root, iptables and cgroup v2: left out")
        kinds.remove("partition")
    if not kinds:
        raise Fail("no fault kind left to run")
    return kinds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--faults", default="safe", help="safe (default), all, or a comma-separated list of kinds")
    ap.add_argument("--fault", help="one kind (for a replay)")
    ap.add_argument("--work", help="folder for the clusters (default: a new temporary folder)")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    kinds = fault_list(a)
    faults.remove_stale_partitions()
    work = os.path.abspath(a.work) if a.work else tempfile.mkdtemp(prefix="sawmill-chaos.")
    os.makedirs(work, exist_ok=True)
    log(f"chaos: {a.runs} run(s) from seed {a.seed}, faults {','.join(kinds)}; work {work}")
    reference, span_s, _, problem = one_run(build, work, None, a.seed, None, 1.0)
    if problem:
        raise Fail(f"the fault-free reference run failed: {problem}")
    log(f"ok   reference: the fault-free scenario took {span_s:.1f} s; {len(DATASETS)} datasets")
    table = collections.OrderedDict((k, [0, 0, 0]) for k in kinds)
    failed = []
    for r in range(a.runs):
        seed, kind = a.seed + r, kinds[r % len(kinds)]
        got, took, injected, problem = one_run(build, work, kind, seed, reference, span_s)
        row = table[kind]
        row[0] += 1
        row[1] += injected is not None
        row[2] += problem is None
        if problem:
            failed.append((seed, kind, problem))
            log(f"FAIL run {r} seed {seed} {kind} ({took:.1f} s): {injected or 'not injected'}: {problem}")
        else:
            log(f"ok   run {r} seed {seed} {kind} ({took:.1f} s): {injected or 'not injected (the scenario ended first)'}")
    log("")
    log(f"{'fault kind':<24} {'runs':>5} {'injected':>9} {'survived':>9}")
    for kind, (runs, injected, survived) in table.items():
        log(f"{kind:<24} {runs:>5} {injected:>9} {survived:>9}")
    total = [sum(row[i] for row in table.values()) for i in range(3)]
    log(f"{'total':<24} {total[0]:>5} {total[1]:>9} {total[2]:>9}")
    for seed, kind, problem in failed:
        log(f"failed: seed {seed} {kind}: {problem.splitlines()[0][:300]}")
        log(f"  replay: {sys.argv[0]} {a.build} --seed {seed} --runs 1 --fault {kind}")
    if not failed and not a.work:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)

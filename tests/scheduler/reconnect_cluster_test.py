#!/usr/bin/env python3
"""Clients that wait out a restart (--reconnect_s, docs/distributed.md), on real processes:
`sawmill cluster up` on 127.0.0.1 and a word count (jobs/faulty_job, slowed down so that the
fault lands mid-job) followed with --wait while a daemon is SIGKILLed and started again with
`sawmill cluster start`.

Usage: tests/scheduler/reconnect_cluster_test.py BUILD_DIR [CASE...]   (default: every case)
  namenode_restart     the namenode dies mid-job and comes back: the job and its --wait client
                       exit 0, the output byte-identical to local mode
  dataflow_namenode_restart  the same for a dataflow program (its master's stage submissions and
                       waits, its tasks)
  binary_fetch_namenode_restart  the namenode dies while a worker is about to copy the job's
                       binary from the store (fault point worker.binary.fetch): the copy waits
                       it out, and no attempt fails
  coordinator_restart  the coordinator dies mid-job and comes back: the --wait client says once
                       that it waits and once that the coordinator is back, then either follows
                       the job to its end (a coordinator that recovers its jobs) or exits 1
                       with the coordinator's answer that it lost the job (one that does not)
Waits are on conditions with deadlines, never on bare sleeps.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading

BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build"
SAWMILL = os.path.join(BUILD, "sawmill")
JOBS = os.path.join(BUILD, "jobs")
MB = 1 << 20

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from harness import Cluster, Fail, http_get, run, run_main, wait_for  # noqa: E402

JOB_FLAGS = ["--input", "dfs:/in/text.txt", "--output", "dfs:/out/wc", "--reducers", "2", "--split_mb", "1",
             "--map_sleep_ms", "600", "--reduce_sleep_ms", "600"]


def log(case, msg):
    print(f"ok   [{case}] {msg}", flush=True)


def local_parts(text, root):
    out = os.path.join(root, "local")
    run([os.path.join(JOBS, "faulty_job"), "--input", text, "--output", out, "--progress", "never",
         *JOB_FLAGS[4:6]])
    return {n: open(os.path.join(out, n), "rb").read() for n in sorted(os.listdir(out)) if n.startswith("part-")}


class Follower:
    """BUILD/jobs/faulty_job --cluster D --wait ... in the background; its stdout and stderr are
    collected as they come."""

    def __init__(self, c, binary="faulty_job", flags=JOB_FLAGS):
        argv = [os.path.join(JOBS, binary), "--cluster", c.dir, "--wait", "--progress", "never",
                *flags]  # --reconnect_s: its default, 60
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out, self.err = [], []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._drain, args=(self.p.stdout, self.out)),
                        threading.Thread(target=self._drain, args=(self.p.stderr, self.err))]
        for t in self.threads:
            t.start()

    def _drain(self, stream, into):
        for line in iter(stream.readline, b""):
            with self.lock:
                into.append(line.decode(errors="replace"))

    def stdout(self):
        with self.lock:
            return "".join(self.out)

    def stderr(self):
        with self.lock:
            return "".join(self.err)

    def job_id(self):
        for line in self.stdout().splitlines():
            if line.startswith("submitted "):
                return line.split()[1].rstrip(":")
        return None

    def wait(self, timeout=150):
        try:
            code = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            raise Fail(f"the --wait client did not end in {timeout} s; stderr: {self.stderr()[-2000:]}")
        for t in self.threads:
            t.join()
        return code


def cluster():
    return Cluster(BUILD, 2, 1, prefix="sawmill-reconnect-test.", block_size=MB, slots=2, sync_blocks="false")


def files_saying(directory, text):
    """Files under `directory` (daemon logs, attempts' stderr) that contain `text`."""
    found = []
    for root, _, names in os.walk(directory):
        for n in names:
            path = os.path.join(root, n)
            try:
                if os.path.getsize(path) < 4 * MB and text.encode() in open(path, "rb").read():
                    found.append(path)
            except OSError:
                pass
    return found


def follow_a_job(c, text):
    """The word count submitted with --wait (its Follower and job id), once a map is done."""
    c.put(text, "/in/text.txt")
    f = Follower(c)
    jid = wait_for("the job to be submitted", f.job_id, timeout=60)
    wait_for(f"{jid} to have a map done", lambda: c.status(jid)["maps_done"] >= 1, timeout=60)
    return f, jid


def restart_namenode(case, c, f, jid):
    """SIGKILLs the namenode, and starts it again once a client of the store (a task, a program's
    master, the coordinator's commit) has met it down and said so in its log or stderr."""
    notice = f"namenode {c.process('namenode')['address']} unreachable ("
    c.kill("namenode")
    log(case, f"SIGKILLed the namenode while {jid} ran")
    waiting = wait_for("a store client to wait for the namenode (or the --wait client to exit)",
                       lambda: files_saying(c.dir, notice) or f.p.poll() is not None, timeout=60)
    if f.p.poll() is not None:
        raise Fail(f"the --wait client exited {f.wait()} while the namenode was down: {f.stderr()[-2000:]}")
    run([SAWMILL, "cluster", "start", "--dir", c.dir, "--process", "namenode"])
    log(case, f"namenode started again; waited for by {len(waiting)} process(es): "
        f"{', '.join(os.path.relpath(p, c.dir) for p in waiting[:3])}")


def case_namenode_restart(case, text, local):
    with cluster() as c:
        f, jid = follow_a_job(c, text)
        restart_namenode(case, c, f, jid)
        code = f.wait()
        if code != 0:
            raise Fail(f"the --wait client exited {code}: {f.stderr()[-3000:]}")
        s = c.status(jid)
        if s["state"] != "succeeded":
            raise Fail(f"{jid} {s['state']}: {s['error']}")
        got = c.output_parts("/out/wc")
        if got != local:
            raise Fail(f"output parts {sorted(got)} differ from local mode's {sorted(local)}")
        log(case, f"{jid} succeeded and its client exited 0; {len(local)} parts byte-identical to local mode "
            f"({s['failed_attempts']} attempt(s) failed and were retried)")


def case_coordinator_restart(case, text, local):
    with cluster() as c:
        f, jid = follow_a_job(c, text)
        c.kill("coordinator")
        wait_for("the client to say that it waits or to exit",
                 lambda: "unreachable (" in f.stderr() or f.p.poll() is not None, timeout=30)
        if f.p.poll() is not None:
            raise Fail(f"the --wait client gave up at once (exit {f.wait()}): {f.stderr()[-2000:]}")
        notice = [line for line in f.stderr().splitlines() if "unreachable (" in line]
        if len(notice) != 1 or "coordinator 127.0.0.1:" not in notice[0] or "retrying for up to 60 s" not in notice[0]:
            raise Fail(f"expected one 'coordinator ... unreachable (...); retrying for up to 60 s' line: {notice}")
        log(case, f"the client waits: {notice[0].strip()}")
        http = c.process("coordinator")["http"]
        run([SAWMILL, "cluster", "start", "--dir", c.dir, "--process", "coordinator"])
        # Its web page comes back where cluster.json and the submission's link say it is.
        if c.process("coordinator")["http"] != http:
            raise Fail(f"the restarted coordinator's web page moved from {http} to {c.process('coordinator')['http']}")
        wait_for("the coordinator's web page", lambda: http_get(f"http://{http}/")[0] == 200, timeout=30)
        code = f.wait()
        err = f.stderr()
        if "is back after" not in err:
            raise Fail(f"the client never said that the coordinator is back: {err[-3000:]}")
        if code != 0:
            raise Fail(f"the --wait client exited {code}: {err[-3000:]}")
        got = c.output_parts("/out/wc")
        if got != local:
            raise Fail(f"output parts {sorted(got)} differ from local mode's {sorted(local)}")
        log(case, f"the restarted coordinator took {jid} up again from its journal: the client followed it to its "
            "end, exit 0, output byte-identical to local mode")


PAGERANK_FLAGS = ["--iterations", "6", "--partitions", "4", "--threads", "2", "--memory_mb", "256", "--ranks",
                  "shuffle"]


def case_dataflow_namenode_restart(case, text, local):
    """A dataflow program (pagerank: 24 stages submitted by its master) whose namenode dies once
    a few stages are done."""
    edges = os.path.join(os.path.dirname(text), "edges.tsv")
    with open(edges, "w") as out:
        out.write("".join(f"{(i * 7919) % 2000}\t{(i * 104729 + 13) % 2000}\n" for i in range(20000)))
    want_dir = os.path.join(os.path.dirname(text), "pagerank-local")
    run([os.path.join(JOBS, "pagerank"), "--input", edges, "--output", want_dir, "--progress", "never",
         *PAGERANK_FLAGS])
    want = {n: open(os.path.join(want_dir, n), "rb").read() for n in sorted(os.listdir(want_dir))
            if n.startswith("part-")}
    with cluster() as c:
        c.put(edges, "/in/edges.tsv")
        f = Follower(c, "pagerank", ["--input", "dfs:/in/edges.tsv", "--output", "dfs:/out/pr", *PAGERANK_FLAGS])
        jid = wait_for("the program to be submitted", f.job_id, timeout=60)
        wait_for(f"{jid} to have 4 stages done",
                 lambda: sum(st["state"] == "succeeded" for st in c.status(jid).get("stages", [])) >= 4 or
                 f.p.poll() is not None, timeout=60)
        restart_namenode(case, c, f, jid)
        code = f.wait()
        if code != 0:
            raise Fail(f"the --wait client exited {code}: {f.stderr()[-3000:]}")
        got = c.output_parts("/out/pr")
        if got != want:
            raise Fail(f"output parts {sorted(got)} differ from local mode's {sorted(want)}")
        log(case, f"{jid} succeeded and its client exited 0; {len(want)} parts byte-identical to local mode")


def case_binary_fetch_namenode_restart(case, text, local):
    pause = os.path.join(os.path.dirname(text), "binary-fetch.pause")
    # One worker, so that one process pauses once (`once:`); its other attempts wait behind it.
    os.environ["SAWMILL_FAULTS"] = f"worker.binary.fetch=once:pause({pause})"
    try:
        with Cluster(BUILD, 1, 1, prefix="sawmill-reconnect-test.", block_size=MB, slots=2,
                     sync_blocks="false") as c:
            del os.environ["SAWMILL_FAULTS"]
            c.put(text, "/in/text.txt")
            f = Follower(c)
            jid = wait_for("the worker to reach its binary fetch", lambda: os.path.exists(pause) and f.job_id(),
                           timeout=60)
            notice = f"namenode {c.process('namenode')['address']} unreachable ("
            c.kill("namenode")
            os.remove(pause)
            waiting = wait_for("the worker to wait for the namenode", lambda: files_saying(c.dir, notice),
                               timeout=60)
            run([SAWMILL, "cluster", "start", "--dir", c.dir, "--process", "namenode"])
            log(case, f"namenode SIGKILLed at the worker's binary fetch and started again once "
                f"{os.path.relpath(waiting[0], c.dir)} said that it waits")
            code = f.wait()
            if code != 0:
                raise Fail(f"the --wait client exited {code}: {f.stderr()[-3000:]}")
            s = c.status(jid)
            if s["state"] != "succeeded" or s["failed_attempts"] != 0:
                raise Fail(f"{jid} {s['state']} with {s['failed_attempts']} failed attempt(s): {s['error']}")
            got = c.output_parts("/out/wc")
            if got != local:
                raise Fail(f"output parts {sorted(got)} differ from local mode's {sorted(local)}")
            log(case, f"{jid} succeeded with no failed attempt; output byte-identical to local mode")
    finally:
        os.environ.pop("SAWMILL_FAULTS", None)


CASES = {"namenode_restart": case_namenode_restart, "binary_fetch_namenode_restart": case_binary_fetch_namenode_restart, "coordinator_restart": case_coordinator_restart,
         "dataflow_namenode_restart": case_dataflow_namenode_restart}


def main():
    names = sys.argv[2:] or list(CASES)
    for n in names:
        if n not in CASES:
            raise Fail(f"unknown case {n}; cases: {', '.join(CASES)}")
    root = tempfile.mkdtemp(prefix="sawmill-reconnect-data.")
    try:
        text = os.path.join(root, "text.txt")
        run([SAWMILL, "gen", "text", "--bytes", str(6 * MB), "--seed", "7", "--output", text])
        local = local_parts(text, root)
        for n in names:
            CASES[n](n, text, local)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)

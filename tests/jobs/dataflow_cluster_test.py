#!/usr/bin/env python3
"""Dataflow programs on a 2-worker cluster of real processes (`sawmill cluster up`):
pagerank and connected_components byte-identical to local mode and pagerank within 1e-9 of a
straightforward PageRank; a worker SIGKILLed in the middle of an iteration changes nothing; a
lost intermediate (its only copy deleted from the store) is recomputed from its lineage.

Usage: tests/jobs/dataflow_cluster_test.py BUILD_DIR [CASE...]   (default: every case)
"""
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scheduler"))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from harness import Fail, run, run_main, wait_for  # noqa: E402
from cluster_jobs_test import JOBS, SAWMILL, cluster, expect_part_replication, local_parts, log, same_parts  # noqa: E402
from dataflow_jobs_test import pagerank_reference, random_graph, write_edges  # noqa: E402

ITERATIONS = 6
# The failure cases run --ranks shuffle (shuffle stages, map outputs on workers); `pagerank` runs
# both strategies.
PR_FLAGS = ["--iterations", str(ITERATIONS), "--partitions", "4", "--threads", "2", "--memory_mb", "256", "--ranks",
            "shuffle"]
BROADCAST_FLAGS = PR_FLAGS[:-1] + ["broadcast"]


class Data:
    def __init__(self, root):
        rng = random.Random(5)
        self.edges = random_graph(rng, 2000, 20000, False)
        self.path = os.path.join(root, "edges.tsv")
        write_edges(self.path, self.edges)
        self.root = root

    def local(self, binary, flags):
        return local_parts(binary, self.path, os.path.join(self.root, "local-" + binary), *flags)


def decode_cat(text):
    return [tuple(line.split("\t", 1)) for line in text.decode().splitlines()]


def check_ranks(case, c, data, out):
    want = pagerank_reference(data.edges, ITERATIONS, 0.85)
    got = decode_cat(run([SAWMILL, "cat", "--cluster", c.dir, "dfs:" + out]).stdout)
    if sorted(k for k, _ in got) != sorted(want):
        raise Fail("pagerank pages differ from the reference")
    worst = max(abs(float(v) - want[k]) for k, v in got)
    if worst > 1e-9:
        raise Fail(f"pagerank differs from the reference by {worst}")
    log(case, f"{len(got)} ranks within {worst:.2g} of the in-test PageRank")


@contextlib.contextmanager
def faults(spec):
    """SAWMILL_FAULTS=spec for the block: a cluster started in it has its fault points armed in every
    process (daemons, executors, attempts, program masters; docs/reliability.md, "Fault points")."""
    os.environ["SAWMILL_FAULTS"] = spec
    try:
        yield
    finally:
        del os.environ["SAWMILL_FAULTS"]


def pause_before(suffix, file):
    """The program's (first) master creates `file` before the first stage job whose name ends with
    `suffix` (e.g. .0-i3: a loop body's first stage in iteration 3, from 0) and waits until the test
    removes it."""
    return f"dataflow.master.before_stage@{suffix}=once:pause({file})"


def start_pagerank(c, out, *extra):
    argv = [os.path.join(JOBS, "pagerank"), "--cluster", c.dir, "--wait", "--progress", "never", "--input", "dfs:/in/edges.tsv",
            "--output", "dfs:" + out, *PR_FLAGS, *extra]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(p, what):
    try:
        out, err = p.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        p.kill()
        raise Fail(f"{what} did not finish in 240 s")
    if p.returncode != 0:
        raise Fail(f"{what} exited {p.returncode}: {err.decode()[-3000:]}")
    return out.decode()


def case_pagerank(case, data):
    local = data.local("pagerank", PR_FLAGS)
    cc_local = data.local("connected_components", ["--partitions", "3"])
    with cluster(2) as c:
        c.put(data.path, "/in/edges.tsv")
        summary = finish(start_pagerank(c, "/out/pr"), "pagerank --cluster")
        log(case, summary.strip().splitlines()[-1])
        same_parts(case, "pagerank --ranks shuffle", c.output_parts("/out/pr"), local)
        check_ranks(case, c, data, "/out/pr")
        broadcast_local = local_parts("pagerank", data.path, os.path.join(data.root, "local-broadcast"), *BROADCAST_FLAGS)
        c.job("pagerank", "--input", "dfs:/in/edges.tsv", "--output", "dfs:/out/pr-broadcast", "--wait", *BROADCAST_FLAGS)
        same_parts(case, "pagerank --ranks broadcast", c.output_parts("/out/pr-broadcast"), broadcast_local)
        check_ranks(case, c, data, "/out/pr-broadcast")
        c.job("connected_components", "--input", "dfs:/in/edges.tsv", "--output", "dfs:/out/cc", "--partitions", "3", "--wait")
        same_parts(case, "connected_components", c.output_parts("/out/cc"), cc_local)
        # Its first two stages read only the input: they run side by side (one wave).
        code, _, body = c.http("/api/cluster")
        cc = [j for j in json.loads(body)["jobs"] if j["name"] == "connected_components"][0]
        stages = {s["key"]: s for s in c.status(cc["job_id"])["stages"]}
        first, second = stages["0.0"], stages["0.1"]
        if not (second["start_ms"] < first["end_ms"] and first["start_ms"] < second["end_ms"]):
            raise Fail(f"independent stages 0.0 and 0.1 did not overlap: {first} {second}")
        log(case, f"stages 0.0 and 0.1 of connected_components ran side by side: "
                  f"{first['start_ms']}-{first['end_ms']} ms and {second['start_ms']}-{second['end_ms']} ms")
        if len(json.loads(body)["jobs"]) != 3:
            raise Fail(f"want 3 programs listed, got {[j['name'] for j in json.loads(body)['jobs']]}")
        leftovers = c.dfs("ls", "/tmp/sawmill-df", check=False).stdout.decode().strip()
        if leftovers:
            raise Fail(f"intermediates left in the store: {leftovers}")


def job_status(c, n):
    code, _, body = c.http(f"/api/jobs/job-{n}")
    return json.loads(body) if code == 200 else None


def case_kill_worker(case, data):
    """A worker SIGKILLed while iteration 3's first (shuffle) stage runs its map tasks. The driver
    pauses before that stage and the stage's tasks sleep 400 ms when they start (fault points), so
    that the kill lands on running attempts however fast the stage would otherwise be. The
    coordinator reruns them, and map outputs the dead worker held."""
    local = data.local("pagerank", PR_FLAGS)
    pause = os.path.join(data.root, case + ".pause")
    with faults(pause_before(".0-i2", pause) + ";dataflow.task.start@.0=sleep(400)"), cluster(2) as c:
        c.put(data.path, "/in/edges.tsv")
        p = start_pagerank(c, "/out/pr")
        wait_for("the driver to pause before iteration 3", lambda: os.path.exists(pause), timeout=120)
        target = 1
        while job_status(c, target) is not None:
            target += 1
        os.remove(pause)

        def running_host():
            s = job_status(c, target)
            running = [a for a in s["attempts"] if a["state"] == "running"] if s else []
            return running and running[0]["host"]
        victim = wait_for(f"job-{target} (iteration 3's first stage) to run a task", running_host, timeout=60)
        c.kill("worker", victim)
        log(case, f"SIGKILLed {victim}'s worker while job-{target} ({job_status(c, target)['name']}) ran")
        summary = finish(p, "pagerank --cluster with a worker killed")
        log(case, summary.strip().splitlines()[-1])
        failed = [a for a in job_status(c, target)["attempts"] if a["state"] == "failed"]
        if not failed:
            raise Fail(f"no attempt of job-{target} was lost with {victim}")
        log(case, f"job-{target}: {len(failed)} attempt(s) lost with the worker, rerun")
        same_parts(case, "pagerank after a worker died mid-iteration", c.output_parts("/out/pr"), local)
        check_ranks(case, c, data, "/out/pr")


def case_lost_intermediate(case, data):
    """Iteration 3's datasets (one copy each in the store, and iteration 2's already dropped) are
    deleted just before iteration 4 starts: its first stage fails, and the driver recomputes
    the ranks it reads from their lineage, back to the initial ranks, and runs it again."""
    local = data.local("pagerank", PR_FLAGS)
    pause = os.path.join(data.root, case + ".pause")
    with faults(pause_before(".0-i3", pause)), cluster(2) as c:
        c.put(data.path, "/in/edges.tsv")
        p = start_pagerank(c, "/out/pr", "--max_attempts", "2")
        wait_for("the driver to pause before iteration 4", lambda: os.path.exists(pause), timeout=120)
        root = [x for x in c.dfs("ls", "/tmp/sawmill-df").stdout.decode().split() if x.startswith("/tmp/")][0]
        lost = [x for x in c.dfs("ls", root).stdout.decode().split() if x.endswith("-i2")]
        if not lost:
            raise Fail(f"no iteration-3 datasets under {root}")
        for r in lost:
            c.dfs("rm", "-r", r)
        os.remove(pause)
        log(case, f"deleted {', '.join(lost)} before iteration 4")
        summary = finish(p, "pagerank --cluster with a lost intermediate")
        last = summary.strip().splitlines()[-1]
        log(case, last)
        recomputed = int(last.split("recomputed_stages=")[1].split()[0])
        if recomputed < 3:
            raise Fail(f"{recomputed} stages recomputed; want at least iteration 3's three")
        same_parts(case, "pagerank after recomputing lost intermediates", c.output_parts("/out/pr"), local)
        check_ranks(case, c, data, "/out/pr")


def case_checkpoint(case, data):
    """With --checkpoint_every 2, every second iteration's ranks are kept at the store's
    replication (2 here) while the other datasets have one copy; losing iteration 3's datasets
    then recomputes only iteration 3, from the checkpoint of iteration 2."""
    local = data.local("pagerank", PR_FLAGS)
    pause = os.path.join(data.root, case + ".pause")
    with faults(pause_before(".0-i3", pause)), cluster(2, replication=2) as c:
        c.put(data.path, "/in/edges.tsv")
        p = start_pagerank(c, "/out/pr", "--max_attempts", "2", "--checkpoint_every", "2")
        wait_for("the driver to pause before iteration 4", lambda: os.path.exists(pause), timeout=120)
        root = [x for x in c.dfs("ls", "/tmp/sawmill-df").stdout.decode().split() if x.startswith("/tmp/")][0]
        names = c.dfs("ls", root).stdout.decode().split()
        checkpoints = [x for x in names if x.endswith("-i1")]
        lost = [x for x in names if x.endswith("-i2")]
        if len(checkpoints) != 1 or not lost:
            raise Fail(f"want one kept dataset of iteration 2 (its checkpoint) under {root}: {names}")
        expect_part_replication(case, c, checkpoints[0], 2)
        expect_part_replication(case, c, lost[0], 1)
        for r in lost:
            c.dfs("rm", "-r", r)
        os.remove(pause)
        summary = finish(p, "pagerank --cluster --checkpoint_every 2 with a lost iteration")
        last = summary.strip().splitlines()[-1]
        log(case, last)
        recomputed = int(last.split("recomputed_stages=")[1].split()[0])
        if recomputed != 3:
            raise Fail(f"{recomputed} stages recomputed; want 3 (iteration 3 from the checkpoint)")
        same_parts(case, "pagerank recomputed from a checkpoint", c.output_parts("/out/pr"), local)


def case_master_restart(case, data):
    """The program is one job whose master runs on a worker: pagerank --iterations 10 submitted
    without --wait (the client exits at once); the host running the master is lost during
    iteration 5 (its worker and the master SIGKILLed, the master paused before iteration 5's first
    stage so the kill lands mid-program). A new master on the other worker resumes from the
    completed stages: the output is byte-identical to local mode, the program's record shows the
    restart, and no stage ran twice (one job per stage key, as many as a local run has stages)."""
    flags = ["--iterations", "10"] + PR_FLAGS[2:]
    local = data.local("pagerank", flags)
    local_summary = run([os.path.join(JOBS, "pagerank"), "--input", data.path, "--output",
                         os.path.join(data.root, "local-master"), "--progress", "never", *flags]).stdout.decode()
    local_stages = int(local_summary.split(" stages=")[1].split()[0])
    pause = os.path.join(data.root, case + ".pause")
    with faults(pause_before(".0-i4", pause)), cluster(2) as c:
        c.put(data.path, "/in/edges.tsv")
        argv = [os.path.join(JOBS, "pagerank"), "--cluster", c.dir, "--progress", "never", "--input",
                "dfs:/in/edges.tsv", "--output", "dfs:/out/pr", *flags]
        out = run(argv, timeout=60).stdout.decode()
        if not out.startswith("submitted job-1: pagerank (a dataflow program)"):
            raise Fail(f"the client printed {out!r}")
        log(case, "the client exited after submitting: " + out.strip())
        wait_for("the master to pause before iteration 5", lambda: os.path.exists(pause), timeout=120)
        status = c.status("job-1")
        master = [a for a in status["attempts"] if a["state"] == "running"]
        if len(master) != 1:
            raise Fail(f"want one running master attempt: {status['attempts']}")
        host = master[0]["host"]
        done_before = sorted(s["key"] for s in status["stages"] if s["state"] == "succeeded")
        c.kill("worker", host)
        # The host is lost: its master goes with its worker (a worker's children have their own
        # process groups, so the test kills the master itself).
        run(["pkill", "-KILL", "-f", "jobs/job-1/m-00000_0/spec"], check=False)
        os.remove(pause)
        log(case, f"SIGKILLed {host}'s worker and the master on it after {len(done_before)} stages")

        def ended():
            s = c.status("job-1")
            return s if s["state"] in ("succeeded", "failed") else None
        final = wait_for("the program to end", ended, timeout=240)
        if final["state"] != "succeeded":
            raise Fail(f"the program failed: {final['error']}")
        same_parts(case, "pagerank after its master's host was lost", c.output_parts("/out/pr"), local)
        attempts = [(a["attempt"], a["state"], a["host"]) for a in final["attempts"]]
        if len(attempts) != 2 or attempts[0][1] != "failed" or attempts[1][1] != "succeeded":
            raise Fail(f"want a lost master and a restarted one in the record: {attempts}")
        keys = [s["key"] for s in final["stages"]]
        if len(keys) != len(set(keys)) or len(keys) != local_stages:
            raise Fail(f"{len(keys)} stage jobs for {len(set(keys))} keys; local mode ran {local_stages} stages: {keys}")
        again = [s["key"] for s in final["stages"] if s["submissions"] > 1]
        if not set(done_before) <= set(again):
            raise Fail(f"stages done before the loss {done_before} were not asked for again by the new master: {again}")
        log(case, f"master attempts {attempts}; {len(keys)} stages, each run once; {len(again)} resumed from the record")
        listing = run([SAWMILL, "job", "--cluster", c.dir, "list"]).stdout.decode()
        jobs = [line for line in listing.splitlines() if line.startswith("job-")]
        if len(jobs) != 1:
            raise Fail(f"`sawmill job list` shows {len(jobs)} jobs for one program: {listing}")
        leftovers = c.dfs("ls", "/tmp/sawmill-df", check=False).stdout.decode().strip()
        if leftovers:
            raise Fail(f"intermediates left in the store: {leftovers}")


def no_leftovers(c, *dirs):
    """Nothing of a program remains in the store: no scratch directory, no staging or _temporary
    directory beside its outputs."""
    leftovers = c.dfs("ls", "/tmp/sawmill-df", check=False).stdout.decode().strip()
    if leftovers:
        raise Fail(f"intermediates left in the store: {leftovers}")
    for d in dirs:
        names = c.dfs("ls", d, check=False).stdout.decode().split()
        staging = [n for n in names if ".staging-" in n or "_temporary" in n]
        if staging:
            raise Fail(f"staging left under {d}: {staging}")


def case_kill_program(case, data):
    """`sawmill job kill` of a running program stops its master and its running stage, writes no
    output and leaves no staging, _temporary or scratch files."""
    with faults("dataflow.task.start@16.0=sleep(60000)"), cluster(2) as c:
        c.put(data.path, "/in/edges.tsv")
        c.dfs("mkdir", "/out")
        argv = [os.path.join(JOBS, "pagerank"), "--cluster", c.dir, "--progress", "never", "--input",
                "dfs:/in/edges.tsv", "--output", "dfs:/out/pr", *PR_FLAGS]
        run(argv, timeout=60)

        def sleeping_stage():
            s = c.status("job-1")
            running = [st for st in s["stages"] if st["state"] == "running" and st["key"].startswith("16.0")]
            return running and running[0]
        stage = wait_for("the loop's first stage to run", sleeping_stage, timeout=120)
        run([SAWMILL, "job", "--cluster", c.dir, "kill", "job-1"])
        final = wait_for("the program to end", lambda: c.status("job-1")["state"] == "failed" and c.status("job-1"),
                         timeout=30)
        if "killed" not in final["error"]:
            raise Fail(f"the killed program says: {final['error']}")
        still = [st["key"] for st in final["stages"] if st["state"] not in ("succeeded", "failed")]
        if still:
            raise Fail(f"stages still running after the kill: {still}")
        if c.status(stage["job_id"])["state"] != "failed":
            raise Fail(f"the running stage {stage['job_id']} was not stopped")
        wait_for("the master's process to end",
                 lambda: run(["pgrep", "-f", "jobs/job-1/m-00000_0/spec"], check=False).returncode == 1, timeout=30)
        names = c.dfs("ls", "/out").stdout.decode().split()
        if any(n.endswith("/pr") for n in names):
            raise Fail(f"a killed program wrote its output: {names}")
        no_leftovers(c, "/out")
        log(case, f"killed during {stage['key']} ({stage['job_id']}): {final['error']}")


def case_failed_stage(case, data):
    """A stage whose tasks fail every attempt (here: they time out) fails the program, naming the
    stage, the task and the last error; no output appears. An existing output without
    --overwrite is refused before anything runs (exit 2)."""
    with faults("dataflow.task.start@16.0=sleep(5000)"), cluster(2) as c:
        c.put(data.path, "/in/edges.tsv")
        c.dfs("mkdir", "/out")
        p = run([os.path.join(JOBS, "pagerank"), "--cluster", c.dir, "--wait", "--progress", "never", "--input",
                 "dfs:/in/edges.tsv", "--output", "dfs:/out/pr", *PR_FLAGS, "--max_attempts", "2",
                 "--task_timeout_ms", "1000"], check=False, timeout=200)
        err = p.stderr.decode()
        if p.returncode != 1 or "stage 16.0" not in err or "task m-0000" not in err or "timed out" not in err:
            raise Fail(f"want exit 1 naming stage, task and last error; got {p.returncode}: {err[-2000:]}")
        log(case, "failed: " + err.strip().splitlines()[0][:300])
        names = c.dfs("ls", "/out").stdout.decode().split()
        if any(n.endswith("/pr") for n in names):
            raise Fail(f"a failed program wrote its output: {names}")
        no_leftovers(c, "/out")
        c.dfs("mkdir", "/out/pr")
        p = run([os.path.join(JOBS, "pagerank"), "--cluster", c.dir, "--progress", "never", "--input",
                 "dfs:/in/edges.tsv", "--output", "dfs:/out/pr", *PR_FLAGS], check=False)
        if p.returncode != 2 or "exists" not in p.stderr.decode():
            raise Fail(f"an existing output: want exit 2, got {p.returncode}: {p.stderr.decode()}")


def case_attempt_fault(case, data):
    """The first attempt of every stage job's map task 0 fails at the fault point
    task.attempt.before_report (its output written, not yet reported) in the executors of both
    workers: each is rerun, and the program's output is byte-identical to local mode."""
    local = data.local("pagerank", PR_FLAGS)
    with faults("task.attempt.before_report@/m-00000_0=fail(simulated commit failure)"), cluster(2) as c:
        c.put(data.path, "/in/edges.tsv")
        finish(start_pagerank(c, "/out/pr"), "pagerank --cluster with failing first attempts")
        same_parts(case, "pagerank with every stage's first map attempt failed", c.output_parts("/out/pr"), local)
        n, stages = 2, 0  # job-1 is the program (its master is no task attempt)
        while (s := job_status(c, n)) is not None:
            failed = [a for a in s["attempts"] if a["state"] == "failed"]
            if len(failed) != 1 or "fault point task.attempt.before_report at " not in failed[0]["error"] or \
                    "m-00000_0: simulated commit failure" not in failed[0]["error"]:
                raise Fail(f"job-{n}: want its first map attempt failed at the fault point: {failed}")
            n, stages = n + 1, stages + 1
        if stages == 0:
            raise Fail("no stage jobs")
        log(case, f"{stages} stage jobs, each with its first map attempt failed and rerun: {failed[0]['error']}")


def case_workers(case, data):
    """Every dataflow job, as one program each, on 1, 2 and 4 workers: byte-identical to local
    mode (wordcount_df reads the edge list as text)."""
    jobs = [("wordcount_df", ["--reducers", "3", "--split_mb", "1"]), ("pagerank", PR_FLAGS),
            ("pagerank", BROADCAST_FLAGS), ("connected_components", ["--partitions", "3"])]
    local = [local_parts(binary, data.path, os.path.join(data.root, f"local-w{i}"), *flags)
             for i, (binary, flags) in enumerate(jobs)]
    for workers in (1, 2, 4):
        with cluster(workers) as c:
            c.put(data.path, "/in/edges.tsv")
            for i, (binary, flags) in enumerate(jobs):
                out = f"/out/{binary}-{i}"
                c.job(binary, "--input", "dfs:/in/edges.tsv", "--output", "dfs:" + out, "--wait", *flags)
                same_parts(case, f"{binary} {' '.join(flags)} on {workers} worker(s)", c.output_parts(out), local[i])


CASES = {"pagerank": case_pagerank, "workers": case_workers, "kill_worker": case_kill_worker, "lost_intermediate": case_lost_intermediate,
         "checkpoint": case_checkpoint, "master_restart": case_master_restart, "kill_program": case_kill_program,
         "failed_stage": case_failed_stage, "attempt_fault": case_attempt_fault}


def main():
    names = sys.argv[2:] or list(CASES)
    with tempfile.TemporaryDirectory() as root:
        data = Data(root)
        for name in names:
            CASES[name](name, data)
            print(f"PASS {name}", flush=True)


if __name__ == "__main__":
    run_main(main)

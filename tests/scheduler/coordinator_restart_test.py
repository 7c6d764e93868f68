#!/usr/bin/env python3
"""The coordinator SIGKILLed at a random moment of a MapReduce job or of a dataflow program and
started again (`sawmill cluster start`, within 5 s): the job goes on from its journal, its
`--wait` client exits 0, and the output is byte-identical to local mode (issue 20's acceptance).

Usage: tests/scheduler/coordinator_restart_test.py BUILD_DIR CASE [--runs N] [--seed S]
  CASE: mr (a word count with slow maps), program (pagerank, a dataflow program), namenode (the
  word count with the namenode killed and started again instead).
Each run picks its kill moment from the seed (printed, so a failure can be replayed) between the
submission and the job's expected end; one cluster serves every run of a case.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from harness import Cluster, Fail, dead, output_parts, run, wait_for  # noqa: E402

MB = 1 << 20


def log(case, msg):
    print(f"ok   [{case}] {msg}", flush=True)


def local_parts(jobs, binary, inputs, out, *args):
    shutil.rmtree(out, ignore_errors=True)
    run([os.path.join(jobs, binary), "--input", inputs, "--output", out, "--progress", "never", *args])
    return {n: open(os.path.join(out, n), "rb").read() for n in sorted(os.listdir(out)) if n.startswith("part-")}


def restart(c, sawmill, role, delay_s):
    """SIGKILLs the cluster's `role` daemon, waits `delay_s`, starts it again; returns the downtime."""
    pid = c.process(role)["pid"]
    t0 = time.monotonic()
    os.kill(pid, 9)
    wait_for(f"the {role} to die", lambda: dead(pid), timeout=10)
    time.sleep(delay_s)  # the outage being modelled, not a wait for a condition
    run([sawmill, "cluster", "start", "--dir", c.dir, "--process", role])
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("case", choices=["mr", "program", "namenode"])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20)
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    sawmill, jobs = os.path.join(build, "sawmill"), os.path.join(build, "jobs")
    root = tempfile.mkdtemp(prefix="sawmill-restart-test.")
    rng = random.Random(a.seed)
    role = "namenode" if a.case == "namenode" else "coordinator"
    try:
        if a.case == "program":
            data = os.path.join(root, "edges.tsv")
            rng5 = random.Random(5)
            with open(data, "w") as f:
                for _ in range(100000):
                    f.write(f"{rng5.randrange(4000)}\t{rng5.randrange(4000)}\n")
            # --ranks shuffle: stages whose map outputs live on the workers, kept across the restart.
            binary, flags = "pagerank", ["--iterations", "16", "--partitions", "3", "--ranks", "shuffle"]
        else:
            data = os.path.join(root, "text.txt")
            run([sawmill, "gen", "text", "--bytes", str(12 * MB), "--seed", "7", "--output", data])
            # Maps and reduces that take a while each (12 maps on 6 slots, then 3 reduces): a kill
            # lands in the maps, between them and the reduces, in the reduces or in the commit.
            binary, flags = "faulty_job", ["--reducers", "3", "--split_mb", "1", "--map_sleep_ms", "1000",
                                           "--reduce_sleep_ms", "1000"]
        local = local_parts(jobs, binary, data, os.path.join(root, "local"), *flags)
        with Cluster(build, 3, 1, prefix="sawmill-restart-test.", block_size=MB, slots=2,
                     sync_blocks="false") as c:
            c.put(data, "/in/data")
            # Fault-free runs first (the second one warm, as the runs after it are): its length spans
            # the kill moments.
            for calm in ("/out/calm0", "/out/calm1"):
                t0 = time.monotonic()
                run([os.path.join(jobs, binary), "--cluster", c.dir, "--wait", "--progress", "never", "--input",
                     "dfs:/in/data", "--output", "dfs:" + calm, *flags], timeout=240)
                took = time.monotonic() - t0
                if output_parts(c.dfs, calm) != local:
                    raise Fail("a fault-free run's output differs from local mode")
            span_s = (0.05 * took, 0.9 * took)
            log(a.case, f"fault-free run: {took:.1f} s; kills between {span_s[0]:.1f} and {span_s[1]:.1f} s")
            survived = killed = 0
            r = -1
            # `runs` runs with a kill in them (one that ends first does not count), at most 3x as many.
            while killed < a.runs and r < 3 * a.runs:
                r += 1
                seed = rng.randrange(1 << 30)
                pick = random.Random(seed)
                at_s = pick.uniform(*span_s)
                delay_s = pick.uniform(0.2, 3.0)
                out = f"/out/r{r}"
                argv = [os.path.join(jobs, binary), "--cluster", c.dir, "--wait", "--progress", "never", "--input",
                        "dfs:/in/data", "--output", "dfs:" + out, *flags]
                client = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                try:
                    client.wait(timeout=at_s)  # the moment to kill at, unless the job ends before
                    early = True
                except subprocess.TimeoutExpired:
                    early = False
                    down_s = restart(c, sawmill, role, delay_s)
                try:
                    stdout, stderr = client.communicate(timeout=240)
                except subprocess.TimeoutExpired:
                    client.kill()
                    raise Fail(f"run {r} (seed {seed}): the client did not finish in 240 s")
                if client.returncode != 0:
                    raise Fail(f"run {r} (seed {seed}): the client exited {client.returncode}: "
                               f"{stderr.decode()[-3000:]}")
                parts = output_parts(c.dfs, out)
                if parts != local:
                    raise Fail(f"run {r} (seed {seed}): the output differs from local mode "
                               f"({sorted(parts)} vs {sorted(local)})")
                survived += 1
                killed += not early
                what = ("the job ended before the kill" if early else
                        f"{role} killed {at_s:.1f} s in, back after {down_s:.1f} s")
                # Attempts failed or killed (a kept attempt is neither; a lost one would be).
                launched = ""
                jid = stdout.decode().split()[1].rstrip(":") if stdout.startswith(b"submitted ") else ""
                if jid:
                    st = run([sawmill, "job", "--cluster", c.dir, "status", jid]).stdout.decode()
                    counts = [ln.strip() for ln in st.splitlines() if "attempts failed" in ln]
                    launched = "; " + counts[0].split("; ")[-1] if counts else ""
                log(a.case, f"run {r} (seed {seed}): {what}; client exit 0, output identical to local mode{launched}")
            # After a namenode restart, blocks are "missing" until their datanodes' next reports.
            last = {}

            def healthy():
                last["fsck"] = c.fsck()
                return last["fsck"][0] == 0
            try:
                wait_for("fsck to be healthy", healthy, timeout=60, interval=1)
            except Fail:
                raise Fail(f"fsck after the runs: {last['fsck'][1][-3000:]}")
        if killed < a.runs:
            raise Fail(f"only {killed} of {r + 1} runs had the kill land before the job ended")
        log(a.case, f"{killed} of {killed} runs with a {role} kill survived ({survived} runs in all)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        print(f"FAIL {e}", file=sys.stderr)
        sys.exit(1)

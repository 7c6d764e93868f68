#!/usr/bin/env python3
"""Acceptance tests of distributed execution on real processes: `sawmill cluster up` (namenode,
coordinator, a datanode and a worker per host) on 127.0.0.1, job binaries submitting themselves
with --cluster, SIGKILL of workers, attempts that abort or stall (jobs/faulty_job).

Usage: tests/scheduler/cluster_jobs_test.py BUILD_DIR [CASE...]   (default: every case)
Every cluster output is compared byte for byte with the same job run in local mode. Waits are on
conditions with deadlines (job status from the coordinator's JSON), never on bare sleeps.
"""
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build"
SAWMILL = os.path.join(BUILD, "sawmill")
JOBS = os.path.join(BUILD, "jobs")
MB = 1 << 20


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from harness import Cluster, Fail, run, wait_for  # noqa: E402


def log(case, msg):
    print(f"ok   [{case}] {msg}", flush=True)


def cluster(workers, replication=1, slots=2, worker_flags=None):
    """A cluster for jobs (harness.Cluster): 1 MiB blocks, `slots` task slots a worker, no fdatasync."""
    return Cluster(BUILD, workers, replication, prefix="sawmill-jobs-test.", block_size=MB, slots=slots,
                   sync_blocks="false", worker_flags=worker_flags)


def local_parts(binary, inputs, out, *args):
    """The part files of `binary` run locally; `inputs` None: its args name them."""
    shutil.rmtree(out, ignore_errors=True)
    run([os.path.join(JOBS, binary), *(["--input", inputs] if inputs else []), "--output", out, "--progress", "never",
         *args])
    return {n: open(os.path.join(out, n), "rb").read() for n in sorted(os.listdir(out)) if n.startswith("part-")}


def same_parts(case, what, cluster_parts, local):
    if cluster_parts.keys() != local.keys():
        raise Fail(f"{what}: parts {sorted(cluster_parts)} vs local {sorted(local)}")
    for n in local:
        if cluster_parts[n] != local[n]:
            raise Fail(f"{what}: {n} differs from local mode ({len(cluster_parts[n])} vs {len(local[n])} bytes)")
    total = sum(len(v) for v in local.values())
    log(case, f"{what}: {len(local)} parts, {total} bytes, byte-identical to local mode")


def job_id_of(p):
    for line in p.stdout.decode().splitlines():
        if line.startswith("submitted "):
            return line.split()[1].rstrip(":")
    raise Fail(f"no job id in: {p.stdout.decode()}")


class Data:
    """Inputs generated once per run, shared by the cases."""

    def __init__(self, root):
        self.root = root
        self.text = os.path.join(root, "text.txt")
        run([SAWMILL, "gen", "text", "--bytes", str(6 * MB), "--seed", "7", "--output", self.text])
        self.tera = os.path.join(root, "tera")
        run([os.path.join(JOBS, "teragen"), "--records", "60000", "--parts", "2", "--seed", "3", "--output",
             self.tera, "--progress", "never"])
        self.empty = os.path.join(root, "empty.txt")
        open(self.empty, "w").close()
        # Two TSV tables for keyby and join: orders (id, user, amount) and users (id, country),
        # some orders of users that do not exist.
        self.orders, self.users = os.path.join(root, "orders.tsv"), os.path.join(root, "users.tsv")
        with open(self.orders, "w") as f:
            f.write("".join(f"o{i}\tu{(i * 7919) % 3100}\t{i % 997}\n" for i in range(60000)))
        with open(self.users, "w") as f:
            f.write("".join(f"u{i}\t{['fr', 'de', 'jp'][i % 3]}\n" for i in range(3000)))

    def load(self, c, tera=False):
        c.put(self.text, "/in/text.txt")
        c.put(self.empty, "/in/empty.txt")
        c.put(self.orders, "/in/orders.tsv")
        c.put(self.users, "/in/users.tsv")
        if tera:
            for n in sorted(os.listdir(self.tera)):
                if n.startswith("part-"):
                    c.put(os.path.join(self.tera, n), "/tera/" + n)


def case_identical(case, data):
    wc_local = local_parts("wordcount", data.text, os.path.join(data.root, "wc_local"), "--reducers", "3",
                           "--split_mb", "1")
    ts_local = local_parts("terasort", data.tera, os.path.join(data.root, "ts_local"), "--reducers", "3",
                           "--split_mb", "1")
    empty_local = local_parts("wordcount", data.empty, os.path.join(data.root, "empty_local"), "--reducers", "2")
    auto_local = local_parts("wordcount", data.text, os.path.join(data.root, "auto_local"))
    # The other MapReduce jobs over text: a map-only one, a total-order sort, a tail reducer.
    text_jobs = [("grep", ["--pattern", "the", "--lines", "--split_mb", "1"]),
                 ("grep", ["--pattern", "a,e", "--reducers", "2", "--split_mb", "1"]),
                 ("sort", ["--reducers", "3", "--split_mb", "1"]),
                 ("inverted_index", ["--reducers", "2", "--split_mb", "2"])]
    text_local = [local_parts(binary, data.text, os.path.join(data.root, f"text_local{i}"), *flags)
                  for i, (binary, flags) in enumerate(text_jobs)]
    # Jobs over the TSV tables: {} becomes the table's directory (local, or dfs:/in on the cluster).
    tsv_jobs = [("keyby", ["--input", "{}/orders.tsv", "--key", "2", "--reducers", "3"]),
                ("join", ["--left", "{}/orders.tsv", "--right", "{}/users.tsv", "--left_key", "2", "--type", "left",
                          "--strategy", "reduce", "--reducers", "2"]),
                ("join", ["--left", "{}/orders.tsv", "--right", "{}/users.tsv", "--left_key", "2",
                          "--strategy", "broadcast"])]
    tsv_local = [local_parts(binary, None, os.path.join(data.root, f"tsv_local{i}"),
                             *[a.format(data.root) for a in flags]) for i, (binary, flags) in enumerate(tsv_jobs)]
    for workers in (1, 2, 4):
        with cluster(workers) as c:
            data.load(c, tera=True)
            c.job("wordcount", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/wc", "--reducers", "3",
                  "--split_mb", "1", "--wait")
            same_parts(case, f"wordcount on {workers} worker(s)", c.output_parts("/out/wc"), wc_local)
            for i, (binary, flags) in enumerate(text_jobs):
                c.job(binary, "--input", "dfs:/in/text.txt", "--output", f"dfs:/out/t{i}", "--wait", *flags)
                same_parts(case, f"{binary} {' '.join(flags)} on {workers} worker(s)", c.output_parts(f"/out/t{i}"),
                           text_local[i])
            for i, (binary, flags) in enumerate(tsv_jobs):
                c.job(binary, "--output", f"dfs:/out/v{i}", "--wait", *[a.format("dfs:/in") for a in flags])
                same_parts(case, f"{binary} {' '.join(flags).replace('{}/', '')} on {workers} worker(s)", c.output_parts(f"/out/v{i}"),
                           tsv_local[i])
            c.job("terasort", "--input", "dfs:/tera", "--output", "dfs:/out/ts", "--reducers", "3", "--split_mb", "1",
                  "--wait")
            same_parts(case, f"terasort on {workers} worker(s)", c.output_parts("/out/ts"), ts_local)
            if workers == 2:
                c.job("wordcount", "--input", "dfs:/in/empty.txt", "--output", "dfs:/out/empty", "--reducers", "2",
                      "--wait")
                same_parts(case, "wordcount of an empty input", c.output_parts("/out/empty"), empty_local)
                # Without --reducers: one reduce per live slot (2 workers x 2), but no reduce under
                # 64 MiB of input, so 1 here; the submission, the summary and the _MANIFEST say so.
                out = c.job("wordcount", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/auto",
                            "--wait").stdout.decode()
                if not re.search(r", 1 reduces \(auto: 4slots/6\.0MiB\);", out) or \
                        not re.search(r"^summary .* reducers=1 reducers_auto=4slots/6\.0MiB", out, re.M):
                    raise Fail(f"wordcount without --reducers on 2 workers x 2 slots: {out}")
                manifest = run([SAWMILL, "manifest", "--cluster", c.dir, "dfs:/out/auto"]).stdout.decode()
                if "reducersAuto = true" not in manifest or "numPartitions = 1" not in manifest:
                    raise Fail(f"wordcount without --reducers: _MANIFEST without reducersAuto = true: {manifest}")
                same_parts(case, "wordcount without --reducers (1 reduce of 4 slots)", c.output_parts("/out/auto"),
                           auto_local)


def faulty_local(data, *args):
    return local_parts("faulty_job", data.text, os.path.join(data.root, "faulty_local"), "--reducers", "4",
                       "--split_mb", "1", *args)


def succeeded(c, jid):
    """The status of job `jid` once it has ended, which must be a success."""
    wait_for(f"{jid} to end", lambda: c.status(jid)["state"] in ("succeeded", "failed"), timeout=120)
    s = c.status(jid)
    if s["state"] != "succeeded":
        raise Fail(f"{jid} {s['state']}: {s['error']}")
    return s


def case_kill_worker_in_maps(case, data):
    local = faulty_local(data)
    with cluster(3) as c:
        data.load(c)
        p = c.job("faulty_job", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/f", "--reducers", "4",
                  "--split_mb", "1", "--map_sleep_ms", "700")
        jid = job_id_of(p)
        # Trigger: a map has committed and another runs; its worker goes.
        def running_map_host():
            s = c.status(jid)
            running = [a for a in s["attempts"] if a["state"] == "running" and not a["reduce"]]
            return s["maps_done"] >= 1 and running and running[0]["host"]
        victim = wait_for("a committed map and another one running", running_map_host, timeout=60)
        c.kill("worker", victim)
        log(case, f"SIGKILLed {victim}'s worker while its map ran")
        s = succeeded(c, jid)
        lost = [a for a in s["attempts"] if a["state"] == "failed" and a["host"] == victim]
        if not lost:
            raise Fail(f"no attempt on {victim} was marked failed")
        log(case, f"{jid} succeeded; {len(lost)} attempt(s) lost with {victim} rerun elsewhere ({lost[0]['error']})")
        same_parts(case, "output after losing a worker in the map phase", c.output_parts("/out/f"), local)


def flip_block_bytes(map_out):
    """Flips one byte in the middle of the first data block of each partition of a record file
    (map.out), in place, so that every reduce finds the output corrupt, those beside it verifying
    it in place; returns the blocks' offsets. Layout: docs/formats/record-file.md."""
    offsets = []
    with open(map_out, "r+b") as f:
        data = f.read()
        footer = data[-72:]
        blocks = int.from_bytes(footer[12:16], "little")
        pos = int.from_bytes(footer[32:40], "little")  # the block index
        seen = set()
        for _ in range(blocks):
            offset = int.from_bytes(data[pos:pos + 8], "little")
            stored = int.from_bytes(data[pos + 8:pos + 12], "little")
            partition = int.from_bytes(data[pos + 16:pos + 20], "little", signed=True)
            pos += 20
            key_len, shift = 0, 0
            while True:  # varint
                b = data[pos]
                pos += 1
                key_len |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    break
            pos += key_len
            if partition in seen:
                continue
            seen.add(partition)
            at = offset + 24 + stored // 2
            f.seek(at)
            f.write(bytes([data[at] ^ 0x40]))
            offsets.append(offset)
    return offsets


def case_corrupt_map_output(case, data):
    """Bytes flipped in a committed map's map.out on its worker's disk (one block a partition), before
    any reduce read it: the reduces find it corrupt while fetching it (or verifying it in place),
    report fetch failures, the map reruns once, and the output is byte-identical."""
    local = faulty_local(data)
    # One slot a worker: the second wave of maps fills every slot once the first has committed, so
    # no reduce starts (none reads a map output) until a map of that wave ends, --map_sleep_ms later.
    with cluster(3, slots=1) as c:
        data.load(c)
        argv = [os.path.join(JOBS, "faulty_job"), "--cluster", c.dir, "--progress", "never", "--input",
                "dfs:/in/text.txt", "--output", "dfs:/out/f", "--reducers", "4", "--split_mb", "1",
                "--map_sleep_ms", "2500", "--wait"]
        client = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            line = client.stdout.readline().decode()
            if not line.startswith("submitted "):
                raise Fail(f"faulty_job did not submit: {line}{client.stderr.read().decode()}")
            jid = line.split()[1].rstrip(":")

            def committed_map_before_reduces():
                s = c.status(jid)
                if any(a["reduce"] for a in s["attempts"]):
                    raise Fail(f"a reduce started before a map output could be corrupted: {s['attempts']}")
                done = [a for a in s["attempts"] if not a["reduce"] and a["state"] == "succeeded"]
                return done and done[0]
            victim = wait_for("a committed map and no reduce yet", committed_map_before_reduces, timeout=60)
            name = victim["attempt_id"].split("/", 1)[1].replace("/", "_")
            found = glob.glob(os.path.join(c.dir, "**", "jobs", jid, name, "map.out"), recursive=True)
            if len(found) != 1:
                raise Fail(f"map.out of {victim['attempt_id']}: found {found}")
            offsets = flip_block_bytes(found[0])
            if any(a["reduce"] for a in c.status(jid)["attempts"]):
                raise Fail("a reduce started while the map output was being corrupted")
            log(case, f"flipped a byte of the blocks at offsets {offsets} (one a partition) of "
                      f"{victim['attempt_id']}'s map.out on {victim['host']}")
            out, err = client.communicate(timeout=150)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
        out, err = out.decode(), err.decode()
        if client.returncode != 0:
            raise Fail(f"faulty_job --wait exited {client.returncode}: {out}{err}")
        s = succeeded(c, jid)
        counters = s["counters"]
        reruns, failures = counters.get("sawmill.map_reruns"), counters.get("sawmill.fetch_failures", 0)
        if reruns != 1 or failures < 1:
            raise Fail(f"want one map rerun and a fetch failure, counters {counters}")
        task = victim["attempt_id"].rsplit("/", 1)[0]
        attempts = [a for a in s["attempts"] if a["attempt_id"].rsplit("/", 1)[0] == task]
        if len(attempts) < 2 or "output lost: reduce attempt" not in attempts[0]["error"]:
            raise Fail(f"{task}: want its output dropped and one rerun, got {attempts}")
        summary = [l for l in out.splitlines() if l.startswith("summary ")]
        if not summary or " map_reruns=1" not in summary[0] or " fetch_failures=" not in summary[0]:
            raise Fail(f"the summary line does not show the rerun: {out}")
        st = run([SAWMILL, "job", "--cluster", c.dir, "status", jid]).stdout.decode()
        if "sawmill.map_reruns = 1" not in st:
            raise Fail(f"sawmill job status does not show the rerun: {st}")
        reporter = attempts[0]["error"].split("reduce attempt ", 1)[1].split()[0]
        in_place = set()  # failed checks of a segment read in place, in the workers' logs (glog may copy a line)
        for path in glob.glob(os.path.join(c.dir, "**", "*.log*"), recursive=True):
            with open(path, errors="replace") as f:
                in_place |= {l for l in f if ") in place: " in l and "checksum mismatch" in l}
        log(case, f"{jid} succeeded: {failures} fetch failure(s), the first from {reporter}, {len(in_place)} of them "
                  f"on the output's own worker (read in place); {task} rerun once (on {attempts[1]['host']}, first "
                  f"on {attempts[0]['host']}); status and summary show it")
        same_parts(case, "output after a corrupt map output", c.output_parts("/out/f"), local)


def reduce_host(c, jid, beside_outputs_only):
    """Once every map is done: the host of a running reduce that also holds map outputs, else (unless
    beside_outputs_only) of any running reduce; None before."""
    s = c.status(jid)
    if s["maps_done"] != s["maps"]:
        return None
    map_hosts = {a["host"] for a in s["attempts"] if not a["reduce"] and a["state"] == "succeeded"}
    running = [a["host"] for a in s["attempts"] if a["state"] == "running" and a["reduce"]]
    both = [h for h in running if h in map_hosts]
    return (both or ([] if beside_outputs_only else running) or [None])[0]


def case_kill_worker_in_reduces(case, data):
    local = faulty_local(data)
    with cluster(3, replication=2) as c:
        data.load(c)
        p = c.job("faulty_job", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/f", "--reducers", "4",
                  "--split_mb", "1", "--reduce_sleep_ms", "1500")
        jid = job_id_of(p)
        # Trigger: every map committed and a reduce runs on a host that also holds map outputs.
        victim = wait_for("every map done and a reduce running beside map outputs",
                          lambda: reduce_host(c, jid, beside_outputs_only=False), timeout=60)
        c.kill("worker", victim)
        log(case, f"SIGKILLed {victim}'s worker while its reduce ran (its map outputs go with it)")
        s = succeeded(c, jid)
        log(case, f"{jid} succeeded: {s['failed_attempts']} failed attempt(s), {len(s['attempts'])} attempts in all")
        same_parts(case, "output after losing a worker in the reduce phase", c.output_parts("/out/f"), local)


def case_kill_worker_in_tail(case, data):
    """A map-only job with a tail reducer: the tail's worker dies with map tail outputs on it, so
    those maps rerun after their parts were committed; the output must still match local mode."""
    local = faulty_local(data, "--tail")
    with cluster(3, replication=2) as c:
        data.load(c)
        p = c.job("faulty_job", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/f", "--reducers", "4",
                  "--split_mb", "1", "--tail", "--reduce_sleep_ms", "1500")
        jid = job_id_of(p)
        victim = wait_for("every map done and the tail running beside map outputs",
                          lambda: reduce_host(c, jid, beside_outputs_only=True), timeout=60)
        c.kill("worker", victim)
        log(case, f"SIGKILLed {victim}'s worker while the tail ran (map tail outputs go with it)")
        s = succeeded(c, jid)
        reruns = len([a for a in s["attempts"] if not a["reduce"]]) - s["maps"]
        log(case, f"{jid} succeeded: {s['maps']} maps, {reruns} map attempt(s) beyond one per map, "
                  f"{s['failed_attempts']} failed attempt(s)")
        same_parts(case, "map parts and tail part after losing the tail's worker", c.output_parts("/out/f"), local)
        if len(local) != s["maps"] + 1:
            raise Fail(f"{len(local)} parts for {s['maps']} maps and a tail")


def case_retries(case, data):
    local = faulty_local(data)
    with cluster(2) as c:
        data.load(c)
        p = c.job("faulty_job", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/f", "--reducers", "4",
                  "--split_mb", "1", "--abort", "m-00001/0,r-00002/0", "--wait")
        jid = job_id_of(p)
        s = c.status(jid)
        failed = sorted(a["attempt_id"].split("/", 1)[1] for a in s["attempts"] if a["state"] == "failed")
        if failed != ["m-00001/0", "r-00002/0"] or s["failed_attempts"] != 2:
            raise Fail(f"failed attempts {failed} ({s['failed_attempts']})")
        if "signal 6" not in [a for a in s["attempts"] if a["state"] == "failed"][0]["error"]:
            raise Fail(f"the failed attempt's error does not say it aborted: {s['attempts']}")
        log(case, f"{jid} succeeded after retrying m-00001/0 and r-00002/0 (status shows both, 'signal 6')")
        logs = run([SAWMILL, "job", "--cluster", c.dir, "logs", jid, "--attempt", f"{jid}/m-00001/0"]).stdout.decode()
        if "aborting" not in logs:
            raise Fail(f"sawmill job logs lacks the attempt's stderr: {logs}")
        log(case, "sawmill job logs shows the aborted attempt's stderr")
        same_parts(case, "output after retries", c.output_parts("/out/f"), local)

        p = c.job("faulty_job", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/never", "--reducers", "2",
                  "--split_mb", "1", "--abort", "m-00002/", "--wait", check=False)
        err = p.stderr.decode()
        if p.returncode != 1 or "failed 4 times" not in err or "aborting" not in err and "signal 6" not in err:
            raise Fail(f"always-aborting job: exit {p.returncode}, stderr {err}")
        if c.dfs("stat", "/out/never", check=False).returncode == 0:
            raise Fail("a failed job left its output directory")
        leftovers = [l for l in c.dfs("ls", "/out").stdout.decode().split("\n") if "staging" in l]
        if leftovers:
            raise Fail(f"a failed job left its staging directory: {leftovers}")
        log(case, f"a job whose map always aborts fails cleanly: {err.strip().splitlines()[-1][:160]}")


def case_speculation(case, data):
    local = faulty_local(data)
    with cluster(3) as c:
        data.load(c)
        p = c.job("faulty_job", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/f", "--reducers", "4",
                  "--split_mb", "1", "--stall", "m-00003/0", "--wait")
        jid = job_id_of(p)
        s = c.status(jid)
        spec = [a for a in s["attempts"] if a["speculative"]]
        if not spec or s["speculative_attempts"] < 1:
            raise Fail(f"no speculative attempt: {s['attempts']}")
        stalled = [a for a in s["attempts"] if a["attempt_id"].endswith("m-00003/0")][0]
        if stalled["state"] != "killed":
            raise Fail(f"the stalled attempt is {stalled['state']}, not killed")
        log(case, f"{jid} finished through speculative {spec[0]['attempt_id']}; the stalled attempt was killed")
        same_parts(case, "output with a speculative attempt", c.output_parts("/out/f"), local)


def case_limits(case, data):
    local = faulty_local(data)
    with cluster(2) as c:
        data.load(c)
        p = c.job("faulty_job", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/t", "--reducers", "4",
                  "--split_mb", "1", "--stall", "m-00002/0", "--nospeculation", "--task_timeout_ms", "3000", "--wait")
        s = c.status(job_id_of(p))
        # Other attempts may time out too on a loaded machine; the stalled one must have.
        timed_out = [a for a in s["attempts"] if "timed out" in a["error"]]
        if "m-00002/0" not in [a["attempt_id"].split("/", 1)[1] for a in timed_out]:
            raise Fail(f"no timed-out attempt in {s['attempts']}")
        timed_out = [a for a in timed_out if a["attempt_id"].endswith("m-00002/0")]
        log(case, f"a hung attempt failed on its timeout ({timed_out[0]['error'][:90]}) and was retried")
        same_parts(case, "output after a timeout", c.output_parts("/out/t"), local)
        p = c.job("faulty_job", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/m", "--reducers", "4",
                  "--split_mb", "1", "--hog", "m-00001/0", "--hog_mb", "3000", "--task_memory_mb", "1500", "--wait")
        s = c.status(job_id_of(p))
        hogs = [a for a in s["attempts"] if a["state"] == "failed"]
        if len(hogs) != 1 or "memory limit 1500 MiB" not in hogs[0]["error"] or "bad_alloc" not in hogs[0]["error"]:
            raise Fail(f"the memory hog's attempt does not fail on the limit: {s['attempts']}")
        log(case, f"an attempt over its memory limit failed ({hogs[0]['error'][:100]}) and was retried")
        same_parts(case, "output after a memory-limit failure", c.output_parts("/out/m"), local)


def attempt_pids(c, jid):
    """{attempt id: pid of the process that ran it} from the attempts' stderr (faulty_job --say_pid)."""
    text = run([SAWMILL, "job", "--cluster", c.dir, "logs", jid]).stdout.decode()
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^faulty_job: attempt (\S+) in pid (\d+)$", text, re.M)}


def case_executors(case, data):
    """Attempts run in warm executors, several in one process per job and slot; an abort, an exit()
    and a timeout fail only their attempt, with the errors an attempt's own process gives, and the
    next attempt gets a new executor. With --warm_executors=false every attempt has a process."""
    local = faulty_local(data)
    for warm in (True, False):
        with cluster(2, worker_flags=None if warm else "--warm_executors=false") as c:
            data.load(c)
            p = c.job("faulty_job", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/f", "--reducers", "4",
                      "--split_mb", "1", "--say_pid", "--abort", "m-00001/0", "--exit", "r-00002/0", "--stall",
                      "m-00003/0", "--task_timeout_ms", "3000", "--nospeculation", "--wait")
            jid = job_id_of(p)
            s = c.status(jid)
            failed = {a["attempt_id"].split("/", 1)[1]: a["error"] for a in s["attempts"] if a["state"] == "failed"}
            want = {"m-00001/0": "killed by signal 6 (Aborted)", "r-00002/0": "exited with status 3",
                    "m-00003/0": "timed out after"}
            for attempt, text in want.items():
                if text not in failed.get(attempt, ""):
                    raise Fail(f"attempt {attempt} did not fail with '{text}': {failed}")
            pids = attempt_pids(c, jid)
            if len(pids) != len(s["attempts"]):
                raise Fail(f"{len(pids)} attempts said their pid, of {len(s['attempts'])}: {pids}")
            processes = len(set(pids.values()))
            mode = "warm executors" if warm else "a process per attempt"
            # Warm: one executor per worker and slot, and a new one after each of the 3 failures.
            if warm and processes > 2 * 2 + len(want):
                raise Fail(f"{len(pids)} attempts ran in {processes} processes with warm executors: {pids}")
            if not warm and processes != len(pids):
                raise Fail(f"{len(pids)} attempts ran in {processes} processes without warm executors")
            log(case, f"{mode}: {len(pids)} attempts in {processes} processes; {sorted(failed)} failed as "
                      f"their own processes do ({failed['m-00001/0'][:40]}; {failed['r-00002/0'][:40]}; "
                      f"{failed['m-00003/0'][:40]})")
            same_parts(case, f"output with {mode} after an abort, an exit and a timeout", c.output_parts("/out/f"),
                       local)


def case_locality(case, data):
    with cluster(4, replication=2) as c:
        # Enough maps that the tail (where a map whose hosts are busy may run remotely) is small.
        big = os.path.join(data.root, "text48.txt")
        if not os.path.exists(big):
            run([SAWMILL, "gen", "text", "--bytes", str(48 * MB), "--seed", "9", "--output", big])
        c.put(big, "/in/text48.txt")
        p = c.job("wordcount", "--input", "dfs:/in/text48.txt", "--output", "dfs:/out/wc", "--reducers", "2",
                  "--split_mb", "1", "--wait")
        s = c.status(job_id_of(p))
        local, remote = s["data_local_maps"], s["remote_maps"]
        share = local / max(1, local + remote)
        if s["maps"] < 20 or share < 0.9:
            raise Fail(f"{local} of {local + remote} map attempts node-local ({share:.0%}), want >= 90%")
        log(case, f"{local} of {local + remote} map attempts ran node-local ({share:.0%}) on 4 workers, replication 2")


def case_rejections(case, data):
    with cluster(1) as c:
        data.load(c)
        p = c.job("wordcount", "--input", "dfs:/in/nope.txt", "--output", "dfs:/out/x", check=False)
        err = p.stderr.decode()
        if p.returncode != 2 or "dfs:/in/nope.txt" not in err:
            raise Fail(f"missing input: exit {p.returncode}, {err}")
        log(case, f"missing input rejected at submit: {err.strip()}")

        other = tempfile.mkdtemp(prefix="sawmill-jobs-test.wrong.")
        cfg = c.config()
        with open(os.path.join(other, "secret"), "w") as f:
            f.write("0123456789abcdef" * 4 + "\n")
        os.chmod(os.path.join(other, "secret"), 0o600)
        cfg["secret_file"] = os.path.join(other, "secret")
        with open(os.path.join(other, "cluster.json"), "w") as f:
            json.dump(cfg, f)
        p = run([os.path.join(JOBS, "wordcount"), "--cluster", other, "--input", "dfs:/in/text.txt", "--output",
                 "dfs:/out/x"], check=False)
        err = p.stderr.decode()
        shutil.rmtree(other, ignore_errors=True)
        if p.returncode == 0 or "secret" not in err:
            raise Fail(f"wrong secret: exit {p.returncode}, {err}")
        log(case, f"wrong secret rejected: {err.strip()[:160]}")

        exe = os.path.join(JOBS, "faulty_job")
        digest = hashlib.sha256(open(exe, "rb").read()).hexdigest()
        fake = os.path.join(c.dir, "fake-binary")
        with open(fake, "wb") as f:
            f.write(b"#!/bin/sh\necho not the submitted job\n")
        c.dfs("mkdir", "/sawmill/binaries")
        c.dfs("put", fake, f"/sawmill/binaries/{digest}")
        p = c.job("faulty_job", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/x", "--max_attempts", "1",
                  "--wait", check=False)
        err = p.stderr.decode()
        if p.returncode != 2 or "is not the submitted binary" not in err:
            raise Fail(f"tampered binary: want exit 2 at submission, got {p.returncode}, {err}")
        log(case, f"tampered binary refused at submission: {err.strip().splitlines()[-1][:200]}")
        # A program likewise, before its master runs anything.
        digest = hashlib.sha256(open(os.path.join(JOBS, "pagerank"), "rb").read()).hexdigest()
        c.dfs("put", fake, f"/sawmill/binaries/{digest}")
        p = c.job("pagerank", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/pr2", check=False)
        err = p.stderr.decode()
        if p.returncode != 2 or "is not the submitted binary" not in err:
            raise Fail(f"tampered program binary: want exit 2 at submission, got {p.returncode}, {err}")
        log(case, f"tampered program binary refused at submission: {err.strip().splitlines()[-1][:200]}")


def case_http(case, data):
    with cluster(2) as c:
        data.load(c)
        jid = job_id_of(c.job("wordcount", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/wc", "--reducers", "2",
                              "--split_mb", "1", "--wait"))
        code, ctype, body = c.http("/api/cluster")
        doc = json.loads(body)
        if code != 200 or "json" not in ctype or len(doc["workers"]) != 2 or doc["jobs"][0]["job_id"] != jid:
            raise Fail(f"/api/cluster: {code} {ctype} {body[:500]}")
        s = c.status(jid)
        if s["state"] != "succeeded" or s["maps_done"] != s["maps"] or len(s["attempts"]) < s["maps"] + 2:
            raise Fail(f"/api/jobs/{jid}: {s}")
        for a in s["attempts"]:
            for k in ("attempt_id", "host", "state", "duration_ms", "local"):
                if k not in a:
                    raise Fail(f"attempt without {k}: {a}")
        code, _, body = c.http(f"/api/jobs/{jid}/logs")
        logged = {l["attempt_id"] for l in json.loads(body)} if code == 200 else set()
        finished = {a["attempt_id"] for a in s["attempts"] if a["state"] in ("succeeded", "failed")}
        if code != 200 or not finished <= logged:
            raise Fail(f"/api/jobs/{jid}/logs: {code}: {sorted(finished - logged)} missing")
        for path, want in (("/", jid), (f"/job/{jid}", "r-00001"), (f"/job/{jid}/logs", jid)):
            code, ctype, body = c.http(path)
            if code != 200 or "text/html" not in ctype or want not in body:
                raise Fail(f"{path}: {code} {ctype}")
        if c.http("/api/jobs/job-999")[0] != 404 or c.http("/nope")[0] != 404:
            raise Fail("unknown job or page is not 404")
        log(case, "/, /job/ID, /job/ID/logs, /api/cluster, /api/jobs/ID(/logs) serve; unknown ones 404")
        st = run([SAWMILL, "job", "--cluster", c.dir, "status", jid]).stdout.decode()
        ls = run([SAWMILL, "job", "--cluster", c.dir, "list"]).stdout.decode()
        if "succeeded" not in st or jid not in ls:
            raise Fail(f"sawmill job status/list: {st} {ls}")
        log(case, "sawmill job status and list agree")


def replications(c, path):
    """{entry name: replication} of a store directory (`sawmill dfs ls`: type, replication, ...)."""
    out = {}
    for line in c.dfs("ls", path).stdout.decode().splitlines():
        if line.strip():
            f = line.split()
            out[f[-1].rsplit("/", 1)[-1]] = int(f[1])
    return out


def expect_part_replication(case, c, path, want):
    """Every part of the output `path` has replication `want`, and (with 1) one replica per block."""
    reps = replications(c, path)
    parts = {n: r for n, r in reps.items() if n.startswith("part-")}
    if not parts or any(r != want for r in parts.values()):
        raise Fail(f"{path}: part replication {parts}, want {want}")
    if want == 1:
        for n in parts:
            for line in c.dfs("stat", f"{path}/{n}").stdout.decode().splitlines():
                if "replicas:" in line and line.split("replicas:")[1].count("(") != 1:
                    raise Fail(f"{path}/{n}: a block with replication 1 has replicas {line}")
    log(case, f"{path}: {len(parts)} parts with replication {want} (_MANIFEST {reps.get('_MANIFEST')})")


def case_stages(case, data):
    """JobSpec::output_replication through the CLI (reduces, map-only parts and a tail, local mode
    writing to the store) and RunClusterJob called stage after stage in one process."""
    local = faulty_local(data)
    with cluster(3, replication=2) as c:
        data.load(c)
        c.job("faulty_job", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/r1", "--reducers", "4",
              "--split_mb", "1", "--output_replication", "1", "--wait")
        expect_part_replication(case, c, "/out/r1", 1)
        same_parts(case, "output with replication 1", c.output_parts("/out/r1"), local)
        c.job("faulty_job", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/tail1", "--split_mb", "1",
              "--tail", "--output_replication", "1", "--wait")
        expect_part_replication(case, c, "/out/tail1", 1)
        c.job("faulty_job", "--local", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/local1", "--reducers",
              "2", "--split_mb", "1", "--output_replication", "1")
        expect_part_replication(case, c, "/out/local1", 1)
        p = c.job("stage_driver", "--input", "dfs:/in/text.txt", "--output", "dfs:/out/stages", check=False)
        if p.returncode != 0 or "all checks passed" not in p.stdout.decode():
            raise Fail(f"stage_driver: exit {p.returncode}\n{p.stdout.decode()}{p.stderr.decode()}")
        log(case, "stage_driver: " + " | ".join(l.split(" records_in")[0] for l in p.stdout.decode().splitlines()))
        expect_part_replication(case, c, "/out/stages/words", 1)
        expect_part_replication(case, c, "/out/stages/final", 2)


CASES = {
    "identical": case_identical,
    "kill_worker_maps": case_kill_worker_in_maps,
    "kill_worker_reduces": case_kill_worker_in_reduces,
    "kill_worker_tail": case_kill_worker_in_tail,
    "corrupt_map_output": case_corrupt_map_output,
    "retries": case_retries,
    "speculation": case_speculation,
    "limits": case_limits,
    "executors": case_executors,
    "locality": case_locality,
    "rejections": case_rejections,
    "http": case_http,
    "stages": case_stages,
}


def main():
    names = sys.argv[2:] or list(CASES)
    root = tempfile.mkdtemp(prefix="sawmill-jobs-data.")
    try:
        data = Data(root)
        for name in names:
            start = time.monotonic()
            CASES[name](name, data)
            print(f"PASS [{name}] in {time.monotonic() - start:.1f} s", flush=True)
    except Fail as e:
        print(f"FAIL: {e}", flush=True)
        return 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

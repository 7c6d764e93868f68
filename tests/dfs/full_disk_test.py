#!/usr/bin/env python3
"""Full disks on real processes (issue 20): small tmpfs mounts as a worker's attempt folder, as
datanodes' block folders and as the namenode's metadata folder, filled by the jobs and files
themselves or by a ballast file.

Usage: tests/dfs/full_disk_test.py BUILD_DIR [CASE...]   (default: every case)
  worker_disk     a word count whose one worker's disk fills: the failed attempts say "no space
                  left on device" and the path; the job succeeds, byte-identical to local mode
  fetch_disk      a reduce whose worker's disk is full fails itself (no fetch failure, no map
                  rerun); its retry elsewhere finishes the job, byte-identical
  datanode_disk   a full datanode gets no new blocks; back in placement once it has room; a write
                  that fills it mid-block goes on without it; a put with room nowhere fails with
                  no file left visible
  journal_disk    the namenode's journal disk fills: mutations are refused with a clear error,
                  reads go on; restarted with room, the namespace is intact
Needs root (mount); prints "skipped: ..." and passes without it. The mounts lie in a temp folder
under the working directory, always unmounted (after the cluster is down). Waits are on
conditions with deadlines.
"""
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile

BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build"
SAWMILL = os.path.join(BUILD, "sawmill")
JOBS = os.path.join(BUILD, "jobs")
MB = 1 << 20
BLOCK = MB
# NamenodeCore::Options::datanode_reserve_bytes: a datanode gets a block only with this much
# free beyond it.
RESERVE = 4 * MB
NO_SPACE = "no space left on device"

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import harness  # noqa: E402
from harness import Cluster, Fail, http_get, run, wait_for  # noqa: E402
from tmpfs import can_mount, fill, free_bytes, tmpfs  # noqa: E402


def log(case, msg):
    print(f"ok   [{case}] {msg}", flush=True)


def cluster(d, workers, replication, **flags):
    return Cluster(BUILD, workers, replication, dir=d, block_size=BLOCK, heartbeat_ms=300,
                   heartbeat_timeout_ms=3000, sync_blocks="false", **flags)


def namenode_status(c):
    # From the namenode's own endpoint file: `cluster start` keeps its RPC port but not its HTTP
    # port, and cluster.json keeps the first one.
    with open(os.path.join(c.dir, "namenode", "endpoint.json")) as f:
        http = json.load(f)["http"]
    code, _, body = http_get(f"http://{http}/status.json")
    if code != 200:
        raise Fail(f"namenode status.json: HTTP {code}: {body}")
    return json.loads(body)


def free_seen(c, host):
    """The free space the namenode last heard from `host`'s datanode (None: not live)."""
    for d in namenode_status(c)["datanodes"]:
        if d["host"] == host and d["live"]:
            return d["capacity"] - d["used"]
    return None


def block_files(c, host):
    d = os.path.join(c.dir, host, "datanode", "blocks", "finalized")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def block_id(name):
    """blk_ID_GENERATION -> ID."""
    return int(name.split("_")[1])


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def random_words(n, seed):
    """About n bytes of lines of distinct-looking words: a word count's map output is as big as its
    input (the combiner has nothing to fold)."""
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    out, size = [], 0
    while size < n:
        line = " ".join("".join(rng.choice(alphabet) for _ in range(10)) for _ in range(12)) + "\n"
        out.append(line)
        size += len(line)
    return "".join(out).encode()


def wordcount_local(root, text):
    local = os.path.join(root, "wc_local")
    run([os.path.join(JOBS, "wordcount"), "--input", text, "--output", local, "--progress", "never",
         "--reducers", "2", "--split_mb", "1"])
    return {n: open(os.path.join(local, n), "rb").read() for n in sorted(os.listdir(local)) if n.startswith("part-")}


def job_id_of(p):
    for line in p.stdout.decode().splitlines():
        if line.startswith("submitted "):
            return line.split()[1].rstrip(":")
    raise Fail(f"no job id in: {p.stdout.decode()}")


# ---------------------------------------------------------------------------------------------

def case_worker_disk(root):
    d = os.path.join(root, "cluster")
    jobs_dir = os.path.join(d, "host1", "worker", "jobs")  # every attempt folder of host1's worker
    text = write_file(os.path.join(root, "words.txt"), random_words(6 * MB, 5))
    local_parts = wordcount_local(root, text)
    with contextlib.ExitStack() as stack:
        stack.enter_context(tmpfs(jobs_dir, "8m"))
        # As many slots as maps: a retry finds a free slot on host2 at once. (With none free the
        # scheduler runs a retry on the worker it failed on rather than wait, and a full disk
        # fails it again at once: see the report of issue 20.)
        c = stack.enter_context(cluster(d, 2, 1, slots=6))
        c.put(text, "/in/words.txt")
        # Room for the attempts' small files, not for a map output: the disk fills in host1's
        # first maps.
        fill(jobs_dir, leave=512 << 10)
        p = c.job("wordcount", "--input", "dfs:/in/words.txt", "--output", "dfs:/out/wc", "--reducers", "2",
                  "--split_mb", "1", "--wait")
        attempts = c.status(job_id_of(p))["attempts"]
        full = [a for a in attempts if a["state"] == "failed" and a["host"] == "host1"]
        named = [a for a in full if NO_SPACE in a["error"] and jobs_dir in a["error"]]
        if not named:
            raise Fail(f"no failed attempt on host1 names '{NO_SPACE}' and {jobs_dir}: "
                       f"{[(a['attempt_id'], a['state'], a['host'], a['error']) for a in attempts if a['state'] != 'succeeded']}")
        log("worker_disk", f"{len(full)} attempt(s) failed on host1's full 8 MiB disk, e.g. {named[0]['attempt_id']}: "
            f"{named[0]['error'][-200:]}")
        # Every failed task succeeded on the other worker.
        for a in full:
            task = a["attempt_id"].rsplit("/", 1)[0]
            if not any(b["state"] == "succeeded" and b["host"] == "host2" and b["attempt_id"].rsplit("/", 1)[0] == task
                       for b in attempts):
                raise Fail(f"{task} failed on host1 and did not succeed on host2")
        parts = c.output_parts("/out/wc")
        if parts != local_parts:
            raise Fail(f"cluster output differs from local mode: parts {sorted(parts)} vs {sorted(local_parts)}")
        log("worker_disk", f"the job succeeded on host2; its {len(parts)} parts "
            f"({sum(map(len, parts.values()))} bytes) are byte-identical to local mode")


def case_fetch_disk(root):
    d = os.path.join(root, "cluster")
    jobs_dir = os.path.join(d, "host1", "worker", "jobs")
    text = write_file(os.path.join(root, "words.txt"), random_words(6 * MB, 6))
    local_parts = wordcount_local(root, text)
    with contextlib.ExitStack() as stack:
        stack.enter_context(tmpfs(jobs_dir, "8m"))
        dn_blocks = stack.enter_context(tmpfs(os.path.join(d, "host1", "datanode", "blocks"), "8m"))
        # Segments to disk, never to memory; as many slots as maps.
        c = stack.enter_context(cluster(d, 2, 1, slots=6, worker_flags="--shuffle_memory_mb=0"))
        # host1's datanode full: the input's blocks all go to host2, whose worker runs every map
        # (node-local, one slot each), so host1 runs no map and its free slots take the reduces.
        fill(dn_blocks, leave=MB)
        wait_for("the namenode to see host1's datanode full", lambda: (free_seen(c, "host1") or 0) < BLOCK + RESERVE,
                 timeout=30)
        c.put(text, "/in/words.txt")
        fill(jobs_dir, leave=512 << 10)  # room for a reduce's spec, not for its segments
        p = c.job("wordcount", "--input", "dfs:/in/words.txt", "--output", "dfs:/out/wc", "--reducers", "2",
                  "--split_mb", "1", "--wait")
        s = c.status(job_id_of(p))
        attempts, counters = s["attempts"], s["counters"]
        full = [a for a in attempts if a["state"] == "failed" and a["host"] == "host1"]
        if any(not a["reduce"] for a in full):
            raise Fail(f"a map ran and failed on host1: {full}")
        named = [a for a in full if NO_SPACE in a["error"] and os.path.join(jobs_dir, "job-") in a["error"]
                 and "/segments/" in a["error"]]
        if not named:
            raise Fail(f"no reduce attempt failed on host1 naming its segment file and '{NO_SPACE}': "
                       f"{[(a['attempt_id'], a['state'], a['host'], a['error']) for a in attempts if a['state'] != 'succeeded']}")
        reruns, failures = counters.get("sawmill.map_reruns", 0), counters.get("sawmill.fetch_failures", 0)
        if reruns or failures:
            raise Fail(f"a full disk on the reduce's side was taken for the maps' fault: counters {counters}")
        log("fetch_disk", f"{len(full)} reduce attempt(s) failed on host1's full disk, e.g. {named[0]['attempt_id']}: "
            f"{named[0]['error']}; no fetch failure, no map rerun")
        parts = c.output_parts("/out/wc")
        if parts != local_parts:
            raise Fail(f"cluster output differs from local mode: parts {sorted(parts)} vs {sorted(local_parts)}")
        log("fetch_disk", f"the job succeeded; its {len(parts)} parts are byte-identical to local mode")


def case_datanode_disk(root):
    d = os.path.join(root, "cluster")
    blocks = {h: os.path.join(d, h, "datanode", "blocks") for h in ("host1", "host2", "host3")}
    with contextlib.ExitStack() as stack:
        stack.enter_context(tmpfs(blocks["host1"], "12m"))
        stack.enter_context(tmpfs(blocks["host2"], "16m"))
        stack.enter_context(tmpfs(blocks["host3"], "16m"))
        c = stack.enter_context(cluster(d, 3, 1))

        # 1. host1 full (room for a block, not for a block and the reserve): no new blocks there.
        ballast = fill(blocks["host1"], leave=2 * MB)
        wait_for("the namenode to see host1 full", lambda: (free_seen(c, "host1") or 0) < BLOCK + RESERVE,
                 timeout=30)
        files = {f"/a/f{i}": random.Random(i).randbytes(BLOCK + 200 * 1024) for i in range(3)}
        for path, data in files.items():
            c.put(write_file(os.path.join(root, "up.tmp"), data), path)
            if c.get_bytes(path) != data:
                raise Fail(f"{path} reads back different")
        if block_files(c, "host1"):
            raise Fail(f"the full datanode host1 got blocks: {block_files(c, 'host1')}")
        log("datanode_disk", f"host1 full ({free_bytes(blocks['host1'])} bytes free): {len(files)} files "
            f"({2 * len(files)} blocks) went to host2 and host3 only, and read back identical")

        # 2. Room again: back in placement; then its disk fills in the middle of a 3-replica write,
        # which goes on without it.
        os.remove(ballast)
        wait_for("the namenode to see room on host1", lambda: (free_seen(c, "host1") or 0) >= BLOCK + RESERVE,
                 timeout=30)
        data = random.Random(99).randbytes(6 * BLOCK + 5)
        src = write_file(os.path.join(root, "r3.tmp"), data)
        proc = subprocess.Popen([SAWMILL, "dfs", "--cluster", d, "put", "--replication", "3", src, "/b/r3"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        tmp_dir = os.path.join(blocks["host1"], "tmp")
        wait_for("host1 to receive a block of /b/r3",
                 lambda: proc.poll() is not None or block_files(c, "host1") or
                 (os.path.isdir(tmp_dir) and os.listdir(tmp_dir)), timeout=60, interval=0.002)
        mid_write = proc.poll() is None
        ballast = fill(blocks["host1"], leave=0)
        out, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise Fail(f"the put whose datanode host1 filled mid-write failed: {err.decode(errors='replace')}")
        if c.get_bytes("/b/r3") != data:
            raise Fail("/b/r3 reads back different")
        log("datanode_disk", f"host1 had room again and took part in a 3-replica put; its disk filled "
            f"{'mid-write' if mid_write else 'after the put'}: the put succeeded and reads back identical")
        os.remove(ballast)

        # 3. A put with room nowhere fails, and leaves nothing visible nor any of its blocks.
        wait_for("/b/r3 re-replicated", lambda: "status: HEALTHY" in c.fsck()[1], timeout=60)
        # Block ids grow: the failed put's blocks are those above every id before it.
        last_id = max(block_id(n) for h in blocks for n in block_files(c, h))
        big = write_file(os.path.join(root, "big.tmp"), random.Random(7).randbytes(40 * MB))
        p = c.dfs("put", big, "/c/big", check=False)
        err = p.stderr.decode(errors="replace")
        written = sum(block_id(n) > last_id for h in blocks for n in block_files(c, h))
        if p.returncode == 0:
            raise Fail("a 40 MiB put succeeded on datanodes with less room than that in all")
        if "room" not in err and NO_SPACE not in err:
            raise Fail(f"the failed put does not say the datanodes are full: {err}")
        if c.dfs("stat", "/c/big", check=False).returncode == 0:
            raise Fail("the failed put left /c/big visible")
        listing = c.dfs("ls", "-R", "/", check=False).stdout.decode()
        if "/c/big" in listing:
            raise Fail(f"the failed put is listed: {listing}")
        wait_for("the failed put's blocks to be deleted",
                 lambda: all(block_id(n) <= last_id for h in blocks for n in block_files(c, h)), timeout=60)
        wait_for("the namenode to see the room given back",
                 lambda: max(free_seen(c, h) or 0 for h in blocks) >= BLOCK + RESERVE, timeout=30)
        c.put_bytes("/c/small", b"fits\n")
        if c.get_bytes("/c/small") != b"fits\n":
            raise Fail("a small put after the failed one reads back different")
        rc, fsck = c.fsck()
        if rc != 0 or "status: HEALTHY" not in fsck:
            raise Fail(f"fsck after the failed put: {fsck}")
        log("datanode_disk", f"a 40 MiB put with room nowhere failed after {written} of its blocks were stored "
            f"({err.strip().splitlines()[-1]}); nothing visible, its blocks deleted, a small put then works, "
            "fsck healthy")


def case_journal_disk(root):
    d = os.path.join(root, "cluster")
    meta = os.path.join(d, "namenode", "meta")
    with contextlib.ExitStack() as stack:
        stack.enter_context(tmpfs(meta, "8m"))
        c = stack.enter_context(cluster(d, 2, 2))
        keep = random.Random(3).randbytes(3 * BLOCK + 17)
        c.put_bytes("/keep/a", keep)
        c.dfs("mkdir", "/keep/d")

        def restart_namenode():
            c.kill("namenode", sig=signal.SIGTERM)
            run([SAWMILL, "cluster", "start", "--dir", d, "--process", "namenode"])
            wait_for("datanodes to re-register",
                     lambda: c.dfs("datanodes", check=False).stdout.decode().count(" live ") >= c.workers,
                     timeout=30)

        # A clean stop checkpoints and starts an empty journal: the next record must allocate.
        restart_namenode()
        ballast = fill(meta, leave=0)
        for args in (["mkdir", "/x"], ["put", write_file(os.path.join(root, "s.tmp"), b"s\n"), "/keep/s"]):
            p = c.dfs(*args, check=False)
            err = p.stderr.decode(errors="replace")
            if p.returncode == 0 or "namenode journal unwritable" not in err or NO_SPACE not in err or \
                    "read-only" not in err or meta not in err:
                raise Fail(f"dfs {args[0]} with the journal's disk full: rc {p.returncode}, stderr {err}")
        log("journal_disk", f"mkdir and put refused: {err.strip().splitlines()[-1]}")
        if c.get_bytes("/keep/a") != keep or "/keep/d" not in c.dfs("ls", "/keep").stdout.decode():
            raise Fail("reads differ while the namenode is read-only")
        status = namenode_status(c)
        if "namenode journal unwritable" not in status.get("read_only", ""):
            raise Fail(f"status.json does not say the namenode is read-only: {status.get('read_only')!r}")
        log("journal_disk", "ls and cat still answered; status.json says read-only")

        os.remove(ballast)
        restart_namenode()
        logs = "".join(open(os.path.join(d, "namenode", n), errors="replace").read()
                       for n in os.listdir(os.path.join(d, "namenode")) if n.endswith(".log"))
        if re.search(r"dropped \d+ bytes", logs):
            raise Fail("the namenode dropped a torn journal tail after the disk filled")
        if c.get_bytes("/keep/a") != keep:
            raise Fail("/keep/a differs after the restart")
        c.dfs("mkdir", "/x")
        c.put_bytes("/keep/s", b"s\n")
        wait_for("fsck healthy", lambda: "status: HEALTHY" in c.fsck()[1], timeout=30)
        log("journal_disk", "restarted with room: no torn journal tail, the namespace intact, mutations "
            "accepted again, fsck healthy")


CASES = {"worker_disk": case_worker_disk, "fetch_disk": case_fetch_disk, "datanode_disk": case_datanode_disk, "journal_disk": case_journal_disk}


def main():
    if not can_mount():
        print("skipped: the full-disk tests mount tmpfs, which needs root")
        return
    for name in sys.argv[2:] or list(CASES):
        root = tempfile.mkdtemp(prefix=f"full-disk-{name}.", dir=os.getcwd())
        harness.exit_on_sigterm()
        CASES[name](root)
        shutil.rmtree(root, ignore_errors=True)  # kept for inspection after a failure
    print("all full-disk cases passed")


if __name__ == "__main__":
    harness.run_main(main)

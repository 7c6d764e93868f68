#!/usr/bin/env python3
"""Acceptance tests of the file store on real processes: `sawmill cluster up` on 127.0.0.1,
`sawmill dfs` as the client, SIGKILL for faults, bytes flipped in block files on disk.

Usage: tests/dfs/cluster_test.py BUILD_DIR [CASE...]   (default: every case)
Each case brings up its own cluster in a temp dir and tears it down (harness.Cluster). Waits are
on conditions with deadlines; nothing depends on a bare sleep. Prints one "ok" line per check.
"""
import hashlib
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build"
SAWMILL = os.path.join(BUILD, "sawmill")
BLOCK = 1 << 20  # small blocks so that files span many of them


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import harness  # noqa: E402
from harness import Cluster, Fail, http_get, wait_for  # noqa: E402


def log(case, msg):
    print(f"ok   [{case}] {msg}", flush=True)


def run(*args, check=True, input=None, timeout=120):
    """`sawmill ARGS...`."""
    return harness.run([SAWMILL, *args], check=check, input=input, timeout=timeout)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def seeded_bytes(n, seed):
    return random.Random(seed).randbytes(n)


def fsck_healthy(c):
    rc, out = c.fsck()
    return rc == 0 and "status: HEALTHY" in out


def fsck_count(c, what):
    """The number fsck prints before `what` ("under-replicated", "missing", "corrupt")."""
    m = re.search(r"(\d+) " + what, c.fsck()[1])
    return int(m.group(1)) if m else 0


def wait_datanodes(c):
    """After a namenode restart: until every datanode has registered again."""
    wait_for("datanodes to re-register",
             lambda: c.dfs("datanodes", check=False).stdout.decode().count(" live ") >= c.workers, timeout=30)


def block_files(c, host):
    d = os.path.join(c.dir, host, "datanode", "blocks", "finalized")
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, n) for n in os.listdir(d))


# ---------------------------------------------------------------------------------------------

def case_roundtrip(c):
    sizes = [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 10 * BLOCK]
    for i, n in enumerate(sizes):
        data = seeded_bytes(n, i)
        c.put_bytes(f"/rt/f{n}", data)
        got = c.get_bytes(f"/rt/f{n}")
        if sha(got) != sha(data):
            raise Fail(f"size {n}: sha256 differs after put/get ({len(got)} bytes back)")
        out = os.path.join(c.dir, "download.tmp")
        c.dfs("get", f"/rt/f{n}", out)
        if sha(open(out, "rb").read()) != sha(data):
            raise Fail(f"size {n}: get to a local file differs")
        log("roundtrip", f"{n} bytes: put/get sha256 identical ({sha(data)[:16]})")
    st = c.dfs("stat", f"/rt/f{10 * BLOCK}").stdout.decode()
    if str(10 * BLOCK) not in st:
        raise Fail(f"stat does not show the size: {st}")
    ls = c.dfs("ls", "/rt").stdout.decode()
    if ls.count("/rt/f") != len(sizes):
        raise Fail(f"ls /rt lists {ls.count('/rt/f')} files, want {len(sizes)}:\n{ls}")
    p = c.dfs("cat", "/rt/missing", check=False)
    if p.returncode == 0 or b"/rt/missing" not in p.stderr:
        raise Fail(f"cat of a missing file: rc {p.returncode}, stderr {p.stderr!r}")
    log("roundtrip", "stat, ls and a not-found error naming the path")
    if not fsck_healthy(c):
        raise Fail("fsck not healthy: " + c.fsck()[1])
    log("roundtrip", "fsck healthy")


def case_kill_during_write(c):
    data = seeded_bytes(40 * BLOCK, 7)
    src = os.path.join(c.dir, "big.tmp")
    with open(src, "wb") as f:
        f.write(data)
    proc = subprocess.Popen([SAWMILL, "dfs", "--cluster", c.dir, "put", src, "/w/big"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    victim = "host2"
    wait_for("blocks of the file being written", lambda: len(block_files(c, victim)) >= 3 or proc.poll() is not None,
             timeout=60, interval=0.005)
    killed_mid_write = proc.poll() is None
    c.kill("datanode", victim)
    out, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        got = c.get_bytes("/w/big")
        if sha(got) != sha(data):
            raise Fail("the file written across a datanode kill reads back different")
        log("kill_during_write", f"write completed across the SIGKILL (mid-write: {killed_mid_write}); sha256 identical")
    else:
        if b"error" not in err:
            raise Fail(f"failed put without a clear error: {err!r}")
        p = c.dfs("stat", "/w/big", check=False)
        if p.returncode == 0:
            raise Fail("a failed write left a visible file")
        log("kill_during_write", "write failed cleanly and left no visible file: " + err.decode().strip()[:200])
    # Files closed before the kill read back identical too.
    c.put_bytes("/w/after", data[:3 * BLOCK + 5])
    if sha(c.get_bytes("/w/after")) != sha(data[:3 * BLOCK + 5]):
        raise Fail("a file written after the kill reads back different")
    log("kill_during_write", "a file written with one datanode dead reads back identical")


def case_rereplicate(c):
    files = {f"/r/f{i}": seeded_bytes(3 * BLOCK + i * 1000, 100 + i) for i in range(4)}
    for p, d in files.items():
        c.put_bytes(p, d)
    wait_for("fsck healthy after writes", lambda: fsck_healthy(c), timeout=30)
    c.kill("datanode", "host1")
    for p, d in files.items():
        if sha(c.get_bytes(p)) != sha(d):
            raise Fail(f"{p} reads back different with host1 dead")
    log("rereplicate", "reads keep working with a datanode SIGKILLed")
    n = wait_for("fsck to report under-replication", lambda: fsck_count(c, "under-replicated"), timeout=30,
                 interval=0.02)
    t0 = time.monotonic()
    rc, out = c.fsck()
    log("rereplicate", f"fsck reports {n} under-replicated blocks (exit {rc})")
    wait_for("re-replication to make fsck healthy", lambda: fsck_healthy(c), timeout=60)
    log("rereplicate", f"fsck healthy again {time.monotonic() - t0:.1f} s later (re-replication)")
    for p, d in files.items():
        if sha(c.get_bytes(p)) != sha(d):
            raise Fail(f"{p} differs after re-replication")
    log("rereplicate", "every file identical after re-replication")


def corrupt_file(path):
    # Flip one byte in the data region (the header is 40 bytes).
    with open(path, "r+b") as f:
        f.seek(1000)
        b = f.read(1)
        f.seek(1000)
        f.write(bytes([b[0] ^ 0xFF]))


def case_corrupt_replica(c):
    data = seeded_bytes(2 * BLOCK + 17, 55)
    c.put_bytes("/c/f", data)
    wait_for("fsck healthy after the write", lambda: fsck_healthy(c), timeout=30)
    # Corrupt the replicas on the datanode readers try first (the first one `stat` lists), in
    # every block big enough to reach the flipped offset.
    m = re.search(r"replicas: [^ (]+\((\S+) ", c.dfs("stat", "/c/f").stdout.decode())
    if not m:
        raise Fail("stat lists no replicas")
    victim = m.group(1)
    corrupted = 0
    for f in block_files(c, victim):
        if os.path.getsize(f) > 4096:
            corrupt_file(f)
            corrupted += 1
    log("corrupt_replica", f"flipped a byte in {corrupted} block files on {victim}")
    for _ in range(3):
        got = c.get_bytes("/c/f")
        if sha(got) != sha(data):
            raise Fail("a read returned wrong bytes with a corrupt replica")
    log("corrupt_replica", "reads return the correct bytes")
    n = wait_for("the corruption to be reported", lambda: fsck_count(c, "corrupt"), timeout=30, interval=0.02)
    log("corrupt_replica", f"fsck lists {n} corrupt replicas")
    wait_for("the corrupt replicas to be replaced (fsck healthy)", lambda: fsck_healthy(c), timeout=60)
    log("corrupt_replica", "the corrupt replicas were replaced; fsck healthy")
    if sha(c.get_bytes("/c/f")) != sha(data):
        raise Fail("file differs after repair")


def case_missing_block_fsck(c):
    c.put_bytes("/m/one", seeded_bytes(BLOCK + 3, 9), "--replication", "1")
    wait_for("fsck healthy", lambda: fsck_healthy(c), timeout=30)
    holder = None
    for p in c.config()["processes"]:
        if p["role"] == "datanode" and block_files(c, p["host"]):
            holder = p["host"]
    c.kill("datanode", holder)
    wait_for("fsck to exit non-zero for a missing block", lambda: c.fsck()[0] != 0, timeout=30)
    log("missing_block", f"fsck exits {c.fsck()[0]} and lists the missing block after its only datanode died")


def case_namenode_restart(c):
    done = []
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            data = seeded_bytes(1000 + i, 1000 + i)
            p = c.dfs("put", "-", f"/s/f{i}", input=data, check=False)
            if p.returncode != 0:
                break
            p = c.dfs("mv", f"/s/f{i}", f"/d/f{i}", check=False)
            if p.returncode != 0:
                break
            done.append(i)
            i += 1

    c.dfs("mkdir", "/s")
    c.dfs("mkdir", "/d")
    t = threading.Thread(target=writer)
    t.start()
    wait_for("some creates and renames", lambda: len(done) >= 15, timeout=60, interval=0.01)
    c.kill("namenode")
    stop.set()
    t.join(timeout=60)
    finished = list(done)
    run("cluster", "start", "--dir", c.dir, "--process", "namenode")
    wait_datanodes(c)
    for i in finished:
        got = c.get_bytes(f"/d/f{i}")
        if sha(got) != sha(seeded_bytes(1000 + i, 1000 + i)):
            raise Fail(f"/d/f{i} differs after the namenode restart")
        if c.dfs("stat", f"/s/f{i}", check=False).returncode == 0:
            raise Fail(f"/s/f{i} still visible after its rename completed")
    nxt = len(finished)
    at_src = c.dfs("stat", f"/s/f{nxt}", check=False).returncode == 0
    at_dst = c.dfs("stat", f"/d/f{nxt}", check=False).returncode == 0
    if at_src and at_dst:
        raise Fail(f"f{nxt} is visible at both source and destination")
    log("namenode_restart", f"{len(finished)} files closed and renamed before the SIGKILL are present and identical "
        f"after restart; the in-flight one is at {'src' if at_src else 'dst' if at_dst else 'neither'}")


def case_rename_atomic(c):
    data = seeded_bytes(2 * BLOCK + 5, 77)
    c.put_bytes("/a/dir1/file", data)
    stop = threading.Event()
    bad = []
    reads = [0, 0]

    def reader():
        while not stop.is_set():
            for path in ("/a/dir1/file", "/a/dir2/file"):
                p = c.dfs("cat", path, check=False)
                if p.returncode == 0:
                    reads[0] += 1
                    if sha(p.stdout) != sha(data):
                        bad.append(path)
                else:
                    reads[1] += 1

    t = threading.Thread(target=reader)
    t.start()
    for i in range(20):
        src, dst = ("/a/dir1", "/a/dir2") if i % 2 == 0 else ("/a/dir2", "/a/dir1")
        c.dfs("mv", src, dst)
        p = c.dfs("mv", dst, dst, check=False)  # renaming onto an existing path fails
        if p.returncode == 0:
            raise Fail("rename onto an existing path succeeded")
    stop.set()
    t.join()
    if bad:
        raise Fail(f"readers saw partial or wrong content at {bad[:3]}")
    log("rename_atomic", f"20 directory renames under a concurrent reader: {reads[0]} full reads, "
        f"{reads[1]} not-found, no partial content; rename onto an existing path refused")


def case_auth(c):
    cfg = c.config()
    nn = c.process("namenode")["address"]
    dn = c.process("datanode")["address"]
    # A wrong secret: a copy of the cluster description with another secret file.
    other = os.path.join(c.dir, "wrong")
    os.makedirs(other)
    cfg["secret_file"] = os.path.join(other, "secret")
    with open(cfg["secret_file"], "w") as f:
        f.write("ab" * 32 + "\n")
    os.chmod(cfg["secret_file"], 0o600)
    with open(os.path.join(other, "cluster.json"), "w") as f:
        json.dump(cfg, f)
    p = run("dfs", "--cluster", other, "ls", "/", check=False)
    if p.returncode == 0 or b"secret" not in p.stderr.lower() and b"auth" not in p.stderr.lower():
        raise Fail(f"a wrong-secret client was not refused clearly: rc {p.returncode} {p.stderr!r}")
    log("auth", "a wrong-secret client is refused: " + p.stderr.decode().strip()[:160])
    # An unauthenticated client: reads the challenge, answers garbage, then sends a request frame.
    for addr in (nn, dn):
        host, port = addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=10)
        challenge = s.recv(32)
        s.sendall(b"\0" * 64)
        s.sendall(struct.pack("<IIQ", 0x31465753, 8, 0) + b"\0" * 8)
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        if len(challenge) != 32 or got:
            raise Fail(f"{addr}: an unauthenticated client got {len(got)} bytes after the challenge")
        # Garbage before any handshake: closed, and the daemon keeps serving.
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(os.urandom(4096))
        s.close()
    if c.dfs("ls", "/").returncode != 0:
        raise Fail("daemons stopped serving after garbage")
    log("auth", "unauthenticated and garbage connections get nothing; daemons keep serving")


def case_journal_tail(c):
    c.dfs("mkdir", "/j")
    files = {f"/j/f{i}": seeded_bytes(5000 + i, 300 + i) for i in range(5)}
    for p, d in files.items():
        c.put_bytes(p, d)
    c.kill("namenode")
    meta = os.path.join(c.process("namenode")["dir"], "meta")
    journals = sorted(n for n in os.listdir(meta) if n.startswith("journal."))
    with open(os.path.join(meta, journals[-1]), "ab") as f:
        f.write(b"\x13\x00\x00\x00torn record: the namenode died while appending")
    run("cluster", "start", "--dir", c.dir, "--process", "namenode")
    # Read at once: the client asks again for locations while the datanodes re-register.
    for p, d in files.items():
        if sha(c.get_bytes(p)) != sha(d):
            raise Fail(f"{p} differs after recovering from a torn journal tail")
    logf = os.path.join(c.process("namenode")["dir"], "namenode.log")
    text = open(logf, errors="replace").read()
    if "dropped" not in text:
        raise Fail("the namenode log does not say what it dropped from the journal")
    line = [l for l in text.splitlines() if "dropped" in l][-1]
    log("journal_tail", "torn journal tail cut off at restart, every closed file intact; log: " + line.split("] ")[-1])
    c.put_bytes("/j/after", b"x" * 100)
    if c.get_bytes("/j/after") != b"x" * 100:
        raise Fail("writes after recovery fail")
    log("journal_tail", "new writes work after the recovery")


def case_dfs_job(c):
    wc = os.path.join(BUILD, "jobs", "wordcount")
    text = os.path.join(c.dir, "text.txt")
    run("gen", "text", "--bytes", str(3 * BLOCK + 12345), "--seed", "5", "--output", text)
    c.dfs("mkdir", "/in")
    c.dfs("put", text, "/in/text.txt")
    local_out = os.path.join(c.dir, "wc-local")
    for args in (["--input", text, "--output", local_out],
                 ["--cluster", c.dir, "--input", "dfs:/in/text.txt", "--output", "dfs:/out/wc"]):
        p = subprocess.run([wc, "--local", "--reducers", "2", "--split_mb", "1", "--progress", "never", *args],
                           capture_output=True, timeout=300)
        if p.returncode != 0:
            raise Fail(f"wordcount {' '.join(args)} exited {p.returncode}: {p.stderr.decode()[-1500:]}")
    listing = c.dfs("ls", "/out/wc").stdout.decode()
    for part in ("part-00000", "part-00001", "_MANIFEST"):
        if part not in listing:
            raise Fail(f"dfs:/out/wc lacks {part}:\n{listing}")
        if part.startswith("part-"):
            got = c.get_bytes(f"/out/wc/{part}")
            want = open(os.path.join(local_out, part), "rb").read()
            if got != want:
                raise Fail(f"{part} written to the store differs from the local run's")
    text_dfs = run("cat", "--cluster", c.dir, "dfs:/out/wc").stdout
    if not text_dfs or text_dfs != run("cat", local_out).stdout:
        raise Fail("sawmill cat --cluster of the dfs:/ output differs from cat of the local output")
    if ".staging" in c.dfs("ls", "/out").stdout.decode():
        raise Fail("a staging directory was left behind")
    log("dfs_job", "wordcount with dfs:/ input (4 splits over 4 blocks) and dfs:/ output: parts byte-identical "
        "to the local run; sawmill cat --cluster prints the same text")


def case_status_page(c):
    http = c.process("namenode")["http"]
    code, _, body = http_get(f"http://{http}/status.json")
    status = json.loads(body) if code == 200 else {}
    if len(status.get("datanodes", [])) != c.workers:
        raise Fail(f"status.json (HTTP {code}) lists {len(status.get('datanodes', []))} datanodes, want {c.workers}")
    code, _, page = http_get(f"http://{http}/")
    if code != 200 or "datanode" not in page.lower():
        raise Fail("the status page does not show datanodes")
    code, _, _ = http_get(f"http://{http}/nope")
    if code != 404:
        raise Fail(f"unknown page answered {code}")
    log("status_page", f"/status.json lists {c.workers} datanodes; / renders; unknown pages 404")


def case_full_disk(c):
    # A datanode whose disk is full (a 2 MiB tmpfs: less than a block and the namenode's reserve)
    # is left out of placement; the writer goes on with the other datanodes. (A disk that fills
    # mid-write: tests/dfs/full_disk_test.py.)
    victim = "host1"
    blocks = os.path.join(c.dir, victim, "datanode", "blocks")
    c.kill("datanode", victim, sig=signal.SIGTERM)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", blocks], capture_output=True).returncode != 0:
        log("full_disk", "skipped: cannot mount a tmpfs here")
        return
    try:
        run("cluster", "start", "--dir", c.dir, "--process", victim)
        data = seeded_bytes(8 * BLOCK + 3, 42)
        c.put_bytes("/full/f", data)
        if sha(c.get_bytes("/full/f")) != sha(data):
            raise Fail("a file written while one datanode's disk was full reads back different")
        log("full_disk", "8 MiB written with replication 3 while one datanode's disk was 2 MiB: "
            "the pipelines went on without it; the file reads back identical")
    finally:
        c.kill("datanode", victim, sig=signal.SIGTERM)
        subprocess.run(["umount", "-l", blocks], capture_output=True)


def tree_hashes(root):
    """{relative path: sha256} of every file under `root`, and its set of directories."""
    files, dirs = {}, set()
    for d, subdirs, names in os.walk(root):
        rel = os.path.relpath(d, root)
        dirs.add(rel)
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                files[os.path.normpath(os.path.join(rel, n))] = sha(f.read())
    return files, dirs


def case_tree(c):
    # A 3-level tree: empty and multi-block files, an empty directory; put and get round-trip it
    # as cp -r does, and du, count and tail agree with it.
    src = os.path.join(c.dir, "tree-src")
    layout = {"a.txt": 10, "empty": 0, "x/b.bin": 2 * BLOCK + 3, "x/y/c.bin": BLOCK, "x/y/z/d": 77}
    for rel, n in layout.items():
        os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
        with open(os.path.join(src, rel), "wb") as f:
            f.write(seeded_bytes(n, len(rel)))
    os.makedirs(os.path.join(src, "x", "hollow"))
    want_files, want_dirs = tree_hashes(src)
    c.dfs("put", src, "/t")  # /t does not exist: the tree becomes /t
    c.dfs("mkdir", "/in")
    c.dfs("put", src, "/in")  # /in is a directory: the tree goes to /in/tree-src
    for store_path in ("/t", "/in/tree-src"):
        out = os.path.join(c.dir, "tree-out" + store_path.replace("/", "-"))
        c.dfs("get", store_path, out)
        got_files, got_dirs = tree_hashes(out)
        if got_files != want_files or got_dirs != want_dirs:
            raise Fail(f"get {store_path}: {sorted(got_files.items())} {sorted(got_dirs)} differ from what was put: "
                       f"{sorted(want_files.items())} {sorted(want_dirs)}")
    into = os.path.join(c.dir, "tree-into")
    os.makedirs(into)
    c.dfs("get", "/t", into)  # an existing local directory: the tree goes to LOCAL/t
    if tree_hashes(os.path.join(into, "t")) != (want_files, want_dirs):
        raise Fail("get /t into an existing directory did not make LOCAL/t the same tree")
    log("tree", f"put and get of a 3-level tree ({len(want_files)} files, {len(want_dirs)} directories) "
        "round-trip by SHA-256, into new and existing directories on both sides")
    again = c.dfs("put", os.path.join(src, "x"), "/t", check=False)  # into /t/x, which has the files
    if again.returncode == 0 or b"/t/x/b.bin" not in again.stderr:
        raise Fail(f"a put over existing files: exit {again.returncode}, {again.stderr!r}")
    total = sum(layout.values())
    count = c.dfs("count", "/t").stdout.decode().split()
    if count != [str(len(want_dirs)), str(len(want_files)), str(total), "/t"]:
        raise Fail(f"count /t: {count}, want {len(want_dirs)} dirs, {len(want_files)} files, {total} bytes")
    du = c.dfs("du", "-s", "/t").stdout.decode().split()
    if du != [str(total), str(total * 3), "/t"]:
        raise Fail(f"du -s /t: {du}, want {total} bytes, {total * 3} with 3 replicas")
    rows = {line.split()[2]: int(line.split()[0]) for line in c.dfs("du", "/t/x").stdout.decode().splitlines()}
    want_rows = {"/t/x/b.bin": 2 * BLOCK + 3, "/t/x/hollow": 0, "/t/x/y": BLOCK + 77}
    if rows != want_rows:
        raise Fail(f"du /t/x: {rows}, want {want_rows}")
    tail = c.dfs("tail", "--bytes", "100", "/t/x/b.bin").stdout
    if tail != seeded_bytes(2 * BLOCK + 3, len("x/b.bin"))[-100:]:
        raise Fail("tail --bytes 100 is not the file's last 100 bytes")
    log("tree", f"a put over existing files fails; count {count[:3]}, du -s {du[:2]}, du per entry and tail agree")


CASES = {
    "roundtrip": (case_roundtrip, 3, 3),
    "tree": (case_tree, 3, 3),
    "kill_during_write": (case_kill_during_write, 3, 3),
    "rereplicate": (case_rereplicate, 4, 3),
    "corrupt_replica": (case_corrupt_replica, 3, 2),
    "missing_block": (case_missing_block_fsck, 3, 2),
    "namenode_restart": (case_namenode_restart, 3, 2),
    "rename_atomic": (case_rename_atomic, 2, 2),
    "auth": (case_auth, 1, 1),
    "journal_tail": (case_journal_tail, 2, 2),
    "dfs_job": (case_dfs_job, 3, 2),
    "status_page": (case_status_page, 3, 2),
    "full_disk": (case_full_disk, 3, 3),
}


def main():
    names = sys.argv[2:] or list(CASES)
    for name in names:
        fn, workers, repl = CASES[name]
        try:
            with Cluster(BUILD, workers, repl, prefix="sawmill-dfs-test.", block_size=BLOCK,
                         heartbeat_timeout_ms=3000, heartbeat_ms=300) as c:
                fn(c)
        except Fail as e:
            print(f"FAIL [{name}] {e}", file=sys.stderr)
            sys.exit(1)
    print("all dfs cluster cases passed")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Compressed text inputs (common/decompress.h, issue 21): wordcount over .gz, .zst and .bz2 copies
of a text (and over a gzip file without a suffix, found by its magic number, and over two gzip
members concatenated) equals wordcount over the text, byte for byte, in local mode and on a
2-worker cluster reading dfs:/ paths; a truncated .gz fails the job naming the file and the byte
offset, in both modes.

Usage: tests/jobs/compressed_input_test.py BUILD_DIR
Needs the gzip, bzip2 and zstd tools (scripts/setup installs them).
"""
import os
import shutil
import subprocess
import sys
import tempfile

BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build"
SAWMILL = os.path.join(BUILD, "sawmill")
WORDCOUNT = os.path.join(BUILD, "jobs", "wordcount")
MB = 1 << 20

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from harness import Cluster, Fail, run, run_main  # noqa: E402


def log(msg):
    print(f"ok   [compressed] {msg}", flush=True)


def parts(d):
    return {n: open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d)) if n.startswith("part-")}


def wordcount(inp, out, *extra, check=True):
    return run([WORDCOUNT, "--input", inp, "--output", out, "--reducers", "2", "--split_mb", "1",
                "--progress", "never", *extra], check=check)


def make_inputs(root, text):
    """{name: path} of the compressed copies of `text`."""
    data = open(text, "rb").read()
    half = len(data) // 2
    cut = data.rfind(b"\n", 0, half) + 1
    files = {}
    for tool, suffix in (("gzip", ".gz"), ("zstd", ".zst"), ("bzip2", ".bz2")):
        path = os.path.join(root, "text.txt" + suffix)
        with open(path, "wb") as f:
            f.write(subprocess.run([tool, "-c"], input=data, capture_output=True, check=True).stdout)
        files[suffix] = path
    nosuffix = os.path.join(root, "rotated.1")  # gzip found by its first bytes
    shutil.copy(files[".gz"], nosuffix)
    files["magic"] = nosuffix
    members = os.path.join(root, "members.gz")  # `cat a.gz b.gz`
    with open(members, "wb") as f:
        for piece in (data[:cut], data[cut:]):
            f.write(subprocess.run(["gzip", "-c"], input=piece, capture_output=True, check=True).stdout)
    files["members"] = members
    whole = open(files[".gz"], "rb").read()
    truncated = os.path.join(root, "truncated.gz")
    with open(truncated, "wb") as f:
        f.write(whole[:len(whole) * 2 // 3])
    return files, truncated, len(whole) * 2 // 3


def check_truncated(p, what, size):
    text = (p.stdout + p.stderr).decode(errors="replace")
    if p.returncode == 0:
        raise Fail(f"{what}: wordcount over a truncated .gz succeeded")
    if "truncated.gz" not in text or f"byte {size}" not in text:
        raise Fail(f"{what}: the error does not name the file and byte {size}: {text[-1500:]}")


def main():
    for tool in ("gzip", "bzip2", "zstd"):
        if shutil.which(tool) is None:
            raise Fail(f"{tool} is not installed (scripts/setup installs it)")
    root = tempfile.mkdtemp(prefix="sawmill-compressed-test.")
    try:
        text = os.path.join(root, "text.txt")
        run([SAWMILL, "gen", "text", "--bytes", str(3 * MB), "--seed", "11", "--output", text])
        files, truncated, size = make_inputs(root, text)
        wordcount(text, os.path.join(root, "plain"))
        want = parts(os.path.join(root, "plain"))
        for name, path in files.items():
            out = os.path.join(root, "out-" + name.strip("."))
            wordcount(path, out)
            if parts(out) != want:
                raise Fail(f"local wordcount over {os.path.basename(path)} differs from over the text")
        log(f"local: wordcount over {', '.join(os.path.basename(p) for p in files.values())} "
            f"equals wordcount over the text, {len(want)} parts byte for byte")
        check_truncated(wordcount(truncated, os.path.join(root, "out-trunc"), check=False), "local", size)
        log(f"local: a truncated .gz fails naming the file and byte {size}")
        with Cluster(BUILD, 2, 1, prefix="sawmill-compressed-test.", block_size=MB, slots=2,
                     sync_blocks="false") as c:
            for name, path in list(files.items()) + [("trunc", truncated)]:
                c.put(path, "/in/" + os.path.basename(path))
            for name, path in files.items():
                out = "/out/" + name.strip(".")
                wordcount("dfs:/in/" + os.path.basename(path), "dfs:" + out, "--cluster", c.dir, "--wait")
                if c.output_parts(out) != want:
                    raise Fail(f"cluster wordcount over dfs:/in/{os.path.basename(path)} differs from local mode")
            log("cluster (2 workers, dfs:/ inputs): every compressed copy gives local mode's bytes")
            check_truncated(wordcount("dfs:/in/truncated.gz", "dfs:/out/trunc", "--cluster", c.dir, "--wait",
                                      "--max_attempts", "1", check=False), "cluster", size)
            log(f"cluster: a truncated .gz fails the job naming the file and byte {size}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)

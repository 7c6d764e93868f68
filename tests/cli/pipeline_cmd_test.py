#!/usr/bin/env python3
"""How `sawmill pipeline run` runs its steps (cli/pipeline_cmd.cc), with shell scripts as job
binaries: a step's output goes to a private file nobody can name in advance, steps run in
parallel each get their own exit status, and a version the job's output does not state as a
number fails that step with a message naming it instead of ending the pipeline.

Usage: tests/cli/pipeline_cmd_test.py BUILD_DIR CASE  (CASE: private_log, parallel_exits, bad_version)
"""
import json
import os
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from harness import Fail, run_main  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
CASE = sys.argv[2]
SAWMILL = os.path.join(BUILD, "sawmill")


def script(path, body):
    """An executable shell script standing in for a job binary."""
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def run_pipeline(tmp, jobs):
    path = os.path.join(tmp, "p.json")
    with open(path, "w") as f:
        json.dump({"jobs": jobs}, f)
    p = subprocess.run([SAWMILL, "pipeline", "run", path, "--store", os.path.join(tmp, "store")],
                       capture_output=True, timeout=120)
    return p, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def job(tmp, name, binary):
    return {"name": name, "binary": binary, "inputs": [os.path.join(tmp, "in.txt")], "output": f"dataset:{name}"}


def private_log(tmp):
    # The step records where its stdout goes: /proc/$$/fd/1 is the shell's own descriptor (read
    # in command substitutions, before any redirection of the step's own).
    seen = os.path.join(tmp, "seen")
    step = script(os.path.join(tmp, "step"), f"""
target=$(readlink /proc/$$/fd/1)
mode=$(stat -L -c %a /proc/$$/fd/1)
printf '%s\\n%s\\n' "$target" "$mode" > {seen}
echo "writing dataset a version 00000001" >&2
""")
    p, out, err = run_pipeline(tmp, [job(tmp, "a", step)])
    if p.returncode != 0:
        raise Fail(f"pipeline exit {p.returncode}: {out} {err}")
    with open(seen) as f:
        target, mode = f.read().split("\n")[:2]
    mode = int(mode, 8)
    if mode & 0o077:
        raise Fail(f"the step's output file {target} has mode {mode:o}: others may read it")
    # A file in a shared directory could be named (and replaced by a symlink) in advance by
    # another user; an unlinked file or one in a private directory cannot.
    if not target.endswith(" (deleted)"):
        parent = os.stat(os.path.dirname(target))
        if parent.st_mode & 0o077 or parent.st_mode & stat.S_ISVTX:
            raise Fail(f"the step's output file {target} lies in a shared directory")
    print(f"PASS private_log: the step's output goes to {target}, mode {mode:o}", flush=True)


def parallel_exits(tmp):
    # Two steps of one level: one fails with status 3 (after the other has finished), one succeeds.
    done = os.path.join(tmp, "ok-done")
    ok = script(os.path.join(tmp, "ok"), f"""
echo "writing dataset good version 00000001" >&2
touch {done}
""")
    bad = script(os.path.join(tmp, "bad"), f"""
i=0
while [ ! -e {done} ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done
echo "bad step output"
exit 3
""")
    p, out, err = run_pipeline(tmp, [job(tmp, "good", ok), job(tmp, "bad", bad)])
    if "step 1: good bad" not in out:
        raise Fail(f"the steps are not in one level: {out}")
    if "good: new version 00000001" not in out or "bad: FAILED (exit 3): bad step output" not in out:
        raise Fail(f"exit statuses not attributed to their steps: {out} {err}")
    if p.returncode != 1:
        raise Fail(f"pipeline exit {p.returncode}, not 1: {out} {err}")
    print("PASS parallel_exits: each step's exit status is its own", flush=True)


def bad_version(tmp):
    cases = {
        "word": "writing dataset word version xyz",
        "empty": "writing dataset empty version ",
        "signed": "writing dataset signed version -0000001",
        "uptodate": "summary job=x status=up_to_date version=1x",
    }
    jobs = []
    for name, line in cases.items():
        jobs.append(job(tmp, name, script(os.path.join(tmp, name), f'echo "{line}" >&2\n')))
    p, out, err = run_pipeline(tmp, jobs)
    if p.returncode < 0:
        raise Fail(f"pipeline killed by signal {-p.returncode}: {out} {err}")
    if p.returncode != 1:
        raise Fail(f"pipeline exit {p.returncode}, not 1: {out} {err}")
    for name in cases:
        line = next((l for l in out.splitlines() if l.startswith(name + ": ")), "")
        if "FAILED" not in line or "version" not in line:
            raise Fail(f"step {name}: no failure naming the version: {line!r} in {out}")
    print("PASS bad_version: unreadable versions fail their step, the pipeline ends normally", flush=True)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "in.txt"), "w") as f:
            f.write("a\n")
        {"private_log": private_log, "parallel_exits": parallel_exits, "bad_version": bad_version}[CASE](tmp)


if __name__ == "__main__":
    run_main(main)

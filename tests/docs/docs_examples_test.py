#!/usr/bin/env python3
"""The docs as written (issue 21, item 7): runs the code blocks that a page marks with an HTML
comment on the line before them, in page order, so that a page whose steps stop working fails
here. The comments (invisible when the page is rendered):

  <!-- docs_examples: file NAME -->  the block is saved as NAME in the page's working directory
  <!-- docs_examples: run -->        the block runs there with bash -euo pipefail: every command
                                     must exit 0
  <!-- docs_examples: output -->     each line of the block is a line that the page's runs printed
                                     (spaces and tabs compared as one blank; "..." matches anything)

PAGES below lists the pages and where each runs:
- "empty": a new empty directory, with the build's `sawmill` first on PATH (as the page says);
- "clone": the repository root as a fresh clone has it (symlinks to this checkout) with `build/`
  the test's BUILD_DIR. There `./scripts/build` only checks that BUILD_DIR is built: Sawmill is
  never rebuilt here. $HOME and /tmp/ are temporary directories, the paths these pages leave to
  the reader; nothing else of the page's text is changed.

Usage: tests/docs/docs_examples_test.py BUILD_DIR
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "common"))
from harness import Fail, run_main, runs_in  # noqa: E402

BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(SRC, "build")

PAGES = [
    ("README.md", "clone"),  # the tour, which starts and stops a cluster under its /tmp/
    ("docs/pipelines.md", "empty"),
    ("docs/out-of-tree.md", "clone"),
    ("examples/out_of_tree/README.md", "clone"),
]

MARKER = re.compile(r"^<!-- docs_examples: (file (\S+)|run|output) -->\n```[^\n]*\n(.*?)^```$", re.M | re.S)

# Stands in for ./scripts/build in the "clone" directory: the test runs on a finished build.
BUILD_STUB = """#!/bin/sh
# docs_examples_test.py: Sawmill is built already (the test's BUILD_DIR, linked as build/).
[ "${1:-release}" = release ] && [ -x build/sawmill ] && [ -x build/jobs/wordcount ] && exit 0
echo "scripts/build (docs_examples stub): want 'release' and a built build/, got '$*'" >&2
exit 1
"""


def blocks(page):
    """The marked blocks of a page as (kind, name, text), in order; a marker with no block after
    it fails, so that a typo does not silently drop a step."""
    with open(os.path.join(SRC, page)) as f:
        text = f.read()
    found = [(m.group(1).split()[0], m.group(2), m.group(3)) for m in MARKER.finditer(text)]
    if len(found) != text.count("<!-- docs_examples:"):
        raise Fail(f"{page}: a docs_examples comment not directly followed by a ``` block")
    if not any(kind == "run" for kind, _, _ in found):
        raise Fail(f"{page}: no block marked <!-- docs_examples: run -->")
    return found


def clone(tmp):
    """The repository root as a fresh clone sees it: this checkout's files, build/ = BUILD."""
    root = os.path.join(tmp, "clone")
    os.makedirs(os.path.join(root, "scripts"))
    for name in os.listdir(SRC):
        if name not in (".git", "build", "scripts") and not name.startswith("build-"):
            os.symlink(os.path.join(SRC, name), os.path.join(root, name))
    os.symlink(BUILD, os.path.join(root, "build"))
    for name in os.listdir(os.path.join(SRC, "scripts")):
        if name != "build":
            os.symlink(os.path.join(SRC, "scripts", name), os.path.join(root, "scripts", name))
    stub = os.path.join(root, "scripts", "build")
    with open(stub, "w") as f:
        f.write(BUILD_STUB)
    os.chmod(stub, 0o755)
    return root


def environment(home):
    env = dict(os.environ, HOME=home, PATH=BUILD + os.pathsep + os.environ.get("PATH", ""))
    # How cmake builds the example (not what it builds): the main build's generator, cache and
    # linker, so that the example takes seconds on 2 cores. The pages' commands stay as written.
    if shutil.which("ninja"):
        env["CMAKE_GENERATOR"] = "Ninja"
    if shutil.which("ccache"):
        env["CMAKE_CXX_COMPILER_LAUNCHER"] = "ccache"
        env["CCACHE_BASEDIR"] = os.path.dirname(home)  # temporary paths made relative: cache hits
        # The real cache, not one under the temporary $HOME.
        cache = subprocess.run(["ccache", "-k", "cache_dir"], capture_output=True, text=True).stdout.strip()
        if cache:
            env["CCACHE_DIR"] = cache
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            if re.search(r"^MOLD:FILEPATH=/", f.read(), re.M):
                env["LDFLAGS"] = "-fuse-ld=mold"
    except OSError:
        pass
    return env


def matches(want, lines):
    pattern = ".*?".join(re.escape(part) for part in " ".join(want.split()).split("..."))
    return any(re.fullmatch(pattern, " ".join(line.split())) for line in lines)


def run_page(page, where, tmp, home):
    work = os.path.join(tmp, page.replace("/", "_"))
    scratch = os.path.join(work, "tmp")  # the page's /tmp/
    os.makedirs(scratch)
    cwd = clone(work) if where == "clone" else os.path.join(work, "dir")
    os.makedirs(cwd, exist_ok=True)
    env = environment(home)
    printed = []
    try:
        run_blocks(page, cwd, scratch, env, printed)
    finally:
        stop_clusters(scratch)


def stop_clusters(scratch):
    """A page that starts a cluster stops it as its last step; after a failure midway, this
    does: `sawmill cluster down` of every cluster under the page's /tmp/, then SIGKILL of any
    process still naming that directory."""
    for dirpath, _, files in os.walk(scratch):
        if "cluster.json" in files:
            subprocess.run([os.path.join(BUILD, "sawmill"), "cluster", "down", "--dir", dirpath],
                           capture_output=True, timeout=60)
    for pid in os.listdir("/proc"):
        if pid.isdigit() and runs_in(int(pid), scratch) and int(pid) != os.getpid():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def run_blocks(page, cwd, scratch, env, printed):
    runs = 0
    for kind, name, text in blocks(page):
        if kind == "file":
            with open(os.path.join(cwd, name), "w") as f:
                f.write(text)
        elif kind == "run":
            script = text.replace("/tmp/", scratch + "/")
            p = subprocess.run(["bash", "-euo", "pipefail", "-x", "-c", script], cwd=cwd, env=env,
                               capture_output=True, text=True, timeout=300)
            if p.returncode != 0:
                raise Fail(f"{page}: this block exited {p.returncode}:\n{text}\n--- stdout (tail):\n"
                           f"{p.stdout[-3000:]}\n--- stderr, with the commands run (tail):\n{p.stderr[-3000:]}")
            printed += p.stdout.splitlines()
            runs += 1
        else:
            missing = [w for w in text.splitlines() if w.strip() and not matches(w, printed)]
            if missing:
                raise Fail(f"{page}: the output it shows is not what ran printed; missing {missing} in:\n"
                           + "\n".join(printed[-40:]))
    print(f"ok   [docs] {page}: {runs} block(s) of commands ran as written")


def main():
    if not os.access(os.path.join(BUILD, "sawmill"), os.X_OK):
        raise Fail(f"no {BUILD}/sawmill: build Sawmill first")
    with tempfile.TemporaryDirectory(prefix="sawmill-docs.") as tmp:
        home = os.path.join(tmp, "home")
        os.makedirs(home)
        for page, where in PAGES:
            run_page(page, where, tmp, home)


if __name__ == "__main__":
    run_main(main)

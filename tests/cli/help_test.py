#!/usr/bin/env python3
"""One command line (issue 21, item 1), table-driven over every command `sawmill --help` lists and
every verb the completion script knows: `sawmill C --help`, `sawmill C VERB --help` (naming the
verb; only its own usage for the commands in PER_VERB) and `sawmill help C` print help on stdout
and exit 0; `sawmill C VERB --no_such_flag 1` exits 2 naming the flag; `sawmill` alone prints the
list on stderr and exits 2; an unknown command exits 2 naming it and suggesting the nearest; the
bash completion script parses and completes commands and verbs.

Usage: tests/cli/help_test.py BUILD_DIR
"""
import os
import re
import subprocess
import sys

BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build"
SAWMILL = os.path.join(BUILD, "sawmill")


# The commands whose verbs have a usage of their own (the others print the command's for each verb).
PER_VERB = ("cluster", "dfs", "logs", "dataset")


class Fail(Exception):
    pass


def sawmill(*args):
    p = subprocess.run([SAWMILL, *args], capture_output=True, stdin=subprocess.DEVNULL, timeout=30)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def main():
    code, top, err = sawmill("--help")
    if code != 0 or err:
        raise Fail(f"sawmill --help: exit {code}, stderr {err!r}")
    commands = re.findall(r"^  ([a-z]+) +\S", top, re.M)
    groups = re.findall(r"^([a-z ]+):$", top, re.M)
    if len(commands) < 15 or not {"local tools", "cluster", "store", "daemons"} <= set(groups):
        raise Fail(f"sawmill --help lists {commands} in groups {groups}")
    code, out, err = sawmill()
    if code != 2 or out or err != top:
        raise Fail(f"sawmill alone: exit {code}, stdout {out[:80]!r}; want the list on stderr and exit 2")
    code, script, _ = sawmill("completion", "bash")
    verbs = {m[0]: m[1].split() for m in re.findall(r"^ +([a-z]+)\) words=\"([^\"]*)\" ;;$", script, re.M)}
    checked = 0
    for c in commands:
        code, out, err = sawmill(c, "--help")
        if code != 0 or not out.strip() or c not in out:
            raise Fail(f"sawmill {c} --help: exit {code}, stdout {out[:200]!r}, stderr {err[:200]!r}")
        if sawmill("help", c) != (code, out, err):
            raise Fail(f"sawmill help {c} differs from sawmill {c} --help")
        checked += 1
        for v in verbs.get(c, []):
            code, out, err = sawmill(c, v, "--help")
            if code != 0 or not re.search(rf"\b{v}\b", out):
                raise Fail(f"sawmill {c} {v} --help: exit {code}, stdout {out[:200]!r}, stderr {err[:200]!r}")
            checked += 1
    print(f"ok   [help] {len(commands)} commands and {checked - len(commands)} verbs answer --help on stdout, "
          "exit 0, naming the verb")
    for c in PER_VERB:
        helps = {v: sawmill(c, v, "--help")[1] for v in verbs[c]}
        # A verb's synopsis: the first line naming sawmill, without "Usage:".
        synopsis = {v: next(l for l in h.splitlines() if "sawmill" in l).replace("Usage:", "").strip()
                    for v, h in helps.items()}
        for v, h in helps.items():
            others = [w for w in verbs[c] if w != v and synopsis[w] in h]
            if v not in synopsis[v] or others:
                raise Fail(f"sawmill {c} {v} --help is not {v}'s alone: synopsis {synopsis[v]!r}, "
                           f"also shows {others}")
    print(f"ok   [help] {', '.join(PER_VERB)}: VERB --help prints that verb's usage alone")
    unknown = 0
    for c in commands:
        for v in verbs.get(c, []):
            if (c, v) == ("job", "submit"):
                continue  # what follows submit is the job binary and its own flags
            # After the verb and before it: flags are read in either place, by every command.
            for argv in ((c, v, "--no_such_flag", "1"), (c, "--no_such_flag", "1", v)):
                code, out, err = sawmill(*argv)
                if code != 2 or "--no_such_flag" not in err:
                    raise Fail(f"sawmill {' '.join(argv)}: exit {code}, stderr {err[:300]!r}; "
                               "want exit 2 naming the flag")
            unknown += 1
    print(f"ok   [help] {unknown} verbs refuse an unknown flag before or after the verb with exit 2, naming it")
    for typo, nearest in (("dfss", "dfs"), ("pipline", "pipeline"), ("datset", "dataset"), ("clust", "cluster")):
        code, out, err = sawmill(typo)
        if code != 2 or f"unknown command '{typo}'" not in err or f"did you mean '{nearest}'" not in err:
            raise Fail(f"sawmill {typo}: exit {code}, stderr {err!r}")
    code, _, err = sawmill("zzzzzz")
    if code != 2 or "did you mean" in err:
        raise Fail(f"sawmill zzzzzz: exit {code}, stderr {err!r}")
    print("ok   [help] unknown commands exit 2 naming them, with the nearest suggested when one is close")
    path = os.path.join(BUILD, "sawmill-completion.bash")
    with open(path, "w") as f:
        f.write(script)
    probe = (f"source {path}; "
             "COMP_WORDS=(sawmill df); COMP_CWORD=1; _sawmill; echo \"1:${COMPREPLY[*]}\"; "
             "COMP_WORDS=(sawmill dfs --cluster D f); COMP_CWORD=4; _sawmill; echo \"2:${COMPREPLY[*]}\"; "
             "COMP_WORDS=(sawmill dataset pro); COMP_CWORD=2; _sawmill; echo \"3:${COMPREPLY[*]}\"")
    p = subprocess.run(["bash", "-c", probe], capture_output=True, timeout=30)
    got = p.stdout.decode().split("\n")
    if p.returncode != 0 or got[:3] != ["1:dfs", "2:fsck", "3:promote"]:
        raise Fail(f"completion: {got} (stderr {p.stderr.decode()!r})")
    print("ok   [help] the bash completion script completes commands and verbs")
    flag_placement()


def flag_placement():
    """The same command with its flags before and after the verb says the same."""
    import shutil
    import tempfile
    store = tempfile.mkdtemp(prefix="sawmill-help-test.")
    try:
        readme = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
        subprocess.run([os.path.join(BUILD, "jobs", "wordcount"), "--input", readme, "--output", "dataset:words",
                        "--store", store, "--progress", "never"], check=True, capture_output=True, timeout=120)
        subprocess.run([SAWMILL, "logs", "--store", store, "archive", "--stream", "web", "--partition", "0"],
                       input=b"0\t1764720000000\thello\n", check=True, capture_output=True, timeout=60)
        pairs = [(["dataset", "list", "--store", store], ["dataset", "--store", store, "list"]),
                 (["dataset", "show", "words", "--store", store], ["dataset", "--store=" + store, "show", "words"]),
                 (["logs", "ls", "--store", store], ["logs", "--store", store, "ls"]),
                 (["logs", "stat", "web", "0", "--store", store], ["logs", "--store", store, "stat", "web", "0"])]
        for after, before in pairs:
            a, b = sawmill(*after), sawmill(*before)
            if a[0] != 0 or a != b:
                raise Fail(f"sawmill {' '.join(after)} -> {a}; sawmill {' '.join(before)} -> {b}")
        print(f"ok   [help] {len(pairs)} commands say the same with their flags before or after the verb")
    finally:
        shutil.rmtree(store, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        print(f"FAIL: {e}")
        sys.exit(1)

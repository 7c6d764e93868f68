#!/usr/bin/env python3
"""Fault points are documented in one place: the FaultPoint("NAME", ...) calls of the sources,
the names common/fault_point.cc accepts (kPoints) and the table of docs/reliability.md's
"## Fault points" name the same points. Prints each difference (with FILE:LINE where there is
one) and exits 1.

Usage: fault_points_test.py [REPO_ROOT]   (default: two folders above this file)
"""
import os
import re
import sys

SOURCE_EXT = ('.h', '.cc')
# Not product code: a test may call points of its own making.
SKIP_TOP = {'tests', 'bench', 'docs', 'scripts', 'cmake', '.git', '.ci'}
CALL = re.compile(r'\bFaultPoint\(\s*"([^"]*)"')
KNOWN = re.compile(r'^\s*"([a-z0-9_.]+)",\s*$')
DOC_ROW = re.compile(r'^\| `([^`]+)` \|')


def calls(root):
    """{name: [FILE:LINE, ...]} of every FaultPoint("NAME" in a non-test source."""
    found = {}
    for top in sorted(os.listdir(root)):
        if top in SKIP_TOP or top.startswith('build') or not os.path.isdir(os.path.join(root, top)):
            continue
        for folder, dirs, files in os.walk(os.path.join(root, top)):
            dirs.sort()
            for name in sorted(files):
                if not name.endswith(SOURCE_EXT):
                    continue
                path = os.path.join(folder, name)
                with open(path, encoding='utf-8', errors='replace') as f:
                    for n, line in enumerate(f, 1):
                        for point in CALL.findall(line.split('//')[0]):  # not an example in a comment
                            found.setdefault(point, []).append(f'{os.path.relpath(path, root)}:{n}')
    return found


def names_between(path, start, end, pattern, missing):
    """The first group of `pattern` on the lines of `path` after the first line where start(line)
    holds and before the next where end(line) does; exits naming `missing` when there are none."""
    names, inside = set(), False
    with open(path, encoding='utf-8') as f:
        for line in f:
            if not inside:
                inside = start(line)
            elif end(line):
                break
            elif m := pattern.match(line):
                names.add(m.group(1))
    if not names:
        sys.exit(f'{path}: {missing}')
    return names


def known(root):
    """The kPoints list of common/fault_point.cc."""
    return names_between(os.path.join(root, 'common', 'fault_point.cc'), lambda line: 'kPoints[]' in line,
                         lambda line: line.strip() == '};', KNOWN, 'no kPoints list found')


def documented(root):
    """The first cells of the table in docs/reliability.md's "## Fault points"."""
    return names_between(os.path.join(root, 'docs', 'reliability.md'), lambda line: line.strip() == '## Fault points',
                         lambda line: line.startswith('## '), DOC_ROW, 'no table under "## Fault points"')


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..'))
    used, accepted, docs = calls(root), known(root), documented(root)
    problems = []
    for point, where in sorted(used.items()):
        if point not in accepted:
            problems.append(f'{where[0]}: fault point {point!r} is not in kPoints of common/fault_point.cc')
        if point not in docs:
            problems.append(f'{where[0]}: fault point {point!r} has no row in docs/reliability.md "## Fault points"')
    for point in sorted(accepted - set(used)):
        problems.append(f'common/fault_point.cc: kPoints names {point!r}, which no source calls')
    for point in sorted(docs - set(used)):
        problems.append(f'docs/reliability.md: documents fault point {point!r}, which no source calls')
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print(f'{len(used)} fault points: called, accepted and documented')


if __name__ == '__main__':
    main()

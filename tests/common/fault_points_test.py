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


def known(root):
    """The kPoints list of common/fault_point.cc."""
    path = os.path.join(root, 'common', 'fault_point.cc')
    names, inside = set(), False
    with open(path, encoding='utf-8') as f:
        for line in f:
            if 'kPoints[]' in line:
                inside = True
            elif inside and line.strip() == '};':
                break
            elif inside and KNOWN.match(line):
                names.add(KNOWN.match(line).group(1))
    if not names:
        sys.exit(f'{path}: no kPoints list found')
    return names


def documented(root):
    """The first cells of the table in docs/reliability.md's "## Fault points"."""
    path = os.path.join(root, 'docs', 'reliability.md')
    names, in_section = set(), False
    with open(path, encoding='utf-8') as f:
        for line in f:
            if line.startswith('## '):
                in_section = line.strip() == '## Fault points'
            elif in_section and line.startswith('| `'):
                names.add(line.split('|')[1].strip().strip('`'))
    if not names:
        sys.exit(f'{path}: no table under "## Fault points"')
    return names


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

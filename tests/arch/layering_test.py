#!/usr/bin/env python3
"""The layering rule: every quoted #include of a non-test source names a folder that the
including folder may use, per the table in docs/architecture.md ("## The layering rule").
Also: the headers installed for job authors (api/*.h and what they include) reach no Asio,
Beast, Cap'n Proto, glog or gflags header. Prints each violation as FILE:LINE and exits 1.

Usage: layering_test.py [REPO_ROOT]   (default: two folders above this file)
"""
import os
import re
import sys

SOURCE_EXT = ('.h', '.cc', '.c', '.capnp')
# Not product code: tests, benchmarks and build outputs are free to reach anything.
SKIP_TOP = {'tests', 'bench', 'docs', 'scripts', 'cmake', '.git', '.ci'}
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
CAPNP_IMPORT = re.compile(r'import\s+"/([^"]+)"')
SYSTEM_INCLUDE = re.compile(r'^\s*#\s*include\s*<([^>]+)>')
FORBIDDEN_IN_API = re.compile(r'^(boost/asio|boost/beast|asio|capnp|kj|glog|gflags)[/.]')


def read_rule(root):
    """{folder: set(folders it may include)} from the architecture doc's table."""
    doc = os.path.join(root, 'docs', 'architecture.md')
    allowed = {}
    in_section = False
    with open(doc, encoding='utf-8') as f:
        for line in f:
            if line.startswith('## '):
                in_section = line.strip() == '## The layering rule'
                continue
            if not in_section or not line.startswith('| `'):
                continue
            cells = [c.strip() for c in line.strip().strip('|').split('|')]
            folder = cells[0].strip('`').rstrip('/')
            targets = set(re.findall(r'`([^`]+)`', cells[1]))
            allowed[folder] = {t.rstrip('/') for t in targets}
    if not allowed:
        sys.exit(f'{doc}: no "## The layering rule" table found')
    return allowed


def folder_of(path, folders):
    """The longest table folder that `path` lies in, or None."""
    best = None
    for f in folders:
        if (path == f or path.startswith(f + '/')) and (best is None or len(f) > len(best)):
            best = f
    return best


def sources(root):
    for top in sorted(os.listdir(root)):
        full = os.path.join(root, top)
        if top in SKIP_TOP or top.startswith('build') or not os.path.isdir(full):
            continue
        for dirpath, dirnames, filenames in os.walk(full):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(SOURCE_EXT):
                    yield os.path.relpath(os.path.join(dirpath, name), root)


def check_layers(root, allowed):
    errors = []
    folders = list(allowed)
    for rel in sources(root):
        src = folder_of(rel, folders)
        if src is None:
            errors.append(f'{rel}:1: folder not in the layering table of docs/architecture.md')
            continue
        pattern = CAPNP_IMPORT if rel.endswith('.capnp') else INCLUDE
        with open(os.path.join(root, rel), encoding='utf-8', errors='replace') as f:
            for n, line in enumerate(f, 1):
                m = pattern.search(line)
                if not m or m.group(1).startswith('capnp/'):
                    continue
                target = folder_of(m.group(1), folders)
                if target is None:
                    errors.append(f'{rel}:{n}: includes "{m.group(1)}", which is in no folder of the table')
                elif target != src and target not in allowed[src]:
                    errors.append(f'{rel}:{n}: {src}/ may not include {target}/ ("{m.group(1)}"); '
                                  f'allowed: {", ".join(sorted(allowed[src])) or "nothing else"}')
    return errors


def check_api_closure(root):
    """Headers reachable from api/*.h include no transport, schema or logging library."""
    errors = []
    queue = sorted(f'api/{f}' for f in os.listdir(os.path.join(root, 'api')) if f.endswith('.h'))
    seen = set()
    while queue:
        rel = queue.pop(0)
        if rel in seen or not os.path.exists(os.path.join(root, rel)):
            continue
        seen.add(rel)
        with open(os.path.join(root, rel), encoding='utf-8') as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if m:
                    queue.append(m.group(1))
                    continue
                m = SYSTEM_INCLUDE.match(line)
                if m and FORBIDDEN_IN_API.match(m.group(1)):
                    errors.append(f'{rel}:{n}: installed for job authors (reached from api/), '
                                  f'but includes <{m.group(1)}>')
    return errors


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), '..', '..'))
    allowed = read_rule(root)
    for folder, targets in allowed.items():
        for t in targets:
            if t not in allowed:
                sys.exit(f'docs/architecture.md: {folder}/ may include {t}/, which has no row')
    errors = check_layers(root, allowed) + check_api_closure(root)
    for e in errors:
        print(e)
    if errors:
        print(f'layering: {len(errors)} violation(s)')
        return 1
    print(f'layering: {len(allowed)} folders, every include allowed')
    return 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""The program pictures as XML (ctest stage_dag_svg_xml): runs program_page_fixture (the
PageRank-like and hostile programs of tests/scheduler/program_fixture.h) and checks that every SVG,
standalone or inside the job page, parses with xml.etree; that the DAG has a box per stage and a
labelled arrow per edge, no two boxes overlap, every arrow starts at its producer's box and ends at
its stage's box and crosses no other box (also for 60 random DAGs); that hostile text stays text.

Usage: stage_dag_svg_test.py PATH/TO/program_page_fixture
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def parse(text, where):
    try:
        return ET.fromstring(text)
    except ET.ParseError as e:
        raise Fail(f"{where}: not well-formed XML: {e}")


def svgs_in_html(html):
    """The top-level <svg> elements of a page (they nest <svg> inside, so count depth)."""
    out, depth, start = [], 0, 0
    for m in re.finditer(r"<svg\b|</svg>", html):
        if m.group(0) == "</svg>":
            depth -= 1
            if depth == 0:
                out.append(html[start:m.end()])
        else:
            if depth == 0:
                start = m.start()
            depth += 1
    return out


def boxes(root):
    """{name: (x, y, w, h)} of stage boxes and input nodes; keys of the stages."""
    out, inputs = {}, []
    for g in root.iter(NS + "g"):
        cls = g.get("class")
        if cls == "stage":
            s = next(g.iter(NS + "svg"))
            out[g.get("data-key")] = tuple(int(s.get(k)) for k in ("x", "y", "width", "height"))
        elif cls == "input":
            r = g.find(NS + "rect")
            inputs.append(tuple(int(r.get(k)) for k in ("x", "y", "width", "height")))
    return out, inputs


def path_points(d):
    """Points of an SVG path of M, H and V commands only."""
    pts, x, y = [], 0, 0
    for cmd, a, b in re.findall(r"([MHV])\s*(-?\d+)(?:,(-?\d+))?", d):
        if cmd == "M":
            x, y = int(a), int(b)
        elif cmd == "H":
            x = int(a)
        else:
            y = int(a)
        pts.append((x, y))
    return pts


def crosses(seg, box):
    """Whether an axis-parallel segment enters the inside of a box (touching an edge is not)."""
    (x1, y1), (x2, y2) = seg
    bx, by, bw, bh = box
    lo_x, hi_x, lo_y, hi_y = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
    return lo_x < bx + bw and hi_x > bx and lo_y < by + bh and hi_y > by


def norm(text):
    """A text as the pictures carry it: control characters (and, in attributes, tabs and
    newlines) read back as spaces."""
    return re.sub(r"[\x00-\x1f\x7f]", " ", text)


def check_dag(root, stages, max_width):
    check(root.tag == NS + "svg" and root.get("class") == "stage-dag", "the DAG is an <svg class=stage-dag>")
    check(int(root.get("width")) <= max_width, f"width {root.get('width')} > {max_width}")
    stage_boxes, input_boxes = boxes(root)
    count = sum(1 for g in root.iter(NS + "g") if g.get("class") == "stage")
    check(count == len(stages) and set(stage_boxes) == {norm(s["key"]) for s in stages},
          f"one box per stage: {list(stage_boxes)}")
    all_boxes = list(stage_boxes.values()) + input_boxes
    for i, a in enumerate(all_boxes):
        for b in all_boxes[i + 1:]:
            apart = a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]
            check(apart, f"boxes {a} and {b} overlap")
    want = sorted((norm(e["from"]), norm(s["key"]), norm(e["kind"])) for s in stages for e in s["inputs"])
    got, tips = [], []
    for g in root.iter(NS + "g"):
        if g.get("class") != "edge":
            continue
        frm, to, kind = g.get("data-from"), g.get("data-to"), g.get("data-kind")
        got.append((frm, to, kind))
        pts = path_points(g.find(NS + "path").get("d"))
        tip = [tuple(map(int, p.split(","))) for p in g.find(NS + "polygon").get("points").split()][0]
        tips.append((frm, to, kind, tip))
        tx, ty, tw, th = stage_boxes[to]
        check(tip[0] == tx and ty < tip[1] < ty + th, f"edge {frm}->{to} ends at its stage's left side")
        check(pts[-1][1] == tip[1] and 0 < tip[0] - pts[-1][0] <= 8, f"edge {frm}->{to} runs into its arrowhead")
        src = [b for b in ([stage_boxes[frm]] if frm else input_boxes) if b[0] + b[2] == pts[0][0]
               and b[1] < pts[0][1] < b[1] + b[3]]
        check(src, f"edge {frm}->{to} starts at its producer's right side: {pts[0]}")
        for seg in zip(pts, pts[1:]):
            for b in all_boxes:
                check(not crosses(seg, b), f"edge {frm}->{to}: segment {seg} crosses box {b}")
    check(sorted(got) == want, f"one arrow per edge: {sorted(set(want) ^ set(got))}")
    # A label per arrow, reading its kind, just before its arrowhead.
    labels = sorted((t.get("data-from"), t.get("data-to"), t.get("data-kind"), int(t.get("x")) + 10,
                     int(t.get("y")) + 3, t.text) for t in root.iter(NS + "text") if t.get("class") == "edge-label")
    check(len(labels) == len(tips), f"a label per arrow: {len(labels)} labels, {len(tips)} arrows")
    for (frm, to, kind, tip), label in zip(sorted(tips), labels):
        check(label[:5] == (frm, to, kind) + tip and (label[5] == kind or label[5].endswith("\u2026")),
              f"edge {frm}->{to} is labelled {kind} at its arrowhead {tip}: {label}")
    return stage_boxes


def random_programs(count, seed):
    """DAGs of every shape the layout must route: several producers per stage, stacks of
    independent stages, long edges back over many rows, loop iterations, program inputs anywhere."""
    rng = random.Random(seed)
    programs = []
    for _ in range(count):
        stages = []
        for k in range(rng.randint(1, 40)):
            inputs = []
            for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3])):
                frm = rng.choice([""] + [s["key"] for s in stages]) if stages else ""
                inputs.append({"from": frm, "kind": rng.choice(["shuffle", "broadcast", "read"])})
            key = f"s{k}" if rng.random() < 0.7 else f"t-i{k}"
            stages.append({"key": key, "job_id": f"job-{k}", "state": rng.choice(["running", "succeeded", "waiting"]),
                           "operators": ["Map"], "inputs": inputs, "maps": 2, "maps_done": 1})
        programs.append(stages)
    return programs


def main():
    fixture = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        programs = random_programs(60, 19)
        files = []
        for k, stages in enumerate(programs):
            files.append(os.path.join(d, f"stages{k}.json"))
            with open(files[-1], "w") as f:
                json.dump(stages, f)
        subprocess.run([fixture, d] + files, check=True)
        for k, stages in enumerate(programs):
            with open(os.path.join(d, f"{k}.svg"), encoding="utf-8") as f:
                check_dag(parse(f.read(), f"random program {k}"), stages, 1280)
        # Pages escape with HtmlEscape, which keeps bytes as they are; the pictures must be UTF-8.
        read = lambda name: open(os.path.join(d, name), encoding="utf-8",
                                 errors="replace" if name.endswith(".html") else "strict").read()
        program = json.loads(read("program.json"))
        stages = program["stages"]
        check(len(stages) == 25, f"the PageRank fixture has 25 stages, not {len(stages)}")

        dag = check_dag(parse(read("dag.svg"), "dag.svg"), stages, 1280)
        rows = sorted({y for _, y, _, _ in dag.values()})
        check(len(rows) >= 3, f"a long program wraps into rows: {rows}")

        page = read("program.html")
        inline = svgs_in_html(page)
        check(len(inline) == 1 + len(stages), f"the page holds the DAG and a timeline per stage: {len(inline)}")
        check_dag(parse(inline[0], "program.html DAG"), stages, 1280)
        for k, svg in enumerate(inline[1:]):
            root = parse(svg, f"program.html timeline {k}")
            bars = [g for g in root.iter(NS + "g") if (g.get("class") or "").startswith("attempt ")]
            check(len(bars) == len(stages[k]["attempts"]), f"timeline of {stages[k]['key']}: a row per attempt")
        timeline = parse(read("timeline.svg"), "timeline.svg")
        ticks = [t.text for t in timeline.iter(NS + "text") if t.text and t.text.endswith(" s")]
        check(len(ticks) >= 3, f"the time axis is labelled: {ticks}")

        hostile = json.loads(read("hostile.json"))
        for name in ("hostile.svg", "hostile_timeline.svg"):
            root = parse(read(name), name)
            for el in root.iter():
                tag = el.tag.replace(NS, "")
                check(tag in ("svg", "g", "rect", "text", "title", "path", "polygon", "line", "a"),
                      f"{name}: hostile text made an element <{tag}>")
                check(not any(a.startswith("on") for a in el.attrib), f"{name}: an event attribute on <{tag}>")
        root = parse(read("hostile.svg"), "hostile.svg")
        check_dag(root, hostile["stages"], 1280)
        titles = "".join(t.text or "" for t in root.iter(NS + "title"))
        check("<script>alert(\"k\")</script>&'" in titles and "</text><svg onload=alert(1)>" in titles,
              f"hostile names read back as text: {titles!r}")
        for html in ("hostile.html", "index.html"):
            for k, svg in enumerate(svgs_in_html(read(html))):
                parse(svg, f"{html} svg {k}")
    print("stage_dag_svg_test: ok")


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)

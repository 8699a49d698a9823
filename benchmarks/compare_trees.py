"""Run one benchmark script from two trees, alternately, and compare the figures it prints.

    python benchmarks/compare_trees.py --before /tmp/th/before --after . --rounds 3 -- \\
        benchmarks/render_speed.py --runs 5 --frames 60

The script (a path relative to each tree's root) runs with each tree's own
``.venv/bin/python`` (``--before-python`` / ``--after-python`` to change), in
that tree's root, ``--rounds`` times each, in ABBA order (before, after; after,
before; ...) so drift on the machine falls on both sides alike. Figures: each
number in the markdown tables the script prints (``| stage | ms | ... |``,
named by the row's leading text cells and the column's header; an ``a / b``
cell under an ``x / y`` header gives two), or each number of its stdout
when that is JSON, and each run's wall time. Printed: median before, median
after, after / before, and each side's spread ((max - min) / median).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table_figures(text: str) -> dict[str, float]:
    """Numbers in markdown tables: ``row label: column`` -> value (later tables override earlier names)."""
    figures: dict[str, float] = {}
    header: list[str] | None = None
    lines = text.splitlines()
    for k, line in enumerate(lines):
        if not line.lstrip().startswith("|"):
            header = None
        elif k + 1 < len(lines) and re.fullmatch(r"\s*\|[\s|:-]+\|\s*", lines[k + 1]):
            header = cells(line)
        elif header is not None and not re.fullmatch(r"\s*\|[\s|:-]+\|\s*", line):
            row = cells(line)
            first = next((i for i, cell in enumerate(row) if re.fullmatch(NUMBER, cell)), len(row))
            label = " · ".join(row[:first])
            for column, cell in zip(header[first:], row[first:]):
                names, values = column.split(" / "), cell.split(" / ")
                if len(names) != len(values) or not all(re.fullmatch(NUMBER, v) for v in values):
                    continue
                for name, value in zip(names, values):
                    figures[f"{label}: {name}"] = float(value)
    return figures


def json_figures(value: object, path: str = "") -> dict[str, float]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in json_figures(item, f"{path}.{key}".lstrip(".")).items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in json_figures(item, f"{path}[{i}]").items()}
    return {path: float(value)} if isinstance(value, (int, float)) and not isinstance(value, bool) else {}


def run(python: Path, tree: Path, script: str, args: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    done = subprocess.run([str(python), str(tree / script), *args], cwd=tree, capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{python} {script} in {tree} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    try:
        figures = json_figures(json.loads(done.stdout))
    except json.JSONDecodeError:
        figures = table_figures(done.stdout)
    return {**figures, "(wall s)": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="tree before (its root)")
    parser.add_argument("--after", type=Path, required=True, help="tree after (its root)")
    parser.add_argument("--before-python", type=Path, default=None, help="default: BEFORE/.venv/bin/python")
    parser.add_argument("--after-python", type=Path, default=None, help="default: AFTER/.venv/bin/python")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("script", help="the benchmark, relative to each tree's root")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments (after --)")
    args = parser.parse_args()
    sides = {"before": (args.before_python or args.before / ".venv" / "bin" / "python", args.before.resolve()),
             "after": (args.after_python or args.after / ".venv" / "bin" / "python", args.after.resolve())}
    results: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for round_ in range(args.rounds):
        for side in ("before", "after") if round_ % 2 == 0 else ("after", "before"):
            python, tree = sides[side]
            results[side].append(run(python, tree, args.script, args.args))
            wall = results[side][-1]["(wall s)"]
            print(f"round {round_ + 1}/{args.rounds} {side}: {wall:.0f} s", file=sys.stderr, flush=True)
    names = list(dict.fromkeys(name for side in ("before", "after") for r in results[side] for name in r))
    print(f"{args.script} {' '.join(args.args)}: {args.rounds} round(s); {args.before} -> {args.after}")
    print("| figure | median before | median after | after / before | spread before | spread after |")
    print("|---|---|---|---|---|---|")
    for name in names:
        values = {side: [r[name] for r in results[side] if name in r] for side in results}
        if not values["before"] or not values["after"]:
            print(f"| {name} | {values['before'] or '-'} | {values['after'] or '-'} | missing | | |")
            continue
        median = {side: statistics.median(v) for side, v in values.items()}
        spread = {side: f"{(max(v) - min(v)) / median[side]:.1%}" if median[side] else "-" for side, v in values.items()}
        ratio = f"{median['after'] / median['before']:.3f}" if median["before"] else "-"
        print(f"| {name} | {median['before']:.4g} | {median['after']:.4g} | {ratio} | {spread['before']} | "
              f"{spread['after']} |")


if __name__ == "__main__":
    main()

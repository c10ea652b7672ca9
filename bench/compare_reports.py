"""Compare two report output directories (``kpi report --all --out A`` and ``--out B``).

Reports are matched by name (the period folder may differ, e.g. the forecast's date). The HTML
must be identical once the generation time and the plan's solve time are masked; the chart
specs (Vega-Lite JSON) are compared value by value, floats to 1e-9 relative, and last-digit
float differences are counted apart (polars' parallel float sums are not bit-reproducible from
run to run: two runs of the same code differ so).

    .venv/bin/python bench/compare_reports.py reports-before reports-after

Exits 1 when a report differs beyond that.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

SPEC = re.compile(
    r'(<script id="kpi-chart-\d+-spec" type="application/json">)(.*?)(</script>)', re.S
)


def _masked(text: str) -> str:
    text = re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "<TIME>", text)
    text = re.sub(r"solved in [\d.]+ s", "solved in <S> s", text)
    text = re.sub(r'"generated(_text)?":"[^"]*"', '"generated":"<T>"', text)
    return re.sub(r'"duration_s":[\d.]+', '"duration_s":0', text)


def _walk(a: Any, b: Any, path: str, real: list, ulp: list) -> None:
    if (
        isinstance(a, (int, float))
        and isinstance(b, (int, float))
        and (isinstance(a, float) or isinstance(b, float))
    ):
        if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
            real.append((path, a, b))
        elif a != b:
            ulp.append((path, a, b))
    elif type(a) is not type(b):
        real.append((path, a, b))
    elif isinstance(a, dict):
        if list(a) != list(b):
            real.append((path, sorted(a), sorted(b)))
        for k in a:
            if k in b:
                _walk(a[k], b[k], f"{path}/{k}", real, ulp)
    elif isinstance(a, list):
        if len(a) != len(b):
            real.append((path, len(a), len(b)))
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _walk(x, y, f"{path}[{i}]", real, ulp)
    elif a != b:
        real.append((path, a, b))


def compare(a: Path, b: Path) -> int:
    """Print one line per report; the number of reports that differ."""
    bad = 0
    for fa in sorted(a.glob("*/*/*.html")):
        found = sorted((b / fa.parent.parent.name).glob("*/*.html"))
        if not found:
            print(f"missing in {b}: {fa.parent.parent.name}")
            bad += 1
            continue
        ta, tb = _masked(fa.read_text()), _masked(found[0].read_text())
        name = fa.parent.parent.name
        if ta == tb:
            print(f"identical  {name}")
            continue
        specs_a = {m.group(1): m.group(2) for m in SPEC.finditer(ta)}
        specs_b = [m.group(2) for m in SPEC.finditer(tb)]
        real: list = []
        ulp: list = []
        if SPEC.sub(r"\1\3", ta) != SPEC.sub(r"\1\3", tb):
            lines = difflib.unified_diff(
                SPEC.sub(r"\1\3", ta).split("<"), SPEC.sub(r"\1\3", tb).split("<"), n=0
            )
            real += [("text", line[:160]) for line in lines if line[:1] in "+-"][2:8]
        for (tag, spec), other in zip(specs_a.items(), specs_b, strict=False):
            _walk(json.loads(spec), json.loads(other), tag, real, ulp)
        if real:
            bad += 1
            print(f"DIFFERS    {name}: {real[:4]}")
        else:
            print(f"same       {name} ({len(ulp)} chart values differ in the last digits only)")
    return bad


if __name__ == "__main__":
    sys.exit(1 if compare(Path(sys.argv[1]), Path(sys.argv[2])) else 0)

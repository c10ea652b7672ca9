"""The package's shape, checked: no import circles, no reaching into another module's private
names, no module too long to read, and the layers of ``docs/architecture.md``.

Every ``import`` in ``kpi/`` counts, including those inside functions and under
``TYPE_CHECKING``: a deferred import hides a circle from Python, not from a reader.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kpi"
#: Longest module, in lines. Exempt: the two declarations-as-data modules, the KPI catalogue (one
#: declaration per KPI) and the data model (one declaration per table), each still under 1,300.
MAX_LINES = 800
LONG_OK = {"kpi.metrics._catalogue", "kpi.schema"}
LONG_OK_MAX = 1300


@dataclass(frozen=True)
class Import:
    importer: str  # module name
    target: str  # module imported
    name: str | None  # the name taken from it (``from target import name``), if any
    line: int


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_pkg = MODULES[importer].name == "__init__.py"
    base = importer.split(".")
    base = base if is_pkg else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(module: str) -> Iterator[Import]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    aliases: dict[str, str] = {}  # local name -> kpi module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "kpi":
                    yield Import(module, a.name, None, node.lineno)
                    aliases[a.asname or a.name.split(".")[0]] = (a.asname and a.name) or "kpi"
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            if base.split(".")[0] != "kpi":
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                if sub in MODULES:  # ``from kpi import compute``: the module itself
                    yield Import(module, sub, None, node.lineno)
                    aliases[a.asname or a.name] = sub
                else:
                    yield Import(module, base, a.name, node.lineno)
    # attribute access through a module alias: ``compute._TIME`` after ``from kpi import compute``
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            target = aliases[node.value.id]
            sub = f"{target}.{node.attr}"
            if sub in MODULES:
                yield Import(module, sub, None, node.lineno)
            else:
                yield Import(module, target, node.attr, node.lineno)


IMPORTS = [imp for m in MODULES for imp in _imports(m)]


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in IMPORTS:
        if imp.target in MODULES and imp.target != imp.importer:
            graph[imp.importer].add(imp.target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _private_owner(path: list[str]) -> str | None:
    """The scope a dotted path is private to: the container of its first ``_name`` part."""
    for i, part in enumerate(path[1:], start=1):
        if part.startswith("_") and not (part.startswith("__") and part.endswith("__")):
            return ".".join(path[:i])
    return None


def _within(module: str, scope: str) -> bool:
    return module == scope or module.startswith(scope + ".")


def test_modules_found():
    assert "kpi.compute" in MODULES
    assert len(IMPORTS) > 100


def test_no_import_cycles():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_private_imports_across_modules():
    bad = []
    for imp in IMPORTS:
        path = imp.target.split(".") + ([imp.name] if imp.name else [])
        owner = _private_owner(path)
        if owner is not None and not _within(imp.importer, owner):
            bad.append(f"{imp.importer}:{imp.line} uses {'.'.join(path)} (private to {owner})")
    assert not bad, "private names used outside their module or package:\n" + "\n".join(bad)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_length(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    limit = LONG_OK_MAX if module in LONG_OK else MAX_LINES
    assert lines <= limit, f"{MODULES[module].relative_to(ROOT)} has {lines} lines"


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_private_owner_rule():
    assert _private_owner(["kpi", "compute", "_TIME"]) == "kpi.compute"
    assert _private_owner(["kpi", "_fs"]) == "kpi"  # a private module of kpi: any kpi module
    assert _private_owner(["kpi", "io", "_mapping", "Mapping"]) == "kpi.io"
    assert _private_owner(["kpi", "__version__"]) is None
    assert _within("kpi.io._run", "kpi.io")
    assert not _within("kpi.iox", "kpi.io")


# ---- layers: docs/architecture.md draws these ------------------------------------------------

#: Floors from the bottom up; a module may import its own floor and the floors below, never above.
#: The first matching prefix places a module (``kpi.metrics`` covers ``kpi.metrics._catalogue``).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",
        (
            "kpi.errors",
            "kpi._allocator",
            "kpi._progress",
            "kpi._fs",
            "kpi._format",
            "kpi._mask",
            "kpi._sanitize",
            "kpi.schema",
            "kpi.periods",
            "kpi.data",
        ),
    ),
    ("semantic layer", ("kpi.metrics",)),
    ("engine", ("kpi.engines", "kpi.cube", "kpi.compute", "kpi.targets", "kpi")),
    ("data in", ("kpi.io", "kpi._sim", "kpi.samples")),
    (
        "analysis",
        (
            "kpi._erlang",
            "kpi.staffing",
            "kpi._rca_search",
            "kpi.rca",
            "kpi.trends",
            "kpi.scorecard",
            "kpi.explain",
            "kpi.forecast",
            "kpi.schedule",
        ),
    ),
    ("charts", ("kpi._vega", "kpi.charts")),
    ("views", ("kpi.views",)),
    ("rooms", ("kpi.widgets", "kpi.report")),
    ("commands", ("kpi.cli", "kpi.__main__")),
)


def layer_of(module: str) -> int:
    """The floor of ``module`` (index into LAYERS); the longest matching prefix wins."""
    best, best_len = None, -1
    for rank, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            hit = module == p if p == "kpi" else _within(module, p)  # the root: itself only
            if hit and len(p) > best_len:
                best, best_len = rank, len(p)
    if best is None:
        raise LookupError(f"{module} is on no floor: add it to LAYERS and docs/architecture.md")
    return best


def test_every_module_has_a_floor():
    for m in MODULES:
        layer_of(m)


def test_imports_go_downward():
    bad: list[str] = []
    for imp in IMPORTS:
        if imp.target not in MODULES or imp.target == imp.importer:
            continue
        if layer_of(imp.target) > layer_of(imp.importer):
            bad.append(
                f"{imp.importer}:{imp.line} ({LAYERS[layer_of(imp.importer)][0]}) imports "
                f"{imp.target} ({LAYERS[layer_of(imp.target)][0]})"
            )
    assert not bad, "imports that go up a floor:\n" + "\n".join(dict.fromkeys(bad))


def test_architecture_doc_names_every_floor():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name, prefixes in LAYERS:
        assert name in doc, f"docs/architecture.md does not name the floor {name!r}"
        for p in prefixes:
            assert f"`{p}" in doc, f"docs/architecture.md does not place {p}"

"""Where a cube lives, what it was built from (its key), and reading and clearing it.

A cube of the dataset directory ``DIR`` is kept in ``DIR/.kpi-cube/`` (or, when ``DIR`` cannot
be written, in ``$XDG_CACHE_HOME/kpi-workbench/cube/<hash of DIR>/``; ``KPI_CUBE_DIR`` moves
that cache). ``cube.json`` names the Parquet files of the current build and the key they were
built from; it is written last, atomically (:func:`kpi._fs.write_json`), so a reader sees the
old cube or the new one, never a mix.

The key is the data's identity as the file system tells it, cheap to read on every query: the
``dataset.json`` stamp (inode, mtime, size: every switch of a dataset directory replaces it),
each table file's size and mtime, the cube format and the polars version. A changed
definition of a row measure changes its stored signature (:func:`kpi.cube._build.signature`),
so it is read from the rows; a changed builder (FCR) needs :data:`FORMAT` raised. A cube whose key differs from the data's is stale: never
used, rebuilt on request.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from kpi._fs import write_json
from kpi.schema import TABLES

__all__ = [
    "FORMAT",
    "LOCK",
    "cube_dir",
    "data_key",
    "locked",
    "plan_fingerprint",
    "read_meta",
    "remove",
    "write_meta",
]

#: Version of the cube's layout; a cube of another format is stale.
#: 5: the customer sets (contacts per customer); 6: customers counted from first contacts, sets
#: by day only; 7: the queue sweep by agent per day; 8: the queue sweep by pairs of
#: dimensions and the busiest hour by topic with another dimension, per day; 9: days by agent
#: alone; 10: built in parts (``parts``, ``pending``), customers counted by pairs of
#: dimensions; 11: the bit sets (agents) a part of their own, files named by what they hold.
#: A cube of an earlier format is stale and rebuilt.
FORMAT = 11
DIR_NAME = ".kpi-cube"
META = "cube.json"
CACHE_ENV = "KPI_CUBE_DIR"


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK | os.X_OK)


def cache_root() -> Path:
    """The cache directory for cubes of read-only datasets."""
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kpi-workbench" / "cube"


def cube_dir(data_dir: Path) -> Path:
    """The cube directory of a dataset directory (next to the data when it can be written)."""
    data_dir = Path(data_dir).resolve()
    here = data_dir / DIR_NAME
    if here.exists() or _writable(data_dir):
        return here
    return cache_root() / hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]


def data_key(data_dir: Path) -> str:
    """The data's identity: ``dataset.json`` stamp, table files' sizes and mtimes, versions."""
    root = Path(data_dir)
    parts: list[Any] = [FORMAT, pl.__version__]
    for name in ("dataset.json", *(f"{t}.parquet" for t in TABLES)):
        try:
            st = (root / name).stat()
        except FileNotFoundError:
            continue
        parts.append((name, st.st_ino, st.st_size, st.st_mtime_ns))
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def plan_fingerprint(lf: pl.LazyFrame) -> str:
    """A hash of a table's query plan: a dataset whose tables were filtered or swapped
    (``Dataset.replace``, ``restrict``, chunks) keeps its ``path`` but not its plans."""
    return hashlib.sha256(lf.serialize()).hexdigest()[:24]


def read_meta(where: Path) -> dict[str, Any] | None:
    """``cube.json`` of a cube directory, or None when there is none (or it is unreadable)."""
    try:
        meta = json.loads((where / META).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == FORMAT else None


def write_meta(where: Path, meta: dict[str, Any]) -> None:
    """Publish ``cube.json`` (last, atomically), then remove files no longer named by it."""
    write_json(where / META, meta)
    keep = {META, *(f for lv in meta["levels"] for f in lv["files"])}
    for p in where.iterdir():
        if p.name not in keep and p.suffix == ".parquet":
            p.unlink(missing_ok=True)


LOCK = ".lock"


@contextlib.contextmanager
def locked(where: Path) -> Iterator[None]:
    """Hold the cube directory's lock (``.lock``, made with the directory) for the block: one
    build or completion at a time, across processes, so that neither publishes a
    ``cube.json`` that drops the other's files. A no-op where ``fcntl`` is missing (Windows)."""
    where.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(where / LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def remove(where: Path) -> bool:
    """Delete a cube directory; True if there was one."""
    if not where.exists():
        return False
    shutil.rmtree(where)
    return True

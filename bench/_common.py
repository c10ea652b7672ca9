"""Shared by the bench scripts: the machine a benchmark ran on and its generated contacts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["cpu_model", "ensure_data", "label", "memory_gib"]

HERE = Path(__file__).resolve().parent


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("unknown CPU" elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def memory_gib() -> float:
    """Physical memory in GiB."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def label(rows: int) -> str:
    """``1000000`` -> ``1m``, ``20000`` -> ``20k``."""
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}m"
    if rows % 1000 == 0:
        return f"{rows // 1000}k"
    return str(rows)


def ensure_data(rows: int, data_dir: Path, *, log: Callable[[str], None]) -> Path:
    """The dataset directory of ``rows`` contacts from ``_contacts_gen.py``, made once."""
    path = data_dir / f"contacts_{label(rows)}"
    if not (path / "contacts.parquet").exists():
        log(f"generating {rows:,} contacts in {path}")
        gen = [sys.executable, str(HERE / "_contacts_gen.py"), str(rows), str(path)]
        subprocess.run(gen, check=True)
    return path

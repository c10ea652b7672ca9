"""Memory freed by polars is kept for reuse a while before it goes back to the system.

polars allocates with jemalloc and sets it to hand freed pages back to the system after 0.5 s
(dirty) and 1 s (muzzy). Work such as a cube build frees and allocates hundreds of megabytes a
second, so pages handed back are soon asked for again, and each fresh page costs a page fault
and zeroing by the kernel (and by the hypervisor on a virtual machine): on a 2-core virtual
machine a 10 million contact build spent 13-17 of its 60-65 CPU seconds there. Kept 30 s, the
build takes 10-13 % less time and CPU, for 15-20 % more peak memory (``bench/RESULTS.md``).

jemalloc reads ``_RJEM_MALLOC_CONF`` once, when polars is loaded (polars puts a value already
set after its own, and the last one read wins), so this module is imported before anything
else in :mod:`kpi`; it changes nothing when polars was imported first (as in a notebook that
imports polars before kpi) or when the variable is already set, which lets a user choose
otherwise (``_RJEM_MALLOC_CONF=dirty_decay_ms:500,muzzy_decay_ms:1000`` keeps polars' own).

A ``kpi compute --chunk`` process keeps polars' own setting: chunks are for data larger than
memory, and freed pages kept 30 s add up over chunks of a few seconds each (the NYC tickets,
every KPI by team and quarter hour in yearly chunks: peak 7.9 GB kept, 3.5 GB polars' way).
"""

from __future__ import annotations

import os
import sys

__all__ = ["ALLOCATOR"]

#: jemalloc's decay of freed pages (dirty, then muzzy), in milliseconds.
ALLOCATOR = "dirty_decay_ms:30000,muzzy_decay_ms:30000"


def _chunked_command(argv: list[str]) -> bool:
    """Whether ``argv`` is ``kpi [--debug] compute ... --chunk GRAIN`` (or ``python -m kpi``),
    ``--chunk`` possibly abbreviated as argparse allows (``--chun 1y``, ``--ch=1y``).

    Examples
    --------
    >>> _chunked_command(["/venv/bin/kpi", "compute", "--data", "d", "--chunk=1y"])
    True
    >>> _chunked_command(["-m", "--debug", "compute", "--chun", "1mo"])
    True
    >>> _chunked_command(["kpi", "compute"]), _chunked_command(["kpi", "cube", "--chunk", "1y"])
    (False, False)
    """
    program = os.path.basename(argv[0]) if argv else ""
    words = [a for a in argv[1:] if not a.startswith("-")]
    return (
        program in ("kpi", "-m", "__main__.py")
        and words[:1] == ["compute"]
        and any(len(o := a.split("=")[0]) >= 3 and "--chunk".startswith(o) for a in argv)
    )


if "polars" not in sys.modules and not _chunked_command(sys.argv):
    os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR)

"""A chunked result on disk: each chunk's rows written as it is computed, read back in the
whole result's order a batch at a time, so no step holds the whole result."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import polars as pl

from kpi.errors import KpiError

__all__ = ["Spill"]

#: A spill smaller than this in memory is read back whole and sorted, as fast as it comes.
IN_MEMORY_BYTES = 256 << 20

#: The size of a batch read back from a larger spill (it is held twice: read, then ordered).
BATCH_BYTES = 256 << 20


class Spill:
    """Chunk results written to Parquet files in ``directory``, read back in order.

    The chunks partition time: each holds whole bins, later than the chunk before. Each part
    is sorted by ``by`` then ``period``, so the whole result, sorted the same way, is for each
    group (``by`` values, in sort order) that group's rows in part 1, then in part 2, and so
    on: a run of rows from each part in turn. A batch is a window of consecutive runs: from
    each part, the next rows its runs in the window hold (one read of a Parquet slice), put in
    the window's order by one gather. Each part is read front to back, once; a batch holds
    about ``rows`` rows twice (read, then gathered), and a run longer than ``rows`` is a batch
    of its own (a run is at most one chunk's rows of one group). A read costs about 2.5 ms
    besides its rows, so a batch is large (:data:`BATCH_BYTES`): with many parts, reads are
    batches times parts.

    Parameters
    ----------
    by
        The group columns (the sort keys before ``period``).
    directory
        An empty directory the caller owns (and removes).
    parts
        How many parts will be added: their row groups are a batch's rows over ``parts`` (1,024
        to 65,536), so that a batch's slice of each part decodes about one row group.
    row_group
        Rows per row group instead (tests).

    Examples
    --------
    >>> import tempfile
    >>> spill = Spill(["team"], Path(tempfile.mkdtemp()), parts=2)
    >>> spill.add(pl.DataFrame({"team": ["A", "B"], "period": [1, 1], "n": [1.0, 2.5]}))
    >>> spill.add(pl.DataFrame({"team": ["A", "C"], "period": [2, 2], "n": [3.0, 4.0]}))
    >>> pl.concat(spill.batches()).rows()
    [('A', 1, 1.0), ('A', 2, 3.0), ('B', 1, 2.5), ('C', 2, 4.0)]
    >>> pl.concat(spill.batches(rows=2, in_memory_bytes=0)).equals(pl.concat(spill.batches()))
    True
    >>> spill.height, spill.whole(["n"])
    (4, [])
    """

    def __init__(
        self, by: Iterable[str], directory: Path, *, parts: int, row_group: int | None = None
    ) -> None:
        self.by = list(by)
        self.directory = Path(directory)
        self.height = 0
        self.size_bytes = 0
        self._parts = max(parts, 1)
        self._row_group = row_group
        self._files: list[Path] = []
        self._runs: list[pl.DataFrame] = []
        self._fractional: set[str] = set()
        self._valued: set[str] = set()

    def add(self, part: pl.DataFrame) -> None:
        """Write the next chunk's rows (sorted by ``by`` then ``period``, as chunks are).

        Raises
        ------
        KpiError
            The file could not be written (a full disk): names the directory and its free
            space, and ``TMPDIR``, which chooses it.
        """
        index = len(self._files)
        path = self.directory / f"part-{index:05d}.parquet"
        row_bytes = _row_bytes(part)
        if self._row_group is None and part.height:
            rows = _batch_rows(row_bytes)
            self._row_group = min(65536, max(1024, rows // self._parts))
        try:
            part.write_parquet(path, row_group_size=self._row_group, statistics=False)
        except (OSError, pl.exceptions.PolarsError) as exc:
            free = shutil.disk_usage(self.directory).free / 2**20
            raise KpiError(
                f"cannot write chunk {index + 1}'s rows to the temporary directory "
                f"{self.directory} ({free:.0f} MiB free): {exc}; set TMPDIR to a directory "
                "with room for the result"
            ) from exc
        self._files.append(path)
        self.height += part.height
        self.size_bytes += int(row_bytes * part.height)
        self._valued.update(c for c in part.columns if part[c].null_count() < part.height)
        for name, dtype in part.schema.items():
            if dtype.is_float() and name not in self._fractional:
                values = part[name].drop_nulls()
                if not bool((values % 1 == 0).all()):
                    self._fractional.add(name)
        if self.by:
            runs = part.group_by(self.by, maintain_order=True).len("_len")
        else:
            runs = pl.DataFrame({"_len": [part.height]}, schema={"_len": pl.UInt32})
        self._runs.append(runs.with_columns(pl.lit(index, pl.UInt32).alias("_part")))

    def whole(self, columns: Iterable[str]) -> list[str]:
        """Those of ``columns`` whose values, nulls aside, are all whole numbers."""
        return [c for c in columns if c not in self._fractional]

    def empty(self, columns: Iterable[str]) -> list[str]:
        """Those of ``columns`` null in every row (none when there are no rows)."""
        return [c for c in columns if c not in self._valued] if self.height else []

    def batches(
        self, *, rows: int | None = None, in_memory_bytes: int = IN_MEMORY_BYTES
    ) -> Iterator[pl.DataFrame]:
        """The whole result in order (``by`` then ``period``), in frames of about ``rows``
        (default: :data:`BATCH_BYTES` of rows); at least one frame (empty when no part has
        rows) once a part was added.

        A spill under ``in_memory_bytes`` comes back as one frame, read whole and sorted.
        """
        if not self._files:
            return
        if self.size_bytes <= in_memory_bytes:
            yield self._sorted()
            return
        runs = pl.concat(self._runs, how="vertical_relaxed")
        if self.by:
            runs = runs.sort([*self.by, "_part"], nulls_last=True, maintain_order=True)
        lengths = runs["_len"].to_numpy().astype(np.int64)
        parts = runs["_part"].to_numpy().astype(np.int64)
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if len(ends) else 0
        rows = rows or _batch_rows(self.size_bytes / max(total, 1))
        if total == 0:
            yield pl.scan_parquet(self._files[0]).head(0).collect()
            return
        cuts = np.searchsorted(ends, np.arange(rows, total, rows), side="left") + 1
        bounds = [0, *np.unique(cuts[cuts < len(ends)]).tolist(), len(ends)]
        read = [0] * len(self._files)  # rows of each part read so far
        for lo, hi in itertools.pairwise(bounds):
            yield self._window(parts[lo:hi], lengths[lo:hi], read)

    def _window(self, parts: np.ndarray, lengths: np.ndarray, read: list[int]) -> pl.DataFrame:
        """The rows of consecutive runs (their parts and lengths), in the runs' order."""
        order = np.argsort(parts, kind="stable")  # the runs by part, in window order within
        frames = []
        for k in np.unique(parts).tolist():
            n = int(lengths[parts == k].sum())
            frames.append(pl.scan_parquet(self._files[k]).slice(read[k], n).collect())
            read[k] += n
        stacked = pl.concat(frames, rechunk=True)
        # where each run starts in ``stacked`` (runs of one part follow each other there)
        by_part = lengths[order]
        starts = np.empty_like(lengths)
        starts[order] = np.cumsum(by_part) - by_part
        out_starts = np.cumsum(lengths) - lengths
        index = np.repeat(starts - out_starts, lengths) + np.arange(int(lengths.sum()))
        return stacked[index]

    def _sorted(self) -> pl.DataFrame:
        """Every part read and sorted by ``by``, part by part within a group."""
        whole = pl.concat(
            [
                pl.read_parquet(f).with_columns(pl.lit(i, pl.UInt32).alias("_part"))
                for i, f in enumerate(self._files)
            ],
            how="vertical_relaxed",
        )
        if self.by:
            whole = whole.sort([*self.by, "_part"], nulls_last=True, maintain_order=True)
        return whole.drop("_part")


def _row_bytes(part: pl.DataFrame) -> float:
    """Bytes a row of ``part`` takes once read back from Parquet: 8 for a number or a time, 1
    for a boolean, else the column's own measure. ``estimated_size`` alone undercounts: a
    column of one repeated value (a KPI null throughout a chunk) is stored once in memory,
    but read back it takes its full width."""
    total = 0.0
    for name, dtype in part.schema.items():
        if dtype.is_numeric() or dtype.is_temporal():
            total += 8
        elif dtype == pl.Boolean:
            total += 1
        elif part.height:
            total += part.get_column(name).estimated_size() / part.height
    return total


def _batch_rows(row_bytes: float) -> int:
    """Rows of a batch of :data:`BATCH_BYTES` (at least 4,096)."""
    return max(4096, int(BATCH_BYTES / max(row_bytes, 1.0)))

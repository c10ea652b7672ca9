"""Chunked evaluation: :func:`kpi.compute.evaluate` chunk by chunk of whole bins, so the
streaming engine can take files larger than memory."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from polars.io.plugins import register_io_source

from kpi._fs import remove_anyway
from kpi._progress import reporter
from kpi.compute._context import Context
from kpi.compute._known import inherit_states
from kpi.compute._spill import Spill
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.metrics import Measure
from kpi.periods import check_grain
from kpi.schema import attribution_expr

__all__ = ["evaluate_chunked"]


def _chunk_plan(
    ctx: Context, chunk: str, lookahead: timedelta
) -> tuple[list[tuple[datetime | None, datetime | None]], Any]:
    """Chunk bounds (unions of whole bins) and the contacts a chunk must read, as a function.

    One small query: the bins of the range and, over contacts, how far a contact's queue exit
    or attribution time can lie after its arrival (``back``) and its queue entry or
    attribution time before it (``ahead``). They bound, by arrival time, the contacts a chunk
    needs, so a Parquet file sorted by arrival is read by row groups.
    """
    queries = [
        ctx.bins()
        .with_columns(pl.col("_bin").dt.truncate(chunk).alias("_chunk"))
        .group_by("_chunk")
        .agg(pl.col("_start").min(), pl.col("_end").max())
        .drop_nulls()
        .sort("_chunk")
    ]
    contacts = ctx.ds.tables.get("contacts")
    a, q = pl.col("arrival_ts"), pl.col("queue_ts")
    leave = q + pl.duration(microseconds=(pl.col("wait_s") * 1e6).cast(pl.Int64))
    placed = attribution_expr(ctx.attribution)
    if contacts is not None:
        queries.append(
            contacts.select(
                (pl.max_horizontal(leave, placed) - a).max().alias("back"),
                pl.max_horizontal(a - q, a - placed).max().alias("ahead"),
            )
        )
    found = pl.collect_all(queries)
    edges = list(found[0].select("_start", "_end").iter_rows())
    if contacts is None:
        return edges, None
    zero = timedelta(0)
    back, ahead = (max(v or zero, zero) for v in found[1].row(0))

    def needs(lo: datetime | None, hi: datetime | None) -> pl.Expr:
        def within(ts: pl.Expr, lo: datetime | None, hi: datetime | None) -> pl.Expr:
            cond = pl.lit(True)
            if lo is not None:
                cond = cond & (ts >= lo)
            if hi is not None:
                cond = cond & (ts < hi)
            return cond

        ahead_end = None if hi is None else hi + lookahead
        exact = (
            within(a, lo, ahead_end)  # in the chunk, or a later contact that decides FCR
            | within(placed, lo, hi)  # attributed to the chunk
            | within(q, None, hi) & within(leave, lo, None)  # in queue during the chunk
        )
        near = within(
            a, None if lo is None else lo - back, None if hi is None else hi + lookahead + ahead
        )
        # ``near`` is implied by ``exact``; it is stated on arrival alone so that Parquet
        # statistics can skip row groups of a file sorted by arrival
        return (a.is_null() | near) & exact.fill_null(False)

    return edges, needs


def _day(ts: datetime | None) -> str | None:
    return None if ts is None else ts.strftime("%Y-%m-%d %H:%M").removesuffix(" 00:00")


def evaluate_chunked(
    evaluate: Callable[..., Any],
    ds: Dataset,
    ctx: Context,
    needed: Mapping[str, Measure],
    chunk: str,
    *,
    progress: bool | Callable[[str], None],
    **kwargs: Any,
) -> Any:
    """``evaluate`` (:func:`kpi.compute.evaluate`) chunk by chunk of whole bins, the results
    concatenated (cast to the whole range's schema: a chunk may lack a measure's inputs).

    The frame is a deferred source (:func:`polars.io.plugins.register_io_source`): planning
    the chunks and collecting them one after another (streaming engine) happen when it is
    collected or sunk, so only one chunk's state is held at a time. Each chunk's rows go to a
    Parquet file in a temporary directory (:class:`Spill`) as it is done, and come back in
    order a batch at a time: ``frame.sink_parquet(...)`` never holds the whole result, and
    ``frame.collect()`` holds it once. ``Result.spill`` is the same run as a context manager
    giving the :class:`Spill` (the CLI writes from it). A union of the chunks' plans would
    let the engine run them together.
    """
    check_grain(chunk)
    if ctx.every is None:
        raise KpiError(
            "chunk needs every: chunks are unions of whole bins, and a value over the whole "
            "range (a distinct count, a maximum) cannot be put together from chunks"
        )
    lookahead = timedelta(days=max((m.lookahead_days for m in needed.values()), default=0))
    common = {
        "by": ctx.by,
        "every": ctx.every,
        "attribution": ctx.attribution,
        "bin_offset": ctx.offset,
        **kwargs,
    }
    whole = evaluate(ds, start=ctx.start, end=ctx.end, **common)
    schema = whole.frame.collect_schema()
    report = reporter(progress, "kpi compute") or (lambda msg: None)

    def spill(directory: Path) -> Spill:
        began = time.perf_counter()
        edges, needs = _chunk_plan(ctx, chunk, lookahead)
        report(f"{len(edges)} chunks of {chunk} planned in {time.perf_counter() - began:.1f} s")
        out = Spill(ctx.by, directory, parts=max(len(edges), 1))
        if not edges:  # no bins: the plain evaluation gives the (empty) frame
            out.add(whole.frame.collect(engine="streaming"))
            return out
        # the first and last chunks are open-ended like the whole range (events after the
        # last arrival, such as queue exits or completions, stay in)
        edges[0] = (ctx.start, edges[0][1])
        edges[-1] = (edges[-1][0], ctx.end)
        for i, (lo, hi) in enumerate(edges, 1):
            t = time.perf_counter()
            part = ds
            if needs is not None:
                part = ds.replace(contacts=ds.tables["contacts"].filter(needs(lo, hi)))
                part = inherit_states(part, ds)
            frame = evaluate(part, start=lo, end=hi, **common).frame
            rows = _like(frame.collect(engine="streaming"), schema)
            out.add(rows.sort(whole.keys, nulls_last=True))
            span = f"{_day(lo) or 'start'} to {_day(hi) or 'end'}"
            report(f"chunk {i} of {len(edges)} ({span}) in {time.perf_counter() - t:.1f} s")
        return out

    @contextmanager
    def spilled() -> Iterator[Spill]:
        directory = Path(tempfile.mkdtemp(prefix="kpi-chunks-"))
        try:
            yield spill(directory)
        finally:  # a second Ctrl-C while removing it would leave it behind
            remove_anyway(directory)

    def source(
        columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        _batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        left = n_rows  # the first rows, before the predicate (``head(n).filter(...)``)
        with spilled() as out:
            for batch in out.batches():
                rows = batch
                if left is not None:
                    rows = rows.head(left)
                    left -= rows.height
                if predicate is not None:
                    rows = rows.filter(predicate)
                yield rows if columns is None else rows.select(columns)
                if left == 0:
                    return

    frame = register_io_source(source, schema=schema, explain_name="kpi chunks")
    return replace(whole, frame=frame, spill=spilled)


def _like(part: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """A chunk's frame with the whole range's columns and dtypes: a chunk whose rows lack a
    measure's inputs has that measure null, where the whole range may know it."""
    return part.select(
        pl.col(c).cast(t) if c in part.columns else pl.lit(None, t).alias(c)
        for c, t in schema.items()
    )

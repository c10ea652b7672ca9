"""Which segments explain a change? Multi-dimensional root-cause localisation and segment deltas.

Input is a leaf-level table: dimension columns (team, channel, topic, ...) and, per leaf, the value
of a measure in a baseline and in a current period (or a forecast and an actual). The measure is
either additive (contacts, talk seconds) or a ratio of two additive measures (answered within
threshold / offered, talk seconds / contacts), given as numerator and denominator columns.

* :func:`localize` searches every conjunction ``dim = value`` over one to all dimensions for the
  smallest set of elements that explains the deviations, and returns them ranked with how much of
  the change each explains, a mix-versus-rate split for ratios, a confidence and the evidence
  behind it (:class:`RcaResult`).
* :func:`segments` returns the deltas of every segment of one, two or three dimensions (for ratios
  a mix/rate split that sums exactly to the total change), as a LazyFrame.
* :func:`explain_leaves` is the dictionary form of :func:`localize` used by :mod:`kpi.explain`
  and ``kpi explain --table``.

How the search works (details in :mod:`kpi._rca_search`): each leaf gets a deviation score
``d = (v - f) / ((|v| + |f|) / 2)`` and a noise scale fitted on all leaves (smaller leaves may be
noisier; counts are at least Poisson-noisy). An element claims that all of its leaves moved by one
common deviation (the *generalised ripple effect* of Squeeze); its evidence is the
log-likelihood ratio of that claim against noise, in nats, and its cost the description length of
naming it. Elements are taken greedily while the evidence pays for the cost. Unlike Adtributor it
finds causes over several dimensions at once; unlike Squeeze and HotSpot it needs no clustering
threshold and no search budget; unlike RiskLoc its stopping rule is a likelihood, so "nothing
found" is an answer. For a ratio, the search runs on the numerator expected at the baseline rate
(``den_current * num_baseline / den_baseline``), so volume changes (mix) do not pass for rate
changes; a second search on the denominators finds segments whose share of the volume moved
enough to shift the ratio (mix causes). Tables of more than a million non-zero leaves are searched
on every deviating leaf plus a weighted 2% sample of the others, and each pick is confirmed on all
of its leaves before it is accepted (24 million leaves: about 1.5 minutes on 2 busy cores).

The package, one module per concern: ``_result`` (:class:`RootCause`, :class:`RcaResult`, the
narrative), ``_leaves`` (input checks, leaf table, segment statistics), ``_localize`` (the
search) and ``_segments`` (segment deltas).
"""

from __future__ import annotations

from kpi.rca._localize import explain_leaves, localize
from kpi.rca._result import RcaResult, RootCause
from kpi.rca._segments import segments

__all__ = ["RcaResult", "RootCause", "explain_leaves", "localize", "segments"]

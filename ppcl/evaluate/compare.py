"""Comparing methods over seeds: mean ± std per method, and differences read as a declared family.

A trained number moves with the seed and with the machine (float reduction order: another
machine trains other networks, exactly as another seed does), so the kit never compares two
methods by one number each. Each method is trained on several seeds, each an independent
replicate of the whole method, and scored on the same test queries; a difference in rank-1 gets
the two-way random-effects interval of :mod:`ppcl.evaluate.intervals` (seeds x queries, queries
clustered by identity), which counts training and the sampling of test people together.
:func:`differences` writes one row per compared pair; the pairs declared ``primary`` before the
run form the family whose intervals and p-values are Holm-adjusted and which :func:`verdict`
reads as ahead / behind / no difference shown; every other row is descriptive. The queries-only
interval (:func:`paired_bootstrap`) is kept beside it, *conditional on the trained networks*:
it answers "would other test people change this, for these networks?", not "would another
run?". ``docs/statistics.md`` explains the model and how to read a row.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .intervals import (
    cluster_codes,
    holm,
    paired_bootstrap,
    power_table,
    random_effects_interval,
    seeds_for_power,
    t_interval,
    t_power,
    two_way_variance,
)

__all__ = ["CELL_RULES", "DIFFERENCE_COLUMNS", "RANKS", "choose_cell", "cluster_codes", "differences", "hits_at", "holm",
           "paired_bootstrap", "power_table", "random_effects_interval", "seed_summary", "seeds_for_power",
           "t_interval", "t_power", "two_way_variance", "verdict"]

RANKS = (1, 3, 5, 10)


def hits_at(per_query: dict, k: int = 1) -> np.ndarray:
    """``(Q,)`` 0/1: whether each valid query's first true match is within the top ``k``
    (``per_query`` from :func:`ppcl.evaluate.rank`)."""
    return (np.asarray(per_query["first"]) < k).astype(np.float64)


def seed_summary(rows: Iterable[dict], keys: Sequence[str] = ("dataset", "direction", "method")):
    """One row per ``keys`` from per-seed result rows (each with ``seed``, ``rank1``, ``rank3``,
    ``rank5``, ``rank10``, ``mAP`` as fractions): ``seeds`` and each metric's mean and std over
    seeds, in percent."""
    import pandas as pd

    df = pd.DataFrame(list(rows))
    metrics = [m for m in ("rank1", "rank3", "rank5", "rank10", "mAP") if m in df]
    out = df.groupby(list(keys), sort=False).agg(
        seeds=("seed", lambda s: ",".join(str(int(v)) for v in sorted(s))),
        **{f"{m}_mean": (m, "mean") for m in metrics},
        **{f"{m}_std": (m, lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0) for m in metrics},
    ).reset_index()
    for c in out.columns:
        if c.endswith("_mean") or c.endswith("_std"):
            out[c] = 100 * out[c]
    front = [*keys, "seeds", "rank1_mean", "rank1_std", "mAP_mean", "mAP_std"]
    return out[[c for c in front if c in out] + [c for c in out if c not in front]]


DIFFERENCE_COLUMNS = ["dataset", "direction", "method", "versus", "rank1_diff_mean", "ci_low", "ci_high", "seeds",
                      "seed_diff_std", "ci_basis", "ci_query_low", "ci_query_high", "family", "ci_adj_low", "ci_adj_high",
                      "p_adj"]


def _hits(runs: list[dict], where: str) -> tuple[np.ndarray, np.ndarray]:
    """``(queries (Q,), hits (S, Q))`` from one method's per-seed ``per_query`` records, checked to
    hold the same queries on every seed."""
    q = np.asarray(runs[0]["query"])
    for i, x in enumerate(runs):
        if not np.array_equal(x["query"], q):
            raise ValueError(f"{where}: seed {i} was scored on other queries than seed 0")
    return q, np.stack([hits_at(x) for x in runs])


def differences(per_query: dict, pairs: Sequence[tuple[str, str]], clusters: dict | None = None,
                primary: Iterable[tuple[str, str]] = (), n_boot: int = 5000, seed: int = 0, level: float = 0.95):
    """Rank-1 differences with :func:`random_effects_interval`, in points, and the primary family
    Holm-adjusted.

    ``per_query[(dataset, direction, method)]`` is a list over seeds (in one order for every
    method; a method with fewer seeds has the first ones, and its pairs are read over those) of
    :func:`ppcl.evaluate.rank`'s ``per_query``; ``pairs`` lists ``(method, versus)``.
    ``clusters[(dataset, direction)]`` (optional) is the identity of each query in the order of
    ``per_query[...]["query"]``; a setting without one counts every query as its own person.
    ``primary``: the ``(method, versus)`` pairs declared, before the run, as the family the
    verdicts read (each must be in ``pairs``); all their rows, over every setting, are one Holm
    family at ``1 - level``. ``n_boot`` draws the queries-only bootstrap (0: skip it, NaN columns).

    Returns a DataFrame with :data:`DIFFERENCE_COLUMNS`: ``ci_low, ci_high`` the random-effects
    interval (training and query sampling), ``seeds`` how many, ``seed_diff_std`` the spread of
    the per-seed difference, ``ci_basis`` what the interval rests on, ``ci_query_low,
    ci_query_high`` the queries-only interval, *conditional on the trained networks* (not an
    interval for the method), ``family`` ``"primary"`` or ``"descriptive"``, and for primary rows
    ``ci_adj_low, ci_adj_high`` (each row's interval at its Holm level, see :func:`holm`) and
    ``p_adj`` (Holm-adjusted); NaN for descriptive rows.
    """
    import pandas as pd

    pairs = [tuple(x) for x in pairs]
    primary = {tuple(x) for x in primary}
    if not primary <= set(pairs):
        raise ValueError(f"primary: expected (method, versus) pairs among pairs {pairs}; found {sorted(primary - set(pairs))}")
    clusters = clusters or {}
    rows, fits = [], []
    settings = sorted({(d, r) for d, r, _ in per_query}, key=lambda x: (x[0], x[1]))
    for ds, direction in settings:
        for m, v in pairs:
            if (ds, direction, m) not in per_query or (ds, direction, v) not in per_query:
                continue
            qa, qb = per_query[(ds, direction, m)], per_query[(ds, direction, v)]
            n = min(len(qa), len(qb))  # a method scored on fewer seeds: compared over the first n, which both have
            q, a = _hits(qa[:n], f"{ds}/{direction}/{m}")
            q_b, b = _hits(qb[:n], f"{ds}/{direction}/{v}")
            if not np.array_equal(q, q_b):
                raise ValueError(f"{ds}/{direction}: {m} and {v} were scored on different queries")
            ids = clusters.get((ds, direction))
            if ids is not None and len(ids) != len(q):
                raise ValueError(f"clusters[{(ds, direction)!r}]: expected one identity per query ({len(q)}, in the "
                                 f"order of per_query['query']); found {len(ids)}")
            r = random_effects_interval(a, b, clusters=ids, level=level, n_boot=n_boot, seed=seed)
            fits.append(r)
            rows.append({"dataset": ds, "direction": direction, "method": m, "versus": v,
                         "rank1_diff_mean": 100 * r["mean"], "ci_low": 100 * r["low"], "ci_high": 100 * r["high"],
                         "seeds": n, "seed_diff_std": 100 * r["seed_std"], "ci_basis": r["basis"],
                         "ci_query_low": 100 * r["query_low"], "ci_query_high": 100 * r["query_high"],
                         "family": "primary" if (m, v) in primary else "descriptive",
                         "ci_adj_low": float("nan"), "ci_adj_high": float("nan"), "p_adj": float("nan")})
    family = [i for i, row in enumerate(rows) if row["family"] == "primary"]
    if family:
        p_adj, alphas = holm([fits[i]["p"] for i in family], alpha=1 - level)
        for i, p, a in zip(family, p_adj, alphas):
            lo, hi, _ = t_interval(fits[i]["mean"], fits[i]["se"] ** 2, fits[i]["df"], level=1 - a)
            rows[i].update(ci_adj_low=100 * lo, ci_adj_high=100 * hi, p_adj=float(p))
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)


def _is_primary(row) -> bool:
    family = row.get("family", "descriptive")
    return isinstance(family, str) and family == "primary"


def verdict(row) -> str:
    """A difference row in words. A primary row (``family == "primary"``) is read from its
    Holm-adjusted interval: ``"ahead"`` / ``"behind"`` when it excludes 0, else ``"no difference
    shown"``. Any other row (no ``family``, or ``"descriptive"``) is described from its unadjusted
    interval, never given a verdict: ``"descriptive: interval above 0"`` (or ``below 0``,
    ``includes 0``)."""
    if _is_primary(row):
        lo, hi = row.get("ci_adj_low"), row.get("ci_adj_high")
        if lo is None or hi is None or np.isnan(lo) or np.isnan(hi):
            raise ValueError(f"a primary row needs its adjusted interval ci_adj_low, ci_adj_high; found {lo}, {hi}")
        return "ahead" if lo > 0 else "behind" if hi < 0 else "no difference shown"
    where = "above 0" if row["ci_low"] > 0 else "below 0" if row["ci_high"] < 0 else "includes 0"
    return f"descriptive: interval {where}"


CELL_RULES = ("clear", "best")


def choose_cell(hits: dict, reference, rule: str = "clear", n_boot: int = 5000, seed: int = 0,
                level: float = 0.95, clusters=None) -> tuple[object, dict]:
    """Choose a hyper-parameter cell (Table 1c's (λ_cyc, λ_tri)) from validation hits.

    ``hits[cell]`` is a ``(seeds, queries)`` 0/1 array of rank-1 hits on one validation split
    (the same queries for every cell; ``clusters`` ``(Q,)`` their identities, optional);
    ``reference`` is the cell the recipe would use unchosen (the paper's). ``rule="clear"``: the
    reference, unless some cell leads it with the interval of :func:`random_effects_interval`
    above zero, then the best such cell (highest mean; ties: the first in ``hits``' order); a lead
    inside the noise moves nothing. ``rule="best"``: the highest mean rank-1, ties to the
    reference, else to the first. Returns ``(chosen, {cell: interval})`` with each cell's
    :func:`random_effects_interval` against the reference (fractions).

    >>> ref = np.array([[1, 0, 1, 0, 1, 0, 1, 0]])
    >>> hits = {"paper": ref, "other": np.array([[1, 1, 1, 0, 1, 0, 1, 0]])}  # one query more
    >>> choose_cell(hits, "paper")[0], choose_cell(hits, "paper", rule="best")[0]
    ('paper', 'other')
    """
    if rule not in CELL_RULES:
        raise ValueError(f"rule: expected one of {list(CELL_RULES)}; found {rule!r}")
    if reference not in hits:
        raise ValueError(f"reference: expected one of the cells {list(hits)}; found {reference!r}")
    mean = {c: float(np.mean(h)) for c, h in hits.items()}
    vs = {c: random_effects_interval(h, hits[reference], clusters=clusters, level=level, n_boot=n_boot, seed=seed)
          for c, h in hits.items()}
    if rule == "best":
        top = max(mean.values())
        chosen = reference if mean[reference] == top else next(c for c in hits if mean[c] == top)
    else:
        clear = [c for c in hits if c != reference and vs[c]["low"] > 0]
        chosen = max(clear, key=lambda c: mean[c]) if clear else reference  # max keeps the first of equals
    return chosen, vs

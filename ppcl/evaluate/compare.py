"""Comparing methods over seeds: mean ± std per method, and paired bootstrap intervals.

A trained number moves with the seed and with the machine (float reduction order), so the kit
never compares two methods by one number each. Each method is trained and scored on several
seeds; :func:`seed_summary` gives each method's mean and standard deviation over them, and
:func:`paired_bootstrap` the 95% interval of the difference in rank-1 between two methods
scored on the *same* queries: resample the queries with replacement (the same draw for every
seed, so each query stays paired with itself across methods and seeds), average the per-query
difference over seeds and queries, and read the 2.5% and 97.5% percentiles. An interval that
contains 0 says the data cannot tell the two methods apart.

>>> import numpy as np
>>> a = np.array([[1, 1, 0, 1]]); b = np.array([[0, 1, 0, 0]])  # one seed, four queries
>>> r = paired_bootstrap(a, b, n_boot=2000, seed=0)
>>> round(r["mean"], 2), round(r["low"], 2), round(r["high"], 2)  # four queries cannot rule out 0
(0.5, 0.0, 1.0)
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

RANKS = (1, 3, 5, 10)


def hits_at(per_query: dict, k: int = 1) -> np.ndarray:
    """``(Q,)`` 0/1: whether each valid query's first true match is within the top ``k``
    (``per_query`` from :func:`ppcl.evaluate.rank`)."""
    return (np.asarray(per_query["first"]) < k).astype(np.float64)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n_boot: int = 5000, seed: int = 0, level: float = 0.95) -> dict:
    """Interval of ``mean(a - b)`` for per-query scores ``a``, ``b`` of shape ``(seeds, queries)``
    (or ``(queries,)``), resampling queries jointly across seeds. Returns ``{"mean", "low",
    "high", "per_seed"}`` (``per_seed``: each seed's mean difference)."""
    a, b = np.atleast_2d(np.asarray(a, float)), np.atleast_2d(np.asarray(b, float))
    if a.shape != b.shape:
        raise ValueError(f"paired scores must have one shape (seeds, queries); got {a.shape} and {b.shape}")
    if a.shape[1] == 0:
        raise ValueError("paired_bootstrap needs at least one query")
    d = (a - b).mean(0)  # per query, averaged over seeds
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for s in range(0, n_boot, 1000):  # chunks keep memory at 1000 x Q
        idx = rng.integers(0, len(d), size=(min(1000, n_boot - s), len(d)))
        means[s : s + len(idx)] = d[idx].mean(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return {"mean": float(d.mean()), "low": float(lo), "high": float(hi), "per_seed": (a - b).mean(1).tolist()}


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


def differences(per_query: dict, pairs: Sequence[tuple[str, str]], n_boot: int = 5000, seed: int = 0):
    """Rank-1 differences with paired bootstrap intervals, in points.

    ``per_query[(dataset, direction, method)]`` is a list over seeds (in one order for every
    method) of :func:`ppcl.evaluate.rank`'s ``per_query``; ``pairs`` lists ``(method, versus)``.
    Returns a DataFrame with ``dataset, direction, method, versus, rank1_diff_mean, ci_low,
    ci_high`` and ``seeds``.
    """
    import pandas as pd

    rows = []
    settings = sorted({(d, r) for d, r, _ in per_query}, key=lambda x: (x[0], x[1]))
    for ds, direction in settings:
        for m, v in pairs:
            if (ds, direction, m) not in per_query or (ds, direction, v) not in per_query:
                continue
            qa, qb = per_query[(ds, direction, m)], per_query[(ds, direction, v)]
            if len(qa) != len(qb):
                raise ValueError(f"{ds}/{direction}: {m} has {len(qa)} seeds, {v} has {len(qb)}")
            for x, y in zip(qa, qb):
                if not np.array_equal(x["query"], y["query"]):
                    raise ValueError(f"{ds}/{direction}: {m} and {v} were scored on different queries")
            a = np.stack([hits_at(x) for x in qa])
            b = np.stack([hits_at(x) for x in qb])
            r = paired_bootstrap(a, b, n_boot=n_boot, seed=seed)
            rows.append({"dataset": ds, "direction": direction, "method": m, "versus": v,
                         "rank1_diff_mean": 100 * r["mean"], "ci_low": 100 * r["low"], "ci_high": 100 * r["high"],
                         "seeds": len(qa)})
    return pd.DataFrame(rows, columns=["dataset", "direction", "method", "versus", "rank1_diff_mean", "ci_low", "ci_high", "seeds"])


def verdict(row) -> str:
    """A difference row in words: ahead / behind / not distinguishable at 95%."""
    if row["ci_low"] > 0:
        return "ahead"
    if row["ci_high"] < 0:
        return "behind"
    return "not distinguishable"

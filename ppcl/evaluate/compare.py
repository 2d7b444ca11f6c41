"""Comparing methods over seeds: mean ± std per method, and intervals that count training.

A trained number moves with the seed and with the machine (float reduction order: another
machine trains other networks, exactly as another seed does), so the kit never compares two
methods by one number each. Each method is trained and scored on several seeds and the same
test queries; for a difference in rank-1 the per-query, per-seed score differences
``D[s, q] = a[s, q] - b[s, q]`` carry two sources of noise: *training* (which networks the
seeds gave) and *query sampling* (which test people were drawn). :func:`training_interval`
counts both:

* a **crossed bootstrap** (seeds and queries resampled independently, every resampled seed
  scored on the same resampled queries, both methods on one draw; Owen's "pigeonhole"
  bootstrap for a seeds x queries design), and
* a **t-interval over seeds** of the per-seed differences, which a bootstrap over five seeds
  understates (resampling S values shrinks their variance by (S - 1) / S and ignores the
  t-quantile);

the reported interval is the wider of the two at each end. :func:`paired_bootstrap` keeps the
older interval that resamples queries only, *conditional on the trained networks*: it answers
"would other test people change this, for these networks?", not "would another run?".
:func:`verdict` reads the interval that counts training.

>>> import numpy as np
>>> a = np.array([[1, 1, 0, 1]]); b = np.array([[0, 1, 0, 0]])  # one seed, four queries
>>> r = paired_bootstrap(a, b, n_boot=2000, seed=0)
>>> round(r["mean"], 2), round(r["low"], 2), round(r["high"], 2)  # four queries cannot rule out 0
(0.5, 0.0, 1.0)
>>> a = np.array([[1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]]); b = np.zeros((3, 4))  # seed 1 loses every query
>>> r = training_interval(a, b, n_boot=2000, seed=0)
>>> round(r["mean"], 3), r["low"] < 0 < r["high"], paired_bootstrap(a, b)["low"] > 0  # only the seeds show it
(0.667, True, True)
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

RANKS = (1, 3, 5, 10)


def hits_at(per_query: dict, k: int = 1) -> np.ndarray:
    """``(Q,)`` 0/1: whether each valid query's first true match is within the top ``k``
    (``per_query`` from :func:`ppcl.evaluate.rank`)."""
    return (np.asarray(per_query["first"]) < k).astype(np.float64)


def _paired(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a - b`` as ``(seeds, queries)`` floats, checked."""
    a, b = np.atleast_2d(np.asarray(a, float)), np.atleast_2d(np.asarray(b, float))
    if a.shape != b.shape:
        raise ValueError(f"paired scores must have one shape (seeds, queries); got {a.shape} and {b.shape}")
    if a.shape[1] == 0:
        raise ValueError("paired scores need at least one query; got none")
    return a - b


def _levels(level: float) -> tuple[float, float]:
    if not 0 < level < 1:
        raise ValueError(f"level: expected a confidence level in (0, 1); found {level}")
    return (1 - level) / 2, 1 - (1 - level) / 2


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n_boot: int = 5000, seed: int = 0, level: float = 0.95) -> dict:
    """Interval of ``mean(a - b)`` for per-query scores ``a``, ``b`` of shape ``(seeds, queries)``
    (or ``(queries,)``), resampling queries only (jointly across seeds): conditional on the
    trained networks. Returns ``{"mean", "low", "high", "per_seed"}`` (``per_seed``: each
    seed's mean difference)."""
    diff = _paired(a, b)
    lo_q, hi_q = _levels(level)
    d = diff.mean(0)  # per query, averaged over seeds
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for s in range(0, n_boot, 1000):  # chunks keep memory at 1000 x Q
        idx = rng.integers(0, len(d), size=(min(1000, n_boot - s), len(d)))
        means[s : s + len(idx)] = d[idx].mean(1)
    lo, hi = np.quantile(means, [lo_q, hi_q])
    return {"mean": float(d.mean()), "low": float(lo), "high": float(hi), "per_seed": diff.mean(1).tolist()}


def crossed_bootstrap(diff: np.ndarray, n_boot: int = 5000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the mean of ``diff`` ``(seeds, queries)`` when seeds *and* queries
    are resampled, independently and crossed: each replicate draws S seeds and Q queries with
    replacement and averages ``diff`` over that S x Q grid (the same draw for both methods, since
    ``diff`` is already their difference). Counts training and query sampling together."""
    diff = np.atleast_2d(np.asarray(diff, float))
    n_s, n_q = diff.shape
    lo_q, hi_q = _levels(level)
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for s in range(0, n_boot, 1000):
        m = min(1000, n_boot - s)
        w_s = rng.multinomial(n_s, np.full(n_s, 1 / n_s), size=m)  # (m, S) how often each seed is drawn
        w_q = rng.multinomial(n_q, np.full(n_q, 1 / n_q), size=m)  # (m, Q) how often each query is drawn
        means[s : s + m] = ((w_s @ diff) * w_q).sum(1) / (n_s * n_q)
    lo, hi = np.quantile(means, [lo_q, hi_q])
    return float(lo), float(hi)


def seed_t_interval(diff: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Student-t interval over seeds of the per-seed mean differences of ``diff`` ``(seeds,
    queries)``; ``(nan, nan)`` with fewer than two seeds."""
    from scipy import stats

    per_seed = np.atleast_2d(np.asarray(diff, float)).mean(1)
    n = len(per_seed)
    if n < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(_levels(level)[1], n - 1) * per_seed.std(ddof=1) / np.sqrt(n)
    return float(per_seed.mean() - half), float(per_seed.mean() + half)


def training_interval(a: np.ndarray, b: np.ndarray, n_boot: int = 5000, seed: int = 0, level: float = 0.95) -> dict:
    """The interval the kit's verdicts use: ``mean(a - b)`` for per-query scores of shape
    ``(seeds, queries)``, with the wider (at each end) of :func:`crossed_bootstrap` and
    :func:`seed_t_interval`; with one seed only the query-sampling part exists and ``basis``
    says so.

    Returns ``{"mean", "low", "high", "basis", "seed_std", "per_seed", "query_low",
    "query_high"}``: ``seed_std`` the standard deviation over seeds of the per-seed difference,
    ``query_low/high`` :func:`paired_bootstrap`'s interval (conditional on the networks).
    """
    diff = _paired(a, b)
    q = paired_bootstrap(a, b, n_boot=n_boot, seed=seed, level=level)
    c_lo, c_hi = crossed_bootstrap(diff, n_boot=n_boot, seed=seed, level=level)
    t_lo, t_hi = seed_t_interval(diff, level)
    per_seed = diff.mean(1)
    if len(per_seed) < 2:
        low, high, basis = c_lo, c_hi, "queries only (one seed)"
    else:
        low, high = min(c_lo, t_lo), max(c_hi, t_hi)
        basis = "t over seeds" if (t_lo < c_lo or t_hi > c_hi) else "crossed bootstrap"
    return {"mean": float(diff.mean()), "low": low, "high": high, "basis": basis,
            "seed_std": float(per_seed.std(ddof=1)) if len(per_seed) > 1 else 0.0, "per_seed": per_seed.tolist(),
            "query_low": q["low"], "query_high": q["high"]}


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
                      "seed_diff_std", "ci_basis", "ci_query_low", "ci_query_high"]


def differences(per_query: dict, pairs: Sequence[tuple[str, str]], n_boot: int = 5000, seed: int = 0):
    """Rank-1 differences with the intervals of :func:`training_interval`, in points.

    ``per_query[(dataset, direction, method)]`` is a list over seeds (in one order for every
    method; a method with fewer seeds has the first ones, and its pairs are read over those) of
    :func:`ppcl.evaluate.rank`'s ``per_query``; ``pairs`` lists ``(method, versus)``.
    Returns a DataFrame with :data:`DIFFERENCE_COLUMNS`: ``ci_low, ci_high`` count training and
    query sampling (the verdicts read them), ``seeds`` how many, ``seed_diff_std`` the spread of
    the per-seed difference, ``ci_basis`` which bound made the interval, and ``ci_query_low,
    ci_query_high`` the queries-only interval, conditional on the trained networks.
    """
    import pandas as pd

    rows = []
    settings = sorted({(d, r) for d, r, _ in per_query}, key=lambda x: (x[0], x[1]))
    for ds, direction in settings:
        for m, v in pairs:
            if (ds, direction, m) not in per_query or (ds, direction, v) not in per_query:
                continue
            qa, qb = per_query[(ds, direction, m)], per_query[(ds, direction, v)]
            n = min(len(qa), len(qb))  # a method scored on fewer seeds: compared over the first n, which both have
            qa, qb = qa[:n], qb[:n]
            for x, y in zip(qa, qb):
                if not np.array_equal(x["query"], y["query"]):
                    raise ValueError(f"{ds}/{direction}: {m} and {v} were scored on different queries")
            a = np.stack([hits_at(x) for x in qa])
            b = np.stack([hits_at(x) for x in qb])
            r = training_interval(a, b, n_boot=n_boot, seed=seed)
            rows.append({"dataset": ds, "direction": direction, "method": m, "versus": v,
                         "rank1_diff_mean": 100 * r["mean"], "ci_low": 100 * r["low"], "ci_high": 100 * r["high"],
                         "seeds": len(qa), "seed_diff_std": 100 * r["seed_std"], "ci_basis": r["basis"],
                         "ci_query_low": 100 * r["query_low"], "ci_query_high": 100 * r["query_high"]})
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)


def verdict(row) -> str:
    """A difference row in words from the interval that counts training (``ci_low``,
    ``ci_high``): ahead / behind / not distinguishable at 95%."""
    if row["ci_low"] > 0:
        return "ahead"
    if row["ci_high"] < 0:
        return "behind"
    return "not distinguishable"


CELL_RULES = ("clear", "best")


def choose_cell(hits: dict, reference, rule: str = "clear", n_boot: int = 5000, seed: int = 0,
                level: float = 0.95) -> tuple[object, dict]:
    """Choose a hyper-parameter cell (Table 1c's (λ_cyc, λ_tri)) from validation hits.

    ``hits[cell]`` is a ``(seeds, queries)`` 0/1 array of rank-1 hits on one validation split
    (the same queries for every cell); ``reference`` is the cell the recipe would use unchosen
    (the paper's). ``rule="clear"``: the reference, unless some cell leads it with the interval
    of :func:`training_interval` above zero, then the best such cell (highest mean; ties: the
    first in ``hits``' order); a lead inside the noise moves nothing. ``rule="best"``: the highest
    mean rank-1, ties to the reference, else to the first. Returns ``(chosen, {cell: interval})``
    with each cell's :func:`training_interval` against the reference (fractions).

    >>> import numpy as np
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
    vs = {c: training_interval(h, hits[reference], n_boot=n_boot, seed=seed, level=level) for c, h in hits.items()}
    if rule == "best":
        top = max(mean.values())
        chosen = reference if mean[reference] == top else next(c for c in hits if mean[c] == top)
    else:
        clear = [c for c in hits if c != reference and vs[c]["low"] > 0]
        chosen = max(clear, key=lambda c: mean[c]) if clear else reference  # max keeps the first of equals
    return chosen, vs

"""Intervals for a difference between two methods over seeds x queries: a two-way random-effects model.

Each method is trained on ``S`` seeds (each seed an independent replicate of the whole method,
every component retrained) and scored on the same ``Q`` test queries, a sample of people
(clustered: Partial-REID has several partial images per person). The per-seed, per-query
score differences ``D[s, q] = a[s, q] - b[s, q]`` follow the two-way random-effects model

    D[s, q] = mu + alpha_s + beta_q + e_sq,   Var(mean D) = s_a^2 / S + s_b^2 / Q + s_e^2 / (S Q)

(``alpha``: training noise, seed and float order alike; ``beta``: which people were drawn;
``e``: their interaction and each network's per-query luck). :func:`two_way_variance` estimates
that variance from two parts that each hold the interaction once:

* the **seeds' part**: the variance of the per-seed means / ``S`` (expects ``s_a^2/S + s_e^2/(SQ)``),
* the **query part**: a cluster-robust variance of the mean of the per-query means (cluster
  totals over identities; expects ``s_b^2/Q + s_e^2/(SQ)``),
* minus the **interaction**, the residual mean square / ``(S Q)`` (cluster totals of the residuals
  when queries are clustered), which the two parts counted twice.

A variance component estimated below zero is set to zero (the total is the interaction plus each
part's excess over it), so the total is never below either part: each part alone already expects
no more than the total. The interval is ``mean ± t * sqrt(total)``; its degrees of freedom are
Satterthwaite's for that combination of mean squares, never fewer than ``S - 1`` (the t on seeds
when training dominates; towards the normal when the query part dominates). With one seed only
the query part exists (a normal quantile) and ``basis`` says so. :func:`holm` adjusts a declared
family of such differences; :func:`seeds_for_power` sizes a run. ``docs/statistics.md`` explains
the choices and how to read a row.

>>> import numpy as np
>>> a = np.array([[1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]]); b = np.zeros((3, 4))  # seed 1 loses every query
>>> r = random_effects_interval(a, b, n_boot=2000)
>>> round(r["mean"], 3), r["low"] < 0 < r["high"], r["query_low"] > 0  # only the seeds show it
(0.667, True, True)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

DOF_RULES = ("satterthwaite", "seeds")


def _paired(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a - b`` as ``(seeds, queries)`` floats, checked."""
    a, b = np.atleast_2d(np.asarray(a, float)), np.atleast_2d(np.asarray(b, float))
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"paired scores must have one shape (seeds, queries); got {a.shape} and {b.shape}")
    if a.shape[1] == 0:
        raise ValueError("paired scores need at least one query; got none")
    return a - b


def _levels(level: float) -> tuple[float, float]:
    if not 0 < level < 1:
        raise ValueError(f"level: expected a confidence level in (0, 1); found {level}")
    return (1 - level) / 2, 1 - (1 - level) / 2


def cluster_codes(clusters, n_queries: int) -> tuple[np.ndarray, int]:
    """``(codes (Q,) in 0..G-1, G)`` for identity labels ``clusters`` ``(Q,)`` (any hashable
    values); ``None``: every query its own cluster."""
    if clusters is None:
        return np.arange(n_queries), n_queries
    labels = np.asarray(clusters)
    if labels.shape != (n_queries,):
        raise ValueError(f"clusters: expected one identity label per query, shape ({n_queries},); found {labels.shape}")
    _, codes = np.unique(labels, return_inverse=True)
    n = int(codes.max()) + 1
    if n < 2:
        raise ValueError(f"clusters: expected at least two identities to estimate the query part; found {n}")
    return codes.ravel(), n


def _cluster_var_of_mean(x: np.ndarray, codes: np.ndarray, n: int) -> float:
    """Cluster-robust variance of ``x.mean()`` for ``x`` ``(Q,)`` in clusters ``codes``:
    ``G / (G - 1) * sum_g (T_g - n_g * mean)^2 / Q^2`` (``T_g`` cluster totals); with every query
    its own cluster, ``x.var(ddof=1) / Q``."""
    totals, sizes = np.bincount(codes, x, n), np.bincount(codes, minlength=n)
    return float(n / (n - 1) * ((totals - sizes * x.mean()) ** 2).sum() / len(x) ** 2)


def two_way_variance(diff: np.ndarray, clusters=None, dof: str = "satterthwaite") -> dict:
    """The random-effects variance of ``diff.mean()`` for ``diff`` ``(S, Q)`` (see the module).

    Returns ``{"seed_var", "query_var", "interaction", "var", "df", "clusters"}``: the seeds' and
    the query parts, the interaction they share, the total (components truncated at zero), the
    degrees of freedom (``dof="satterthwaite"``: Satterthwaite's, at least ``S - 1``;
    ``"seeds"``: ``S - 1``; ``inf`` with one seed, where ``seed_var`` and ``interaction`` are NaN)
    and the number of query clusters ``G``.
    """
    if dof not in DOF_RULES:
        raise ValueError(f"dof: expected one of {list(DOF_RULES)}; found {dof!r}")
    diff = np.atleast_2d(np.asarray(diff, float))
    n_s, n_q = diff.shape
    codes, n_g = cluster_codes(clusters, n_q)
    per_seed, per_query = diff.mean(1), diff.mean(0)
    if n_g < 2:
        raise ValueError(f"paired scores need at least two queries for the query part; got {n_q}")
    query_var = _cluster_var_of_mean(per_query, codes, n_g)
    if n_s < 2:
        return {"seed_var": float("nan"), "query_var": query_var, "interaction": float("nan"), "var": query_var,
                "df": float("inf"), "clusters": n_g}
    seed_var = float(per_seed.var(ddof=1) / n_s)
    resid = diff - per_seed[:, None] - per_query[None, :] + diff.mean()
    cell = (np.arange(n_s)[:, None] * n_g + codes[None, :]).ravel()
    totals = np.bincount(cell, resid.ravel(), n_s * n_g)  # (S * G) residual totals per seed and identity
    interaction = float((totals**2).sum() * n_s * n_g / ((n_s - 1) * (n_g - 1)) / (n_s * n_q) ** 2)
    total = interaction + max(seed_var - interaction, 0.0) + max(query_var - interaction, 0.0)
    df = float(n_s - 1)
    raw = seed_var + query_var - interaction
    if dof == "satterthwaite" and raw > 0:
        denom = seed_var**2 / (n_s - 1) + query_var**2 / (n_g - 1) + interaction**2 / ((n_s - 1) * (n_g - 1))
        df = max(df, raw**2 / denom) if denom > 0 else df
    return {"seed_var": seed_var, "query_var": query_var, "interaction": interaction, "var": total, "df": df,
            "clusters": n_g}


def t_interval(mean: float, var: float, df: float, level: float = 0.95) -> tuple[float, float, float]:
    """``(low, high, p)``: ``mean ± t_df * sqrt(var)`` and the two-sided p-value of ``mean = 0``
    under the same t (normal for ``df = inf``); a zero variance gives ``[mean, mean]`` and p 0
    (1 when ``mean`` is 0)."""
    half = stats.t.ppf(_levels(level)[1], df) * np.sqrt(var)
    if var > 0:
        p = float(2 * stats.t.sf(abs(mean) / np.sqrt(var), df))
    else:
        p = 1.0 if mean == 0 else 0.0
    return float(mean - half), float(mean + half), p


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n_boot: int = 5000, seed: int = 0, level: float = 0.95,
                     clusters=None) -> dict:
    """Interval of ``mean(a - b)`` for per-query scores ``a``, ``b`` of shape ``(seeds, queries)``
    (or ``(queries,)``), resampling queries only (jointly across seeds; whole identities when
    ``clusters`` ``(Q,)`` labels them): *conditional on the trained networks*. Returns ``{"mean",
    "low", "high", "per_seed"}`` (``per_seed``: each seed's mean difference).

    >>> r = paired_bootstrap(np.array([[1, 1, 0, 1]]), np.array([[0, 1, 0, 0]]), n_boot=2000)
    >>> round(r["mean"], 2), round(r["low"], 2), round(r["high"], 2)  # four queries cannot rule out 0
    (0.5, 0.0, 1.0)
    """
    diff = _paired(a, b)
    lo_q, hi_q = _levels(level)
    d = diff.mean(0)  # per query, averaged over seeds
    codes, n_g = cluster_codes(clusters, len(d))
    totals, sizes = np.bincount(codes, d, n_g), np.bincount(codes, minlength=n_g).astype(float)
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for s in range(0, n_boot, 1000):  # chunks keep memory at 1000 x G
        w = rng.multinomial(n_g, np.full(n_g, 1 / n_g), size=min(1000, n_boot - s))  # how often each cluster is drawn
        means[s : s + len(w)] = (w @ totals) / (w @ sizes)
    lo, hi = np.quantile(means, [lo_q, hi_q])
    return {"mean": float(d.mean()), "low": float(lo), "high": float(hi), "per_seed": diff.mean(1).tolist()}


def random_effects_interval(a: np.ndarray, b: np.ndarray, clusters=None, level: float = 0.95, n_boot: int = 5000,
                            seed: int = 0, dof: str = "satterthwaite") -> dict:
    """The interval the kit reads: ``mean(a - b)`` for per-query scores ``a``, ``b`` ``(S, Q)``
    (or ``(Q,)``: one seed) with the random-effects variance of :func:`two_way_variance`
    (``clusters`` ``(Q,)``: each query's identity; ``None``: every query its own).

    Returns ``{"mean", "low", "high", "p", "se", "df", "seed_var", "query_var", "interaction",
    "basis", "seed_std", "per_seed", "query_low", "query_high"}``: ``p`` the two-sided p-value
    of no difference under the same t, ``seed_std`` the standard deviation over seeds of the
    per-seed difference (0 with one seed), ``query_low/high`` :func:`paired_bootstrap`'s
    interval, conditional on the trained networks (NaN when ``n_boot`` is 0).
    """
    diff = _paired(a, b)
    v = two_way_variance(diff, clusters, dof)
    mean = float(diff.mean())
    low, high, p = t_interval(mean, v["var"], v["df"], level)
    n_s = diff.shape[0]
    where = f" in {v['clusters']} identities" if clusters is not None else ""
    if n_s < 2:
        basis = f"queries only (one seed){where}, normal"
    else:
        basis = f"seeds + queries{where}, t on {v['df']:.0f} df"
    q_low = q_high = float("nan")
    if n_boot > 0:
        q = paired_bootstrap(diff, np.zeros_like(diff), n_boot=n_boot, seed=seed, level=level, clusters=clusters)
        q_low, q_high = q["low"], q["high"]
    per_seed = diff.mean(1)
    return {"mean": mean, "low": low, "high": high, "p": p, "se": float(np.sqrt(v["var"])), "df": v["df"],
            "seed_var": v["seed_var"], "query_var": v["query_var"], "interaction": v["interaction"], "basis": basis,
            "seed_std": float(per_seed.std(ddof=1)) if n_s > 1 else 0.0, "per_seed": per_seed.tolist(),
            "query_low": q_low, "query_high": q_high}


def holm(p: Sequence[float], alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down over a family of ``m`` p-values: ``(p_adj (m,), alpha_i (m,))``.

    ``p_adj``: Holm's adjusted p-values (``max_{j <= i} min(1, (m - j + 1) p_(j))`` in sorted
    order). ``alpha_i``: the level at which each row's adjusted interval is drawn: the sorted
    ``j``-th p-value is tested at ``alpha / (m - j + 1)``; rows the procedure rejects get their own
    step's level, and every row from the step where it stops on gets that step's level, so an
    adjusted interval excludes 0 exactly when ``p_adj < alpha``.

    >>> p_adj, a = holm([0.01, 0.04, 0.03])
    >>> p_adj.round(2).tolist(), (a * 6).round(2).tolist()  # stops at 0.03 > 0.05 / 2: 0.04 is not rejected
    ([0.03, 0.06, 0.06], [0.1, 0.15, 0.15])
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha: expected a level in (0, 1); found {alpha}")
    p = np.asarray(p, float)
    if p.ndim != 1 or np.isnan(p).any():
        raise ValueError(f"p: expected a 1-D family of p-values without NaN; found {p}")
    m = len(p)
    order = np.argsort(p, kind="stable")
    steps = alpha / (m - np.arange(m))  # the j-th smallest p-value's threshold
    passed = p[order] < steps
    stop = int(np.argmin(passed)) if not passed.all() else m  # first step not rejected (0-based)
    level_sorted = np.where(np.arange(m) < stop, steps, steps[min(stop, m - 1)])
    adj_sorted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    p_adj, levels = np.empty(m), np.empty(m)
    p_adj[order], levels[order] = adj_sorted, level_sorted
    return p_adj, levels


def t_power(seeds: int, seed_sd: float, query_sd: float, delta: float = 3.0, alpha: float = 0.05,
            family: int = 1) -> float:
    """Power of the two-sided t-test of no difference on ``seeds - 1`` df (noncentral t) when the
    true difference is ``delta`` and the estimate's standard error is ``sqrt(seed_sd^2 / seeds +
    query_sd^2)`` (points; ``query_sd`` the query-sampling standard error net of the
    interaction); tested at ``alpha / family`` (Holm's first step)."""
    if seeds < 2:
        raise ValueError(f"seeds: expected at least 2 for a t on seeds - 1 df; found {seeds}")
    se = np.sqrt(seed_sd**2 / seeds + query_sd**2)
    if se <= 0:
        raise ValueError(f"seed_sd, query_sd: expected a positive standard error; found {seed_sd}, {query_sd}")
    df, nc = seeds - 1, delta / se
    crit = stats.t.ppf(1 - alpha / family / 2, df)
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def seeds_for_power(seed_sd: float, query_sd: float, delta: float = 3.0, power: float = 0.8, alpha: float = 0.05,
                    family: int = 1, max_seeds: int = 1000) -> int | None:
    """The smallest number of seeds ``S >= 2`` whose :func:`t_power` reaches ``power``: ``seed_sd``
    the standard deviation over seeds of the per-seed difference, ``query_sd`` the
    query-sampling standard error, ``delta`` the difference to detect (all in points). ``None``
    when no ``S`` up to ``max_seeds`` does: the query term alone caps the power (more seeds cannot
    help; more test people can).

    >>> seeds_for_power(3.0, 0.0)  # one-sample t-test, effect size 1: ten seeds (power 0.803)
    10
    """
    if not (0 < power < 1 and 0 < alpha < 1 and family >= 1):
        raise ValueError(f"power, alpha, family: expected (0, 1), (0, 1), >= 1; found {power}, {alpha}, {family}")
    s = np.arange(2, max_seeds + 1)
    se = np.sqrt(seed_sd**2 / s + query_sd**2)
    crit = stats.t.ppf(1 - alpha / family / 2, s - 1)
    pw = stats.nct.sf(crit, s - 1, delta / se) + stats.nct.cdf(-crit, s - 1, delta / se)
    hit = np.flatnonzero(pw >= power)
    return int(s[hit[0]]) if len(hit) else None


def power_table(seed_sds: Sequence[float], query_sds: Sequence[float], delta: float = 3.0, power: float = 0.8,
                alpha: float = 0.05, family: int = 1):
    """Seeds needed (:func:`seeds_for_power`) for each ``seed_sd`` (rows) and ``query_sd``
    (columns ``query SE x``), a table for reading (``docs/statistics.md``): ``"never"`` where no
    number of seeds suffices."""
    import pandas as pd

    def cell(sd: float, q: float) -> int | str:
        n = seeds_for_power(sd, q, delta, power, alpha, family)
        return "never" if n is None else n

    return pd.DataFrame([{"seed sd": sd, **{f"query SE {q:g}": cell(sd, q) for q in query_sds}} for sd in seed_sds])

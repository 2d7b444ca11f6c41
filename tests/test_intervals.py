"""The intervals behind every verdict (``ppcl.evaluate.intervals`` via ``ppcl.evaluate.compare``).

* Coverage by simulation: two methods trained on ten independent seeds and scored on about 600
  queries drawn from a population of people. The random-effects interval covers the true
  difference 93-97% of the time whatever the training noise, with queries clustered by
  identity or not, and with another float order's extra per-seed noise; an effect shared by
  every seed of a run makes it undercover (which is why every seed trains its own GLRec).
* Hand-worked cases and invariants: the two-way ANOVA parts, the truncation of a negative
  component, clustering as duplication, one seed, Holm, the power calculation.
* :func:`differences` and :func:`verdict`: signs, the primary family, errors on bad input.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ppcl.evaluate.compare import (
    choose_cell,
    differences,
    holm,
    paired_bootstrap,
    power_table,
    random_effects_interval,
    seed_summary,
    seeds_for_power,
    t_power,
    two_way_variance,
    verdict,
)

# ---- coverage by simulation ----------------------------------------------------------------------
SIG_E, TAU, RANK1, DTHETA = 0.3, 0.3, 0.35, 0.1
C0 = np.sqrt(1 + SIG_E**2 + TAU**2)
THETA_B = stats.norm.ppf(RANK1) * C0
SLOPE = stats.norm.pdf(THETA_B / C0) / C0  # d rank-1 / d ability, for putting seed effects in points


def _simulate(rng, reps: int, seed_pts: float, per_person: int = 1, float_pts: float = 0.0, shared_pts: float = 0.0,
              n_seeds: int = 10, n_queries: int = 600):
    """``reps`` runs of methods a and b: hits ``(reps, S, Q)`` each, query identities ``(Q,)`` and
    the true difference (a fraction).

    A latent-threshold model: query q of person p(q) is hit by network (s, method) when
    ``theta_m + u_sm - z_p - w_pm + eps_smq > 0``, with person difficulty ``z ~ N(0, 1)`` (the
    ``per_person`` queries of a person share ``z`` and ``w``: clustering), a person-by-method
    effect ``w ~ N(0, TAU)`` (some people suit one method), per-hit noise ``eps ~ N(0, SIG_E)``,
    and the networks' training effect ``u`` per seed and method: ``seed_pts`` (the sd, in points,
    it gives the per-seed difference), plus ``float_pts`` of independent per-seed float-order
    noise, plus ``shared_pts`` drawn once per run and shared by all its seeds. Every term is
    normal, so the true difference (over people and training) is closed-form:
    ``Phi(theta_a / c) - Phi(theta_b / c)``, ``c^2 = 1 + SIG_E^2 + TAU^2 + Var(u)``.
    """
    to_u = lambda pts: pts / 100 / np.sqrt(2) / SLOPE  # noqa: E731  points of per-seed difference -> ability sd
    su, sv, sg = to_u(seed_pts), to_u(float_pts), to_u(shared_pts)
    c = np.sqrt(C0**2 + su**2 + sv**2 + sg**2)
    truth = stats.norm.cdf((THETA_B + DTHETA) / c) - stats.norm.cdf(THETA_B / c)
    n_people = n_queries // per_person
    person = np.repeat(np.arange(n_people), per_person)
    hits = []
    z = rng.normal(size=(reps, 1, n_people))  # a person's difficulty, the same for both methods
    for theta in (THETA_B + DTHETA, THETA_B):
        w = rng.normal(0, TAU, (reps, 1, n_people))
        u = rng.normal(0, su, (reps, n_seeds, 1)) + rng.normal(0, sv, (reps, n_seeds, 1)) + rng.normal(0, sg, (reps, 1, 1))
        eps = rng.standard_normal((reps, n_seeds, n_queries), dtype=np.float32)
        hits.append((theta + u - z[..., person] - w[..., person]).astype(np.float32) + SIG_E * eps > 0)
    return hits[0].astype(float), hits[1].astype(float), person, float(truth)


def _coverage(seed_pts, per_person=1, float_pts=0.0, shared_pts=0.0, reps=2000, seed=0):
    """Share of ``reps`` simulated runs whose 95% interval covers the truth: the random-effects
    interval (``"re"``), the same with ``S - 1`` df (``"seeds_df"``), the query part alone with a
    normal quantile (``"queries"``); and the runs' mean rank-1 of b."""
    rng = np.random.default_rng(seed)
    hit = {"re": 0, "seeds_df": 0, "queries": 0}
    rank1, t_seeds = [], stats.t.ppf(0.975, 9)
    for start in range(0, reps, 250):  # chunks keep memory at 250 x 2 x 10 x 600
        a, b, person, truth = _simulate(rng, min(250, reps - start), seed_pts, per_person, float_pts, shared_pts)
        ids = person if per_person > 1 else None
        for x, y in zip(a, b):
            r = random_effects_interval(x, y, clusters=ids, n_boot=0)
            hit["re"] += r["low"] <= truth <= r["high"]
            hit["seeds_df"] += abs(r["mean"] - truth) <= t_seeds * r["se"]  # what dof="seeds" would give
            hit["queries"] += abs(r["mean"] - truth) <= 1.96 * np.sqrt(r["query_var"])
        rank1.append(b.mean())
    return {k: n / reps for k, n in hit.items()}, float(np.mean(rank1))


@pytest.mark.parametrize("per_person", [1, 5], ids=["queries independent", "5 queries per person"])
def test_the_random_effects_interval_covers_the_true_difference(per_person):
    """2000 simulated runs per setting: a correct 95% interval covers with Monte Carlo standard
    error sqrt(0.95 * 0.05 / 2000) = 0.49 points, so 93-97% is ±4 standard errors (a correct
    interval fails it with probability about 1e-4) while an interval at 92% or 98% fails it.
    S = 10 seeds, 600 queries, rank-1 about 35%, a true difference of about 3.5 points, a query SE
    of about 1 point with independent queries (as in the kit's tables)."""
    for seed_pts in (1, 2, 4, 8):
        cover, rank1 = _coverage(seed_pts, per_person, seed=seed_pts)
        assert 0.30 < rank1 < 0.40
        assert 0.93 <= cover["re"] <= 0.97, f"seed sd {seed_pts} points, {per_person} per person: covered {cover}"
        if seed_pts == 8 and per_person == 1:  # training dominates: the queries-only reading is too narrow
            assert cover["queries"] < 0.70, cover


def test_another_float_order_is_more_seed_noise_and_is_covered():
    """Another machine's float order adds an independent per-seed effect (3 points on top of 2):
    still 93-97% (2000 runs, Monte Carlo SE 0.49 points)."""
    cover, _ = _coverage(2.0, per_person=5, float_pts=3.0, seed=11)
    assert 0.93 <= cover["re"] <= 0.97, cover


def test_an_effect_shared_by_every_seed_of_a_run_undercovers():
    """One GLRec for all seeds of a run: its effect (6 points) moves every seed together, the
    seeds cannot see it, and the interval misses the method's true difference far too often: about
    half the time (1000 runs, MC SE at most 1.6 points), where even a twice as wide interval would
    cover 83%."""
    cover, _ = _coverage(2.0, per_person=5, shared_pts=6.0, reps=1000, seed=12)
    assert cover["re"] < 0.70, cover


def test_t_on_seeds_minus_one_alone_overcovers_when_the_query_part_dominates():
    """Why the df are Satterthwaite's (at least S - 1): with little training noise the query part,
    known on ~120 df, dominates, and a t on 9 df gives about 97.5% (2000 runs, MC SE 0.49 points
    at 95%: 96.5% is 3 standard errors above it) while Satterthwaite's df keep 93-97%."""
    cover, _ = _coverage(1.0, per_person=5, seed=13)
    assert cover["seeds_df"] > 0.965 and 0.93 <= cover["re"] <= 0.97, cover


# ---- the variance parts ---------------------------------------------------------------------------
def test_two_way_parts_are_the_anova_mean_squares():
    rng = np.random.default_rng(0)
    d = rng.normal(size=(4, 7)) + rng.normal(size=(4, 1)) + rng.normal(size=(1, 7))
    s_n, q_n = d.shape
    ys, yq, y = d.mean(1), d.mean(0), d.mean()
    ms_s = q_n * ((ys - y) ** 2).sum() / (s_n - 1)
    ms_q = s_n * ((yq - y) ** 2).sum() / (q_n - 1)
    ms_e = ((d - ys[:, None] - yq[None] + y) ** 2).sum() / ((s_n - 1) * (q_n - 1))
    v = two_way_variance(d)
    assert v["seed_var"] == pytest.approx(ms_s / (s_n * q_n))
    assert v["query_var"] == pytest.approx(ms_q / (s_n * q_n))
    assert v["interaction"] == pytest.approx(ms_e / (s_n * q_n))
    if min(ms_s, ms_q) > ms_e:
        assert v["var"] == pytest.approx((ms_s + ms_q - ms_e) / (s_n * q_n))
    assert v["df"] >= s_n - 1 and v["clusters"] == q_n


def test_a_component_estimated_below_zero_is_truncated():
    # pure interaction: every seed and every query averages 0.5; residuals ±0.5, MS_E = 1
    v = two_way_variance(np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert v["seed_var"] == 0 and v["query_var"] == 0 and v["interaction"] == pytest.approx(0.25)
    assert v["var"] == pytest.approx(0.25)  # not 0 + 0 - 0.25
    rng = np.random.default_rng(1)
    for _ in range(200):  # never below either part
        v = two_way_variance((rng.random((3, 12)) < 0.4).astype(float) - (rng.random((3, 12)) < 0.4))
        assert v["var"] >= max(v["seed_var"], v["query_var"]) - 1e-15


def test_clustering_copies_of_a_query_is_the_same_as_one_query():
    """Five copies of each query, clustered by identity, carry the information of one: the
    interval equals that of the de-duplicated set, and without the clusters it is too narrow."""
    rng = np.random.default_rng(2)
    pa = np.where(rng.random(80) < 0.4, 0.95, 0.05)  # each query easy or hard for each method, on every seed:
    pb = np.where(rng.random(80) < 0.35, 0.95, 0.05)  # the query part dominates
    a, b = (rng.random((10, 80)) < pa).astype(float), (rng.random((10, 80)) < pb).astype(float)
    person = np.repeat(np.arange(80), 5)
    one = random_effects_interval(a, b, n_boot=1000)
    copies = random_effects_interval(np.repeat(a, 5, 1), np.repeat(b, 5, 1), clusters=person, n_boot=1000)
    naive = random_effects_interval(np.repeat(a, 5, 1), np.repeat(b, 5, 1), n_boot=1000)
    for k in ("mean", "low", "high", "seed_var", "query_var", "interaction", "query_low", "query_high"):
        assert copies[k] == pytest.approx(one[k]), k
    assert copies["df"] == pytest.approx(one["df"]) and "in 80 identities" in copies["basis"]
    assert naive["high"] - naive["low"] < 0.6 * (one["high"] - one["low"])  # about 1 / sqrt(5)


def test_one_seed_falls_back_to_queries_and_says_so():
    a = np.array([[1, 0, 1, 1, 0, 1]], float)
    r = random_effects_interval(a, np.zeros_like(a), n_boot=2000)
    half = 1.96 * np.sqrt(a.var(ddof=1) / 6)
    assert r["basis"].startswith("queries only (one seed)") and r["seed_std"] == 0.0 and r["df"] == np.inf
    assert r["low"] == pytest.approx(4 / 6 - half, abs=1e-3) and r["high"] == pytest.approx(4 / 6 + half, abs=1e-3)


def test_level_orders_the_intervals_and_bad_input_is_named():
    rng = np.random.default_rng(4)
    a, b = (rng.random((5, 200)) < 0.4).astype(float), (rng.random((5, 200)) < 0.3).astype(float)
    wide, narrow = random_effects_interval(a, b, level=0.95), random_effects_interval(a, b, level=0.5)
    assert wide["low"] < narrow["low"] < narrow["high"] < wide["high"]
    with pytest.raises(ValueError, match="level"):
        random_effects_interval(a, b, level=95)
    with pytest.raises(ValueError, match=r"clusters: expected one identity label per query, shape \(200,\)"):
        random_effects_interval(a, b, clusters=np.arange(10))
    with pytest.raises(ValueError, match="at least two identities"):
        random_effects_interval(a, b, clusters=np.zeros(200))
    with pytest.raises(ValueError, match="dof: expected one of"):
        two_way_variance(a - b, dof="s-1")


def test_the_cluster_bootstrap_draws_whole_people():
    rng = np.random.default_rng(3)
    a = (rng.random((2, 50)) < 0.5).astype(float)
    one = paired_bootstrap(a, np.zeros_like(a), n_boot=3000, seed=7)
    copies = paired_bootstrap(np.repeat(a, 3, 1), np.zeros((2, 150)), n_boot=3000, seed=7,
                              clusters=np.repeat(np.arange(50), 3))
    assert (copies["low"], copies["high"]) == pytest.approx((one["low"], one["high"]))


# ---- Holm and the power calculation -----------------------------------------------------------------
def test_holm_hand_worked_and_consistent_with_its_intervals():
    # sorted 0.001 < 0.05/4, 0.012 < 0.05/3, 0.02 < 0.05/2 are rejected; 0.2 > 0.05 stops
    p_adj, alphas = holm([0.001, 0.2, 0.012, 0.02])
    assert p_adj.tolist() == pytest.approx([0.004, 0.2, 0.036, 0.04])
    assert alphas.tolist() == pytest.approx([0.05 / 4, 0.05, 0.05 / 3, 0.05 / 2])
    p_adj, alphas = holm([0.04, 0.03])  # 0.03 > 0.05/2: Holm stops at its first step, both at its level
    assert p_adj.tolist() == pytest.approx([0.06, 0.06]) and alphas.tolist() == pytest.approx([0.025, 0.025])
    rng = np.random.default_rng(5)
    for _ in range(300):  # an adjusted interval excludes 0 exactly when p_adj < alpha
        p = rng.uniform(0, 0.06, rng.integers(1, 7))
        p_adj, alphas = holm(p)
        assert ((p < alphas) == (p_adj < 0.05)).all()


def test_seeds_for_power_hand_checked():
    # one-sample t-test power (G*Power, two-tailed, alpha 0.05): effect size 1 needs 10 (power 0.803),
    # effect size 0.5 needs 34 (0.808)
    assert seeds_for_power(3.0, 0.0) == 10 and t_power(10, 3.0, 0.0) == pytest.approx(0.8031, abs=1e-3)
    assert seeds_for_power(6.0, 0.0) == 34 and t_power(34, 6.0, 0.0) == pytest.approx(0.8078, abs=1e-3)
    # the query term alone caps the power: delta / query_sd = 2.5 gives at most Phi(2.5 - 1.96) = 0.705
    assert seeds_for_power(1.0, 1.2) is None
    assert t_power(1000, 1.0, 1.2) == pytest.approx(stats.norm.cdf(2.5 - 1.96), abs=3e-3)
    # Holm's first step in a family of 4 tests at 0.0125: more seeds; more query noise: more seeds
    assert seeds_for_power(3.0, 0.0, family=4) > 10 and seeds_for_power(3.0, 0.5) > 10
    assert power_table([3.0], [0.0, 1.2]).iloc[0].tolist() == [3.0, 10, "never"]


def test_t_power_matches_a_simulated_t_test():
    rng = np.random.default_rng(6)
    x = rng.normal(3.0, 3.0, (20000, 10))  # delta 3, seed sd 3, 10 seeds, no query term
    t = x.mean(1) / (x.std(1, ddof=1) / np.sqrt(10))
    simulated = np.mean(np.abs(t) > stats.t.ppf(0.975, 9))
    assert simulated == pytest.approx(t_power(10, 3.0, 0.0), abs=0.01)  # MC SE 0.003


# ---- differences and verdicts -------------------------------------------------------------------------
def _per_query(hits: np.ndarray, queries: np.ndarray) -> dict:
    """A fake :func:`ppcl.evaluate.rank` per-query record: first true match at 0 for a hit, else 5."""
    return {"query": queries, "first": np.where(hits > 0, 0, 5)}


def _pq(hits: dict, settings=(("set", "query"),)) -> dict:
    """``{(dataset, direction, method): [per_query per seed]}`` from ``{method: (S, Q) hits}``."""
    return {(d, r, m): [_per_query(x, np.arange(h.shape[1])) for x in h] for d, r in settings for m, h in hits.items()}


def _two(rng, delta: float, n_seeds=5, n_queries=300):
    p = rng.uniform(0.1, 0.6, n_queries)
    a = rng.random((n_seeds, n_queries)) < np.clip(p + delta, 0, 1)
    b = rng.random((n_seeds, n_queries)) < p
    return a.astype(float), b.astype(float)


def test_differences_sign_columns_and_readings():
    rng = np.random.default_rng(5)
    a, b = _two(rng, 0.15)
    ab = differences(_pq({"A": a, "B": b}), [("A", "B")], primary=[("A", "B")], n_boot=2000).iloc[0]
    ba = differences(_pq({"A": a, "B": b}), [("B", "A")], n_boot=2000).iloc[0]
    assert ab.rank1_diff_mean == pytest.approx(100 * (a.mean() - b.mean()))
    assert ab.rank1_diff_mean == pytest.approx(-ba.rank1_diff_mean)
    assert ab.ci_low == pytest.approx(-ba.ci_high) and ab.seeds == 5
    assert ab.seed_diff_std == pytest.approx(100 * np.std((a - b).mean(1), ddof=1))
    assert ab.family == "primary" and ba.family == "descriptive" and np.isnan(ba.p_adj) and np.isnan(ba.ci_adj_low)
    assert ab.ci_adj_low == pytest.approx(ab.ci_low) and ab.p_adj < 0.05  # a family of one: no adjustment
    assert verdict(ab) == "ahead" and verdict(ba) == "descriptive: interval below 0"


def test_the_primary_family_is_holm_adjusted_over_every_setting():
    rng = np.random.default_rng(8)
    hits = dict(zip(("A", "B", "C"), (*_two(rng, 0.06), (rng.random((5, 300)) < 0.3).astype(float))))
    settings = (("X", "query"), ("X", "gallery"), ("Y", "query"))
    out = differences(_pq(hits, settings), [("A", "B"), ("A", "C"), ("C", "B")], primary=[("A", "B"), ("A", "C")],
                      n_boot=0)
    prim = out[out.family == "primary"]
    assert len(prim) == 6 and (out.family == "descriptive").sum() == 3
    p = [random_effects_interval(hits[m], hits[v], n_boot=0)["p"] for m, v in zip(prim.method, prim.versus)]
    assert prim.p_adj.to_numpy() == pytest.approx(holm(p)[0])
    assert (prim.ci_adj_low <= prim.ci_low + 1e-9).all() and (prim.ci_high <= prim.ci_adj_high + 1e-9).all()
    excl = (prim.ci_adj_low > 0) | (prim.ci_adj_high < 0)
    assert (excl == (prim.p_adj < 0.05)).all()
    assert set(prim.apply(verdict, axis=1)) <= {"ahead", "behind", "no difference shown"}
    assert out[out.family == "descriptive"].apply(verdict, axis=1).str.startswith("descriptive: ").all()


def test_verdict_reads_the_adjusted_interval_for_primary_rows_only():
    row = {"ci_low": 0.5, "ci_high": 4.0, "family": "primary", "ci_adj_low": -0.3, "ci_adj_high": 4.8}
    assert verdict(row) == "no difference shown"
    assert verdict({**row, "ci_adj_low": 0.1}) == "ahead"
    assert verdict({**row, "ci_adj_low": -5.0, "ci_adj_high": -0.1}) == "behind"
    assert verdict({"ci_low": 0.5, "ci_high": 4.0}) == "descriptive: interval above 0"  # an older table: no family
    assert verdict({**row, "family": "descriptive"}) == "descriptive: interval above 0"
    assert verdict({"ci_low": -1.0, "ci_high": 4.0, "family": float("nan")}) == "descriptive: interval includes 0"
    with pytest.raises(ValueError, match="adjusted interval"):
        verdict({**row, "ci_adj_low": float("nan")})


def test_differences_clusters_and_refusals():
    q = np.arange(4)
    ones, zeros = np.ones(4), np.zeros(4)
    pq = {("s", "query", "A"): [_per_query(ones, q), _per_query(zeros, q)], ("s", "query", "B"): [_per_query(zeros, q)]}
    row = differences(pq, [("A", "B")]).iloc[0]  # B has one seed: compared over the first seed only
    assert row.seeds == 1 and row.rank1_diff_mean == pytest.approx(100.0) and "one seed" in row.ci_basis
    rng = np.random.default_rng(9)
    a, b = _two(rng, 0.05, n_queries=60)
    person = np.repeat(np.arange(12), 5)
    clustered = differences(_pq({"A": a, "B": b}), [("A", "B")], clusters={("set", "query"): person}, n_boot=0).iloc[0]
    assert "in 12 identities" in clustered.ci_basis
    with pytest.raises(ValueError, match=r"clusters\[\('set', 'query'\)\]: expected one identity per query \(60"):
        differences(_pq({"A": a, "B": b}), [("A", "B")], clusters={("set", "query"): person[:30]})
    with pytest.raises(ValueError, match=r"primary: expected \(method, versus\) pairs among pairs"):
        differences(_pq({"A": a, "B": b}), [("A", "B")], primary=[("B", "A")])
    pq[("s", "query", "B")] = [_per_query(ones, q + 1)] * 2
    with pytest.raises(ValueError, match="different queries"):
        differences(pq, [("A", "B")])
    pq[("s", "query", "A")] = [_per_query(ones, q), _per_query(ones, q[::-1])]
    with pytest.raises(ValueError, match="seed 1 was scored on other queries"):
        differences(pq, [("A", "B")])


def test_seed_summary_spread_is_the_sample_std_in_percent():
    rows = [{"dataset": "d", "direction": "query", "method": "m", "seed": s, "rank1": r, "mAP": r / 2}
            for s, r in enumerate([0.20, 0.30, 0.40])]
    out = seed_summary(rows).iloc[0]
    assert out.seeds == "0,1,2"
    assert out.rank1_mean == pytest.approx(30.0) and out.rank1_std == pytest.approx(10.0)
    assert out.mAP_std == pytest.approx(5.0)


# ---- choosing a cell of Table 1c: a lead inside the noise moves nothing ---------------------------
def _hits(n_queries: int, n_hits: int, n_seeds: int = 1, lost: int = 0) -> np.ndarray:
    """``(seeds, queries)`` hits: queries ``lost`` to ``lost + n_hits - 1`` right. A cell with
    ``lost > 0`` misses some of a ``lost = 0`` cell's hits and gets others it misses: two cells
    that disagree both ways, as trained networks do."""
    q = np.arange(n_queries)
    return np.tile(((q >= lost) & (q < lost + n_hits)).astype(float), (n_seeds, 1))


def test_a_small_lead_keeps_the_reference_cell_and_the_best_rule_takes_it():
    # 35.0 vs 42.5 rank-1 on 120 queries, disagreeing on 33 of them: a 3-epoch grid cell's lead of the kit's runs
    hits = {(10.0, 1.0): _hits(120, 42), (10.0, 10.0): _hits(120, 51, lost=12)}
    chosen, vs = choose_cell(hits, (10.0, 1.0))
    assert chosen == (10.0, 1.0)
    assert vs[(10.0, 10.0)]["low"] < 0 < vs[(10.0, 10.0)]["high"]
    assert vs[(10.0, 10.0)]["mean"] == pytest.approx(9 / 120)
    assert choose_cell(hits, (10.0, 1.0), rule="best")[0] == (10.0, 10.0)


def test_a_clear_lead_is_taken_and_the_highest_of_the_clear_cells_wins():
    hits = {"paper": _hits(400, 100), "a": _hits(400, 180, lost=20), "b": _hits(400, 220, lost=20),
            "c": _hits(400, 110, lost=20)}
    chosen, vs = choose_cell(hits, "paper")
    assert vs["a"]["low"] > 0 and vs["b"]["low"] > 0 and vs["c"]["low"] < 0 < vs["c"]["high"]
    assert chosen == "b"


def test_a_lead_on_one_seed_of_three_is_not_clear_once_seeds_count():
    ref = _hits(400, 100, n_seeds=3)
    other = ref.copy()
    other[1, 100:220] = 1  # a large lead, but only seed 1's networks have it
    chosen, vs = choose_cell({"paper": ref, "other": other}, "paper")
    assert chosen == "paper" and vs["other"]["low"] < 0 and vs["other"]["query_low"] > 0


def test_the_best_rule_breaks_ties_to_the_reference_then_to_the_first_cell():
    hits = {"x": _hits(50, 20), "paper": _hits(50, 20), "y": _hits(50, 10)}
    assert choose_cell(hits, "paper", rule="best")[0] == "paper"
    assert choose_cell({"x": _hits(50, 20), "y": _hits(50, 20), "paper": _hits(50, 5)}, "paper", rule="best")[0] == "x"


def test_choose_cell_refuses_an_unknown_rule_or_reference():
    hits = {"paper": _hits(10, 5)}
    with pytest.raises(ValueError, match=r"rule: expected one of \['clear', 'best'\]; found 'most'"):
        choose_cell(hits, "paper", rule="most")
    with pytest.raises(ValueError, match=r"reference: expected one of the cells \['paper'\]; found 'other'"):
        choose_cell(hits, "other")

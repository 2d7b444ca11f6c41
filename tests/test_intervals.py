"""The intervals behind every verdict (``ppcl.evaluate.compare``): they must count training.

* Coverage by simulation: two methods whose networks differ from seed to seed (as another
  machine's float order makes them differ) and a test set drawn from a population of people.
  The interval that counts training covers the true difference about 95% of the time; the
  queries-only interval does not, which is why the verdicts no longer read it.
* Hand-worked cases: the t-interval over seeds, the crossed bootstrap with no seed spread,
  the sign of a difference, the level, the seed summary's spread.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ppcl.evaluate.compare import (
    choose_cell,
    crossed_bootstrap,
    differences,
    paired_bootstrap,
    seed_summary,
    seed_t_interval,
    training_interval,
    verdict,
)


def _simulate(rng: np.random.Generator, n_seeds: int, n_queries: int, delta: float, seed_sd: float):
    """Per-query hits ``(seeds, queries)`` of methods a and b: query difficulty p_q drawn from a
    population, each seed's networks shifted by N(0, seed_sd) for each method."""
    p = rng.uniform(0.1, 0.6, n_queries)
    shift_a = rng.normal(0.0, seed_sd, (n_seeds, 1))
    shift_b = rng.normal(0.0, seed_sd, (n_seeds, 1))
    a = rng.random((n_seeds, n_queries)) < np.clip(p + delta + shift_a, 0, 1)
    b = rng.random((n_seeds, n_queries)) < np.clip(p + shift_b, 0, 1)
    return a.astype(float), b.astype(float)


@pytest.mark.parametrize("n_seeds", [3, 5])
def test_the_training_interval_covers_the_true_difference_and_the_query_interval_does_not(n_seeds):
    rng = np.random.default_rng(0)
    delta, reps = 0.05, 160
    hit_t = hit_q = 0
    for i in range(reps):
        a, b = _simulate(rng, n_seeds, 300, delta, seed_sd=0.04)
        r = training_interval(a, b, n_boot=1000, seed=i)
        hit_t += r["low"] <= delta <= r["high"]
        hit_q += r["query_low"] <= delta <= r["query_high"]
    assert hit_t / reps >= 0.90, f"interval counting training covered {hit_t}/{reps}"
    assert hit_q / reps <= 0.80, f"queries-only interval covered {hit_q}/{reps}: the simulation shows no seed effect"


def test_without_seed_effects_the_training_interval_is_not_much_wider_than_needed():
    """No training noise: coverage stays at the level and the width near the queries-only one."""
    rng = np.random.default_rng(1)
    widths, hits = [], 0
    for i in range(80):
        a, b = _simulate(rng, 5, 300, 0.05, seed_sd=0.0)
        r = training_interval(a, b, n_boot=1000, seed=i)
        hits += r["low"] <= 0.05 <= r["high"]
        widths.append((r["high"] - r["low"]) / (r["query_high"] - r["query_low"]))
    assert hits / 80 >= 0.9
    assert np.median(widths) < 2.0


def test_seed_t_interval_hand_worked():
    # three seeds whose per-seed differences are 0.1, 0.2, 0.3 (no query noise inside a seed)
    diff = np.repeat(np.array([[0.1], [0.2], [0.3]]), 50, axis=1)
    half = stats.t.ppf(0.975, 2) * 0.1 / np.sqrt(3)  # sd of (0.1, 0.2, 0.3) is 0.1
    lo, hi = seed_t_interval(diff)
    assert lo == pytest.approx(0.2 - half) and hi == pytest.approx(0.2 + half)
    # the crossed bootstrap of three values stays inside their range: the t-interval is the wider
    c_lo, c_hi = crossed_bootstrap(diff, n_boot=2000)
    assert 0.1 - 1e-12 <= c_lo and c_hi <= 0.3 + 1e-12
    a = diff.clip(0) * 0 + (diff > 0)  # any scores with those differences
    r = training_interval(diff + 1.0, np.ones_like(diff))
    assert r["low"] == pytest.approx(0.2 - half) and r["high"] == pytest.approx(0.2 + half)
    assert r["basis"] == "t over seeds" and r["seed_std"] == pytest.approx(0.1)
    assert a.shape == diff.shape


def test_one_seed_falls_back_to_queries_and_says_so():
    a = np.array([[1, 0, 1, 1, 0, 1]], float)
    b = np.zeros_like(a)
    r = training_interval(a, b, n_boot=2000)
    assert r["basis"] == "queries only (one seed)" and r["seed_std"] == 0.0
    assert np.isnan(seed_t_interval(a - b)[0])


def test_crossed_bootstrap_with_identical_seeds_matches_the_query_bootstrap():
    rng = np.random.default_rng(3)
    row = (rng.random(400) < 0.3).astype(float) - (rng.random(400) < 0.2)
    diff = np.repeat(row[None], 4, axis=0)
    c = crossed_bootstrap(diff, n_boot=4000, seed=0)
    q = paired_bootstrap(diff, np.zeros_like(diff), n_boot=4000, seed=1)
    assert c[0] == pytest.approx(q["low"], abs=0.01) and c[1] == pytest.approx(q["high"], abs=0.01)


def test_level_orders_the_intervals():
    rng = np.random.default_rng(4)
    a, b = _simulate(rng, 5, 200, 0.03, 0.03)
    wide, narrow = training_interval(a, b, level=0.95), training_interval(a, b, level=0.5)
    assert wide["low"] < narrow["low"] < narrow["high"] < wide["high"]
    with pytest.raises(ValueError, match="level"):
        training_interval(a, b, level=95)


def _per_query(hits: np.ndarray, queries: np.ndarray) -> dict:
    """A fake :func:`ppcl.evaluate.rank` per-query record: first true match at 0 for a hit, else 5."""
    return {"query": queries, "first": np.where(hits > 0, 0, 5)}


def _table(a: np.ndarray, b: np.ndarray, pairs):
    q = np.arange(a.shape[1])
    pq = {("set", "query", "A"): [_per_query(x, q) for x in a], ("set", "query", "B"): [_per_query(x, q) for x in b]}
    return differences(pq, pairs, n_boot=2000)


def test_differences_sign_columns_and_verdicts():
    rng = np.random.default_rng(5)
    a, b = _simulate(rng, 5, 300, 0.15, 0.01)
    ab = _table(a, b, [("A", "B")]).iloc[0]
    ba = _table(a, b, [("B", "A")]).iloc[0]
    assert ab.rank1_diff_mean == pytest.approx(100 * (a.mean() - b.mean()))
    assert ab.rank1_diff_mean == pytest.approx(-ba.rank1_diff_mean)
    assert ab.ci_low == pytest.approx(-ba.ci_high, abs=1.0) and ab.seeds == 5
    assert ab.ci_low <= ab.ci_query_low + 1e-9 and ab.ci_query_high <= ab.ci_high + 1e-9
    assert ab.seed_diff_std == pytest.approx(100 * np.std((a - b).mean(1), ddof=1))
    assert verdict(ab) == "ahead" and verdict(ba) == "behind"


def test_verdict_reads_the_training_interval_not_the_query_one():
    row = {"ci_low": -1.0, "ci_high": 4.0, "ci_query_low": 0.5, "ci_query_high": 3.5}
    assert verdict(row) == "not distinguishable"
    assert verdict({**row, "ci_low": 0.2}) == "ahead"
    assert verdict({**row, "ci_low": -3.0, "ci_high": -0.1}) == "behind"


def test_differences_refuses_unpaired_inputs():
    q = np.arange(4)
    ones = np.ones(4)
    zeros = np.zeros(4)
    pq = {("s", "query", "A"): [_per_query(ones, q), _per_query(zeros, q)], ("s", "query", "B"): [_per_query(zeros, q)]}
    row = differences(pq, [("A", "B")]).iloc[0]  # B has one seed: compared over the first seed only
    assert row.seeds == 1 and row.rank1_diff_mean == pytest.approx(100.0)
    pq[("s", "query", "B")] = [_per_query(ones, q + 1)] * 2
    with pytest.raises(ValueError, match="different queries"):
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

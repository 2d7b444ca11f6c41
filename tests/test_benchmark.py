"""The benchmark measures like for like: it runs end to end on the smoke networks, every method
times the same stages, and the FLOP counts order the methods by the work they do."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import run as bench  # noqa: E402


@pytest.mark.slow
def test_the_benchmark_runs_and_counts_work_in_the_methods_order(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--profile", "smoke", "--device", "cpu", "--reps", "1", "--skip", "b,r", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    ev = res["eval"]
    assert list(ev) == ["Resize", "+R", "+R+L every pair", "+R+L top-20"]
    g = {k: v["gflop"] for k, v in ev.items()}
    # +R is Resize plus GLRec; +R+L adds CRLoc over pairs; top-K does a part of every pair's work.
    assert g["Resize"] < g["+R"] < g["+R+L top-20"] < g["+R+L every pair"], g
    assert all(v["min"] > 0 and v["runs"] >= 1 and v["min"] <= v["median"] for v in ev.values())
    stages = res["stages"]
    assert stages["locator (3 conv + FC)"]["gflop"] > 0 and stages["correlation (Eq. 8)"]["gflop"] > 0
    # The stages add up to the +R+L pass's FLOPs (the same work, counted in parts).
    assert abs(sum(s["gflop"] for s in stages.values()) - g["+R+L every pair"]) <= 0.02 * g["+R+L every pair"]
    loader = res["loader"]  # (l): one epoch of the store's batches (and of the old loader), seconds per batch
    timings = {k: v for k, v in loader.items() if isinstance(v, dict)}
    assert list(timings) == ["store, prefetch 0", "store, prefetch 2", "before: per-image transforms, main process"]
    assert all(v["min"] > 0 and v["runs"] >= 2 for v in timings.values()) and loader["decode_ms_per_image"] > 0
    steps = res["step"]  # (c): every step kind, now and before, timed in turn
    assert list(steps) == ["plain", "resize", "+R", "ppcl", "plain, before", "ppcl, before"]
    assert all(v["min"] > 0 and v["runs"] == 3 for v in steps.values())
    parts = res["parts"]  # (p): the step's parts, each marked and measured
    assert {"whole step", "backward", "GLRec rectify (line 6)", "CRLoc calls (Eqs. 4-5)", "partial crops (line 5)"} <= set(parts)
    assert all(v > 0 for v in parts.values()) and parts["backward"] < parts["whole step"]
    assert "floor" in capsys.readouterr().out


import estimate as est  # noqa: E402

from ppcl.pipeline.profiles import load_profile  # noqa: E402


def _steps(work, nb):
    return sum(work[nb].steps.values())


def test_the_estimates_counts_come_from_the_profile():
    sizes = est.Sizes.published()
    base = est.notebook_work(load_profile("paper"), sizes)
    # GLRec: epochs x batches of the training set.
    assert base["02"].steps["reid:glrec"] == 60 * (12_936 // 64)
    # 03: the 4 x 4 grid at the full schedule (its chosen cell is PPCL's first-seed model), then
    # Resize, +R and PPCL on 3 seeds; 04: the two single-constraint variants on 3 seeds.
    per_model = 120 * est.pk_batches(12_936 - round(50 * 12_936 / 751), 16, 4)
    assert base["03"].steps == {"reid:ppcl": (16 + 3 - 1) * per_model, "reid:resize": 3 * per_model, "reid:+R": 3 * per_model}
    assert base["04"].steps == {"reid:ppcl": 6 * per_model}
    doubled = est.notebook_work(load_profile("paper", {"ppcl": {"epochs": 240}, "n_seeds": 1}), sizes)
    assert doubled["04"].steps["reid:ppcl"] == 2 * 2 * per_model  # twice the epochs, a third of the seeds
    short_grid = est.notebook_work(load_profile("paper", {"ablation": {"grid_epochs": 60}}), sizes)
    assert short_grid["03"].steps["reid:ppcl"] == 16 * per_model // 2 + 3 * per_model  # no cell is a compared model
    no_grid = est.notebook_work(load_profile("paper", {"ablation": {"choose_lambdas": False}}), sizes)
    assert no_grid["03"].steps["reid:ppcl"] == 3 * per_model
    # Faces: CASIA's batches at the face recipe's P x K.
    assert base["05"].steps["face:glrec"] == 10 * (494_414 // 64)
    val_q, val_g = 100 * 2, round(100 * 494_414 / 10_575) - 100 * 2  # 2 queries per held-out identity, the rest gallery
    assert base["05"].pairs["face:crloc"] == 3 * 1000 * 1000 + 3 * 30 * val_q * val_g  # Partial-LFW + validation
    assert _steps(base, "01") == _steps(base, "06") == 0


def test_pk_batches_from_per_identity_counts_match_the_sampler():
    import numpy as np

    from ppcl.data.samplers import PKSampler

    rng = np.random.default_rng(0)
    for _ in range(5):
        per_id = rng.integers(2, 30, size=int(rng.integers(40, 200)))
        pids = [i for i, n in enumerate(per_id) for _ in range(n)]
        exact = len(PKSampler(pids, 16, 4))
        assert abs(est.pk_batches(len(pids), 16, 4, tuple(per_id)) - exact) <= max(1, 0.05 * exact)


def test_the_estimate_prices_every_kind_and_names_a_missing_cost():
    work = {"02": est.Work(est.Counter({"reid:glrec": 10}), est.Counter({"reid:layout": 100})),
            "03": est.Work(est.Counter({"reid:ppcl": 2}), est.Counter(), est.Counter({"reid:crloc": 1000}))}
    costs = {"reid:glrec": 0.5, "reid:layout": 0.01, "reid:ppcl": 2.0, "reid:crloc": 0.001}
    out = est.estimate(work, costs)
    assert out["02"] == {"train": 5.0, "evaluate": 1.0, "total": 6.0} and out["03"]["total"] == 5.0
    with pytest.raises(ValueError, match=r"costs: expected a measured cost for \['reid:crloc'\]"):
        est.estimate(work, {k: v for k, v in costs.items() if k != "reid:crloc"})
    assert "| **all** | | | **0:00:11**" in est.report("paper", out, "a test")


@pytest.mark.slow
def test_the_estimate_runs_end_to_end_on_the_smoke_networks(tmp_path, capsys):
    out = tmp_path / "estimate.json"
    assert bench.main(["--profile", "smoke", "--device", "cpu", "--reps", "1", "--estimate", "--estimate-batch", "0.5",
                       "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert set(res["estimate"]) == {"01", "02", "03", "04", "05", "06"}
    assert all(v > 0 for v in res["costs"].values()) and res["estimate"]["03"]["total"] > 0
    assert "Estimated wall time of the whole 'smoke' profile" in capsys.readouterr().out

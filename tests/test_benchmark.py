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
    assert list(steps) == ["plain", "resize", "+R", "ppcl"]
    assert all(v["min"] > 0 and v["runs"] == 3 for v in steps.values())
    assert steps["plain"]["gflop"] < steps["resize"]["gflop"] < steps["ppcl"]["gflop"]  # PPCL: two passes of F and CRLoc
    parts = res["parts"]  # (p): the step's parts, each marked and measured
    assert {"whole step", "backward", "GLRec rectify (line 6)", "CRLoc calls (Eqs. 4-5)", "partial crops (line 5)",
            "the step's draws (one copy)"} <= set(parts)
    assert all(v > 0 for v in parts.values()) and parts["backward"] < parts["whole step"]
    assert "floor" in capsys.readouterr().out

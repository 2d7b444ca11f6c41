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
    assert bench.main(["--profile", "smoke", "--device", "cpu", "--reps", "1", "--skip", "b,c,r", "--json", str(out)]) == 0
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
    loader = res["loader"]  # (l): one epoch per worker count, milliseconds per batch
    assert list(loader) == ["0", "4", "8"] and all(v["min"] > 0 and v["runs"] >= 2 for v in loader.values())
    assert "floor" in capsys.readouterr().out

"""The `paper` profile's real-data path, end to end, on CPU: the device check (`python -m
ppcl.pipeline.devicecheck --shrink`, what `make gpu-check` runs on a GPU with the paper's networks) runs
every numbered notebook under `--profile paper` with `source = "real"`, on a data root laid out
exactly like the real downloads (the smoke preset's images copied into the real datasets'
folders, with no synthetic_meta.json and no partial_sources/, so nothing synthetic can be used),
the networks shrunk to the smoke profile's."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ppcl.pipeline.devicecheck import MARKER, real_layout_root, shrunk_overrides
from ppcl.pipeline.profiles import raw_profile
from ppcl.pipeline.reproduce import parse_overrides

ROOT = Path(__file__).resolve().parent.parent


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return repr(v)


def shrink_to_smoke() -> list[str]:
    """--set entries giving the paper profile the smoke profile's networks, epochs and sizes."""
    smoke = raw_profile("smoke")
    sets = ["n_seeds=1"]
    for section in ("glrec", "ppcl"):
        sets += [f"{section}.{k}={_toml(v)}" for k, v in smoke[section].items()]
    for section, table in smoke.items():
        if isinstance(table, dict) and section not in ("glrec", "ppcl", "synthetic"):
            sets += [f"{section}.{k}={_toml(v)}" for k, v in table.items()]
    return sets


def test_the_device_checks_shrinking_is_the_smoke_profiles_values():
    assert parse_overrides(shrink_to_smoke()) == shrunk_overrides()


@pytest.mark.slow
def test_the_device_check_runs_every_notebook_under_the_paper_profile_on_real_layouts(tmp_path):
    out = tmp_path / "check"
    r = subprocess.run([sys.executable, "-m", "ppcl.pipeline.devicecheck", "--shrink", "--out", str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    data = out / "DATA"
    assert (data / "Market-1501-v15.09.15").is_dir() and (data / "pairs.txt").is_file()
    assert not (data / "synthetic_meta.json").exists() and not (data / "partial_sources").exists()
    run = out / "run"
    done = sorted(p.name for p in (run / "notebooks").glob("*.ipynb"))
    assert done == sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    state = json.loads((run / "run.json").read_text())
    assert state["parameters"]["profile"] == "paper" and state["parameters"]["data_root"] == str(data.resolve())
    report = (run / "REPORT.md").read_text()
    assert "Not produced by this run" not in report and "was not produced" not in report, report  # every table
    result = json.loads((out / MARKER).read_text())
    assert result["ok"] and result["status"] == "done" and result["missing_tables"] == [] and result["shrunk"]
    nbs = result["notebooks"]
    assert list(nbs) == done and all(v["status"] == "done" and v["seconds"] > 0 for v in nbs.values())
    trained = {k[:2]: v for k, v in nbs.items() if v["models"]}
    assert set(trained) == {"02", "03", "04", "05"}  # GLRec, the compared models and the grid, the variants, faces
    assert all(v["steps"] > 0 and v["steps_per_s"] > 0 for v in trained.values())
    assert all(v["peak_device_mib"] is None for v in nbs.values())  # no GPU here
    assert "OK" in r.stdout and "steps/s" in r.stdout
    assert "without encryption" not in r.stdout + r.stderr  # a batch run prints what the kit does, nothing more


def test_the_device_check_refuses_to_overwrite_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    r = subprocess.run([sys.executable, "-m", "ppcl.pipeline.devicecheck", "--shrink", "--out", str(tmp_path)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and f"--out {tmp_path}: expected a new folder" in r.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_a_batch_the_data_cannot_fill_stops_naming_the_parameter(tmp_path):
    from ppcl.pipeline.run import default_cache_dir

    root = real_layout_root(tmp_path / "DATA", {"preset": "smoke"}, default_cache_dir())
    cmd = [sys.executable, "-m", "ppcl.pipeline.reproduce", "--profile", "paper", "--data-root", str(root), "--out", str(tmp_path / "run")]
    for s in shrink_to_smoke() + ["glrec.batch_size=100000"]:
        cmd += ["--set", s]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert r.returncode != 0
    assert "glrec.batch_size = 100000: the data holds only" in r.stderr and "02_glrec_pretraining.ipynb" in r.stderr


def test_the_paper_profile_keeps_the_papers_reading_of_every_kit_option():
    """Issue 27: each of the kit's options is one flag away from the paper, and `paper` keeps the paper's side."""
    from ppcl.pipeline.profiles import load_profile
    p = load_profile("paper").ppcl
    assert (p.region_id, p.crloc_trains_F, p.known_pairs, p.known_region_id) == (False, True, False, False)
    assert p.lam_loc == 0.0 and tuple(p.view_width) == (1.0, 1.0) and p.negatives == "log-uniform"
    assert p.partial_input == "rectify" and 0.0 in p.fuse_weights  # 0: the paper's PPCL distance alone is a candidate
    s = load_profile("synthetic").ppcl
    assert s.known_pairs and tuple(s.view_width) != (1.0, 1.0), "the synthetic profile's chosen options moved"

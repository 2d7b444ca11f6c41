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

from ppcl.pipeline.devicecheck import CUTS, MARKER, SHRINKABLE, as_sets, check_overrides, real_layout_root
from ppcl.pipeline.profiles import load_profile

ROOT = Path(__file__).resolve().parent.parent


def _leaves(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_leaves(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def test_the_cpu_twin_changes_only_what_makes_it_fit_a_cpu():
    """`make test`'s device check (--shrink) is the GPU check with only network depth and width, input
    sizes, batches and the numbers of images and identities changed: every other value of the paper
    profile and of the check's own settings (the losses' options, the data settings, Algorithm 1's
    path, the faces table) is what the GPU runs."""
    gpu = _leaves(load_profile("paper", check_overrides(shrink=False, imagenet=False)).to_dict())
    cpu = _leaves(load_profile("paper", check_overrides(shrink=True)).to_dict())
    changed = {k for k in gpu if gpu[k] != cpu[k]}
    assert changed and all(k.rsplit(".", 1)[-1] in SHRINKABLE for k in changed), sorted(changed)
    assert {"ppcl.backbone.depth", "ppcl.backbone.input_size", "glrec.model.width", "faces.backbone.width"} <= changed
    paper = load_profile("paper").ppcl
    for key in ("region_id", "crloc_trains_F", "known_pairs", "lam_loc", "view_width", "val_view_width", "erase",
                "label_smoothing", "lam_cyc", "lam_tri", "warmup_epochs"):
        assert cpu[f"ppcl.{key}"] == gpu[f"ppcl.{key}"], key
    assert cpu["ppcl.label_smoothing"] == paper.label_smoothing == 0.1 and cpu["glrec.gate_threshold"] == 0.5
    assert cpu["faces.partial_lfw.n_ids"] > 0  # the paper's Partial-LFW path (the identities with the most images)


def test_the_gpu_check_cuts_only_the_schedule_and_grids_of_the_paper_profile():
    paper = _leaves(load_profile("paper").to_dict())
    gpu = _leaves(load_profile("paper", check_overrides(shrink=False, imagenet=True)).to_dict())
    changed = {k for k in paper if paper[k] != gpu[k]}
    assert changed <= set(_leaves(CUTS)), sorted(changed - set(_leaves(CUTS)))


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
    for s in as_sets(check_overrides(shrink=True)) + ["glrec.batch_size=100000"]:
        cmd += ["--set", s]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert r.returncode != 0
    assert "glrec.batch_size = 100000: the data holds only" in r.stderr and "--set glrec.batch_size=" in r.stderr
    assert not list((tmp_path / "run").glob("notebooks/*.ipynb")), "the plan refused the profile, yet a notebook ran"


def test_the_paper_profile_keeps_the_papers_reading_of_every_kit_option():
    """Issue 27: each of the kit's options is one flag away from the paper, and `paper` keeps the paper's side."""
    from ppcl.pipeline.profiles import load_profile
    p = load_profile("paper").ppcl
    assert (p.region_id, p.crloc_trains_F, p.known_pairs, p.known_region_id) == (False, True, False, False)
    assert p.lam_loc == 0.0 and tuple(p.view_width) == (1.0, 1.0) and p.negatives == "log-uniform"
    assert p.partial_input == "rectify" and 0.0 in p.fuse_weights  # 0: the paper's PPCL distance alone is a candidate
    s = load_profile("synthetic").ppcl
    assert s.known_pairs and tuple(s.view_width) != (1.0, 1.0), "the synthetic profile's chosen options moved"

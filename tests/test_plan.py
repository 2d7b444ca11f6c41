"""The plan (``ppcl.pipeline.plan``): every data-dependent bound refused before anything trains, naming
the setting and a ``--set`` that works; and the bill counted from the same job lists the notebooks train."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ppcl.data.common import Record
from ppcl.pipeline.plan import DataSummary, bill, check_bounds, format_plan, published_summary, steps_per_epoch
from ppcl.pipeline.profiles import load_profile
from ppcl.pipeline.training import notebook_jobs

ROOT = Path(__file__).resolve().parent.parent


def _records(per_id: list[int]) -> list[Record]:
    return [Record(f"{pid}_{i}.jpg", pid, None) for pid, n in enumerate(per_id) for i in range(n)]


def _data(**changes) -> DataSummary:
    base = dict(reid_train=_records([6] * 40), face_train=_records([5] * 30), lfw_eligible=20,
                test_sets={"partial_reid": (30, 30), "partial_ilids": (10, 10)})
    return DataSummary(**{**base, **changes})


def _profile(**over):
    return load_profile("smoke", over)


def test_data_that_fits_passes():
    assert check_bounds(_profile(), _data()) == []


@pytest.mark.parametrize("over, data, key, example", [
    ({"faces": {"partial_lfw": {"n_ids": 25}}}, {}, "faces.partial_lfw.n_ids = 25", "--set faces.partial_lfw.n_ids=20"),
    ({"ppcl": {"p": 39}}, {}, "ppcl.p = 39", "--set ppcl.p=37"),
    ({"ppcl": {"n_val_ids": 40}}, {}, "ppcl.n_val_ids = 40", "--set ppcl.n_val_ids=4"),
    ({"faces": {"p": 29}}, {}, "faces.p = 29", "--set faces.p=28"),
    ({"glrec": {"batch_size": 500}}, {}, "glrec.batch_size = 500", "--set glrec.batch_size=240"),
    ({"faces": {"glrec": {"batch_size": 500}}}, {}, "faces.glrec.batch_size = 500", "--set faces.glrec.batch_size=150"),
    ({}, {"reid_train": _records([1] * 36 + [6] * 4)}, "ppcl.n_val_ids = 3", "--set ppcl.n_val_ids="),
])
def test_each_planted_violation_is_refused_naming_the_setting_and_a_working_value(over, data, key, example):
    problems = check_bounds(_profile(**over), _data(**data))
    assert len(problems) == 1 and problems[0].startswith(key) and example in problems[0], problems


def test_a_working_example_works():
    """The value a refusal suggests passes the same check."""
    for over, fixed in (({"ppcl": {"p": 39}}, {"ppcl": {"p": 37}}), ({"faces": {"partial_lfw": {"n_ids": 25}}},
                                                                    {"faces": {"partial_lfw": {"n_ids": 20}}})):
        assert check_bounds(_profile(**over), _data()) and check_bounds(_profile(**fixed), _data()) == []


def test_the_disk_the_run_needs_is_checked_where_it_writes(tmp_path):
    problems = check_bounds(_profile(), _data(), writes={tmp_path / "not-yet": 2**60})
    assert len(problems) == 1 and str(tmp_path / "not-yet") in problems[0] and "GiB free" in problems[0]
    assert check_bounds(_profile(), _data(), writes={tmp_path: 1}) == []


def test_a_planted_bound_stops_a_batch_run_in_seconds_before_any_notebook(tmp_path):
    out = tmp_path / "run"
    t0 = time.time()
    r = subprocess.run([sys.executable, "-m", "ppcl.pipeline.reproduce", "--profile", "smoke", "--out", str(out),
                        "--set", "faces.partial_lfw.n_ids=1000", "--set", "ppcl.p=1000"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    seconds = time.time() - t0
    assert r.returncode == 2, r.stderr[-2000:]
    assert "faces.partial_lfw.n_ids = 1000" in r.stderr and "ppcl.p = 1000" in r.stderr and "--set" in r.stderr
    assert not list(out.glob("notebooks/*.ipynb")), "a notebook ran although the plan refused the profile"
    assert seconds < 120, f"the refusal took {seconds:.0f} s"


def test_steps_per_epoch_match_the_pk_sampler():
    import numpy as np

    from ppcl.data.samplers import PKSampler

    rng = np.random.default_rng(0)
    for case in range(6):
        per_id = rng.integers(1, 30, size=int(rng.integers(20, 200))).tolist()
        records = _records(per_id)
        exact = len(PKSampler([r.pid for r in records], 16, 4, seed=case))
        assert abs(steps_per_epoch(records, 16, 4) - exact) <= max(1, 0.03 * exact), (case, exact)


def test_the_bill_counts_every_model_the_notebooks_train_and_more_epochs_cost_more():
    p, data = load_profile("paper"), published_summary()
    b = bill(p, data)
    assert len(b["models"]) == sum(len(notebook_jobs(p, nb)) for nb in ("02", "03", "04", "05"))
    assert all(r["hours"] > 0 for r in b["notebooks"].values())
    longer = bill(load_profile("paper", {"ppcl": {"epochs": 240}}), data)
    assert longer["notebooks"]["03"]["hours"] > 1.8 * b["notebooks"]["03"]["hours"]
    fewer = bill(load_profile("paper", {"ablation": {"lam_cyc": [10.0], "lam_tri": [1.0]}}), data)
    assert fewer["notebooks"]["04"]["hours"] < b["notebooks"]["04"]["hours"]
    assert b["memory"]["host_store_kind"]["casia_webface"].startswith("encoded")  # 69 GiB decoded: kept as the files' bytes
    text = format_plan("paper", b, data, [])
    assert "| all |" in text and "estimate" in text and "published counts" in text


def test_a_stale_partial_lfw_protocol_file_is_refused_before_the_run(tmp_path):
    """A protocol file built with other settings would stop notebook 05 after hours of training: the plan
    refuses it first, naming the file and the setting."""
    import json

    from ppcl.data.sources import dataset_root
    from ppcl.pipeline.plan import protocol_file_problems
    from ppcl.pipeline.run import default_cache_dir

    src = dataset_root("synthetic", cache_dir=default_cache_dir(), synthetic={"preset": "smoke"}, progress=False)
    root = tmp_path / "DATA"
    root.mkdir()
    (root / "lfw").symlink_to(src / "lfw")
    profile = _profile()
    assert protocol_file_problems(profile, root) == []  # no file: the run draws its own
    (root / "partial_lfw.json").write_text(json.dumps({"protocol": "Partial-LFW", "version": 1, "n_ids": 999, "area": [0.3, 0.8], "sides": [],
                                                       "seed": 0, "gallery": [], "query": []}))
    problems = protocol_file_problems(profile, root)
    assert len(problems) == 1 and "partial_lfw.json" in problems[0] and "faces.partial_lfw" in problems[0], problems

"""The `paper` profile's real-data path, end to end, on CPU: every numbered notebook under
`--profile paper` with `source = "real"`, on a data root laid out exactly like the real downloads
(the smoke preset's images copied into the real datasets' folders, with no synthetic_meta.json and
no partial_sources/, so nothing synthetic can be used), the networks shrunk with --set."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ppcl.data.sources import dataset_root
from ppcl.profiles import raw_profile
from ppcl.run import default_cache_dir

ROOT = Path(__file__).resolve().parent.parent
REAL_FOLDERS = ("Market-1501-v15.09.15", "Partial-REID_Dataset", "Partial_iLIDS", "lfw", "CASIA-WebFace")


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


@pytest.fixture(scope="module")
def real_layout_root(tmp_path_factory) -> Path:
    synthetic = dataset_root("synthetic", cache_dir=default_cache_dir(), synthetic={"preset": "smoke"}, progress=False)
    root = tmp_path_factory.mktemp("DATA")
    for name in REAL_FOLDERS:
        shutil.copytree(synthetic / name, root / name)
    shutil.copy2(synthetic / "pairs.txt", root / "pairs.txt")  # beside lfw/, as LFW's downloads unpack
    assert not (root / "synthetic_meta.json").exists() and not (root / "partial_sources").exists()
    return root


def _reproduce(root: Path, out: Path, *sets: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "ppcl.reproduce", "--profile", "paper", "--data-root", str(root), "--out", str(out)]
    for s in sets:
        cmd += ["--set", s]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200)


@pytest.mark.slow
def test_every_notebook_runs_under_the_paper_profile_on_real_layouts(real_layout_root, tmp_path):
    r = _reproduce(real_layout_root, tmp_path / "run", *shrink_to_smoke())
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    done = sorted(p.name for p in (tmp_path / "run" / "notebooks").glob("*.ipynb"))
    assert done == sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    report = (tmp_path / "run" / "REPORT.md").read_text()
    assert "Not produced by this run" not in report and "was not produced" not in report, report  # every table
    assert "without encryption" not in r.stdout + r.stderr  # a batch run prints what the kit does, nothing more


@pytest.mark.slow
def test_a_batch_the_data_cannot_fill_stops_naming_the_parameter(real_layout_root, tmp_path):
    r = _reproduce(real_layout_root, tmp_path / "run", *shrink_to_smoke(), "glrec.batch_size=100000")
    assert r.returncode != 0
    assert "glrec.batch_size = 100000: the data holds only" in r.stderr and "02_glrec_pretraining.ipynb" in r.stderr

"""data_prep/verify.py run as a user runs it: a subprocess on a fixture tree."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import build_lfw, build_market1501, build_partial_ilids

SCRIPT = Path(__file__).resolve().parents[1] / "data_prep" / "verify.py"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd outside the checkout: the script must find the package by itself
    cmd = [sys.executable, str(SCRIPT), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=120)


def test_verify_json_market(tmp_path: Path) -> None:
    fx = build_market1501(tmp_path / "data")
    res = run("market1501", str(tmp_path / "data"), "--json", "--check-images", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    for k in ("train_images", "train_ids", "query_images", "gallery_images", "distractors", "junk"):
        assert out[k] == fx.expected[k], k
    assert out["published"]["train_images"] == 12_936
    assert out["published"]["gallery_images"] == 15_913
    split_sizes = (fx.expected[k] for k in ("train_images", "query_images", "gallery_images"))
    assert out["images_checked"] == sum(split_sizes)
    assert out["root"] == str(fx.root)
    assert out["has_cameras"] is True


def test_verify_table_partial_ilids(tmp_path: Path) -> None:
    fx = build_partial_ilids(tmp_path)
    res = run("partial_ilids", str(fx.root), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "query_images" in res.stdout and "119" in res.stdout and "DIFFERS" in res.stdout


def test_verify_json_faces(tmp_path: Path) -> None:
    fx = build_lfw(tmp_path)
    out = json.loads(run("lfw", str(tmp_path), "--json", cwd=tmp_path).stdout)
    assert out["images"] == fx.expected["images"]
    assert out["published"] == {"images": 13_233, "ids": 5_749, "ids_with_2_or_more": 1_680}
    assert out["info"]["pairs_path"] == fx.expected["pairs_path"]


def test_verify_broken_tree(tmp_path: Path) -> None:
    fx = build_market1501(tmp_path)
    shutil.rmtree(fx.root / "query")
    res = run("market1501", str(fx.root), "--json", cwd=tmp_path)
    assert res.returncode == 2
    assert str(fx.root / "query") in res.stderr
    assert res.stdout == ""


def test_verify_unreadable_image(tmp_path: Path) -> None:
    fx = build_market1501(tmp_path)
    bad = fx.root / "bounding_box_test" / "0001_c2s1_000301_01.jpg"
    bad.write_bytes(b"truncated")
    res = run("market1501", str(fx.root), "--check-images", cwd=tmp_path)
    assert res.returncode == 2
    assert str(bad) in res.stderr


@pytest.mark.parametrize("args", [["duke", "/x"], []])
def test_verify_bad_arguments(tmp_path: Path, args: list[str]) -> None:
    assert run(*args, cwd=tmp_path).returncode != 0

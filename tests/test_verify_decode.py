"""data_prep/verify.py decodes every image: a truncated download fails the check, and every
unreadable file is listed with its reason (stderr and JSON); ``--quick`` counts only."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from ppcl.data.common import decode_error, unreadable_images
from tests.fixtures import build_lfw, build_market1501, build_partial_reid, write_truncated_jpeg

SCRIPT = Path(__file__).resolve().parents[1] / "data_prep" / "verify.py"


def verify(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def _break(fx_root: Path) -> dict[str, str]:
    """Three broken files in a Market-1501 tree, each a different way: path -> a word of its reason."""
    bad = {
        write_truncated_jpeg(fx_root / "bounding_box_train" / "0007_c5s3_090118_02.jpg", keep=0.5): "truncated",
        fx_root / "query" / "0003_c2s1_002551_00.jpg": "cannot identify",
        fx_root / "bounding_box_test" / "0005_c2s1_004626_01.jpg": "cannot identify",
    }
    list(bad)[1].write_bytes(b"<html>503 Service Unavailable</html>")
    list(bad)[2].write_bytes(b"")
    return {str(p): why for p, why in bad.items()}


def test_a_truncated_jpeg_opens_but_does_not_decode(tmp_path):
    """The crafted file is the hard case: its header is whole, so opening it (or reading its size,
    which is all a count check does) succeeds; only decoding every pixel finds the damage."""
    path = write_truncated_jpeg(tmp_path / "x.jpg", keep=0.6)
    with Image.open(path) as im:
        assert im.size == (32, 64)
    assert decode_error(path) is not None and "truncated" in decode_error(path)
    assert decode_error(write_truncated_jpeg(tmp_path / "whole.jpg", keep=1.0)) is None
    assert decode_error(tmp_path / "missing.jpg") == "no such file"


def test_verify_lists_every_unreadable_file_with_its_reason(tmp_path):
    fx = build_market1501(tmp_path)
    bad = _break(fx.root)
    res = verify("market1501", str(fx.root), "--json", "--workers", "3", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    out = json.loads(res.stdout)
    total = sum(fx.expected[k] for k in ("train_images", "query_images", "gallery_images"))
    assert out["images_checked"] == total
    listed = {u["path"]: u["reason"] for u in out["unreadable"]}
    assert set(listed) == set(bad), listed
    for path, word in bad.items():
        assert word in listed[path], (path, listed[path])
        assert path in res.stderr
    assert f"{len(bad)} of {total} images" in res.stderr
    assert out["train_images"] == fx.expected["train_images"]  # the counts are still reported


def test_verify_table_names_the_truncated_file(tmp_path):
    fx = build_partial_reid(tmp_path)
    bad = write_truncated_jpeg(fx.root / "whole_body_images" / "002_002.jpg", keep=0.7)
    res = verify("partial_reid", str(tmp_path), cwd=tmp_path)
    assert res.returncode == 2
    assert "1 UNREADABLE" in res.stdout and f"{bad}: OSError" in res.stdout and str(bad) in res.stderr


def test_verify_quick_counts_only_and_a_clean_tree_passes(tmp_path):
    fx = build_market1501(tmp_path)
    clean = verify("market1501", str(fx.root), "--json", cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["unreadable"] == []
    _break(fx.root)
    quick = verify("market1501", str(fx.root), "--json", "--quick", cwd=tmp_path)
    assert quick.returncode == 0, quick.stderr
    out = json.loads(quick.stdout)
    assert out["images_checked"] is None and out["unreadable"] is None
    assert out["query_images"] == fx.expected["query_images"]
    assert "not decoded (--quick)" in verify("market1501", str(fx.root), "--quick", cwd=tmp_path).stdout


def test_verify_lfw_kept_in_a_folder_of_its_own(tmp_path):
    fx = build_lfw(tmp_path / "DATA" / "lfw", folder="lfw-deepfunneled")
    bad = write_truncated_jpeg(fx.root / "Zico" / "Zico_0002.jpg", keep=0.4)
    res = verify("lfw", str(tmp_path / "DATA" / "lfw"), "--json", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    out = json.loads(res.stdout)
    assert out["root"] == str(fx.root) and out["images"] == fx.expected["images"]
    assert [u["path"] for u in out["unreadable"]] == [str(bad)]
    assert out["info"]["pairs_path"] == str(tmp_path / "DATA" / "lfw" / "pairs.txt")


def test_verify_refuses_a_bad_worker_count(tmp_path):
    fx = build_lfw(tmp_path)
    res = verify("lfw", str(fx.root), "--workers", "0", cwd=tmp_path)
    assert res.returncode != 0 and "--workers" in res.stderr


@pytest.mark.parametrize("workers", [1, 4])
def test_parallel_decoding_reports_each_bad_file_once_in_input_order(tmp_path, workers):
    import numpy as np

    rng = np.random.default_rng(workers)
    paths, want = [], []
    for i in range(60):
        p = tmp_path / f"{i:03d}.jpg"
        broken = rng.random() < 0.3
        write_truncated_jpeg(p, keep=float(rng.uniform(0.2, 0.9)) if broken else 1.0, seed=i)
        paths.append(str(p))
        if broken:
            want.append(str(p))
    got = unreadable_images(paths, workers=workers)
    assert [p for p, _ in got] == want
    assert all(r for _, r in got)


def test_the_check_refuses_to_run_where_pil_would_accept_truncated_files(tmp_path, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        unreadable_images([str(write_truncated_jpeg(tmp_path / "x.jpg"))])

"""Face alignment (MTCNN + similarity): the mirrored tree, the manifest, resuming, clear errors.

Needs facenet-pytorch (installed with --no-deps; see ppcl/data/align.py). The images: a few of
the kit's synthetic 64x64 faces (MTCNN finds about two thirds of them at 3x upscaling), a blank
image (no face: the centre-crop fallback) and a real photograph (matplotlib's Grace Hopper
sample, which MTCNN must find).
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib import cbook
from PIL import Image

from ppcl.data.align import (
    MANIFEST,
    PROGRESS_LOG,
    AlignConfig,
    align_face,
    align_tree,
    detect_largest,
    load_detector,
    similarity_transform,
    template,
)
from ppcl.data.casia_webface import load_casia_webface
from ppcl.data.common import DatasetError
from ppcl.data.lfw import load_lfw
from ppcl.data.synthetic import SMOKE, ensure_synthetic

ROOT = Path(__file__).resolve().parents[1]
CFG = AlignConfig(size=80)


def grace_hopper() -> Image.Image:
    """A real face photograph (512x600), shrunk to 160x188 to keep MTCNN quick."""
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as im:
        return im.convert("RGB").resize((160, 188), Image.Resampling.BICUBIC)


def files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root``: relative path -> (mtime_ns, size)."""
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}


def images(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*.jpg")}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    return ensure_synthetic(tmp_path_factory.mktemp("synth"), SMOKE, progress=False)


@pytest.fixture(scope="module")
def detector():
    return load_detector(CFG)


@pytest.fixture(scope="module")
def lfw_src(synthetic, tmp_path_factory) -> Path:
    """A parent folder holding lfw/ (4 synthetic people, 5 images; a blank image; Grace Hopper) and pairs.txt."""
    src = tmp_path_factory.mktemp("src")
    people = sorted(p for p in (synthetic / "lfw").iterdir() if p.is_dir())[:4]
    for p in people:
        (src / "lfw" / p.name).mkdir(parents=True)
        for f in sorted(p.glob("*.jpg"))[:2]:
            shutil.copy2(f, src / "lfw" / p.name / f.name)
    (src / "lfw" / "Blank_Wall").mkdir()
    Image.new("RGB", (64, 64), (128, 128, 128)).save(src / "lfw" / "Blank_Wall" / "Blank_Wall_0001.jpg")
    (src / "lfw" / "Grace_Hopper").mkdir()
    grace_hopper().save(src / "lfw" / "Grace_Hopper" / "Grace_Hopper_0001.jpg")
    (src / "pairs.txt").write_text("1 0\n")
    return src


@pytest.fixture(scope="module")
def lfw_run(lfw_src, detector, tmp_path_factory) -> tuple[Path, dict]:
    dst = tmp_path_factory.mktemp("aligned") / "out"
    return dst, align_tree(lfw_src, dst, CFG, detector=detector)


def test_the_tree_mirrors_the_lfw_layout_at_the_asked_size(lfw_src, lfw_run):
    dst, summary = lfw_run
    assert images(dst) == images(lfw_src)
    assert (dst / "pairs.txt").read_text() == "1 0\n"  # the reader finds pairs.txt beside the images
    src_data, dst_data = load_lfw(lfw_src), load_lfw(dst)
    assert dst_data.names == src_data.names and len(dst_data.records) == len(src_data.records)
    assert dst_data.info["pairs_path"] is not None
    for r in dst_data.records:
        with Image.open(r.path) as im:
            assert im.size == (80, 80) and im.mode == "RGB"
    assert summary["written"] == len(src_data.records) and summary["skipped"] == 0
    assert not list(dst.rglob("*.tmp"))


def test_pairs_beside_the_image_folder_go_inside_the_output(detector, tmp_path):
    """SRC_ROOT = the image folder itself, pairs.txt beside it: the output root gets it inside."""
    (tmp_path / "lfw" / "Blank_Wall").mkdir(parents=True)
    Image.new("RGB", (64, 64), (90, 90, 90)).save(tmp_path / "lfw" / "Blank_Wall" / "Blank_Wall_0001.jpg")
    (tmp_path / "pairs.txt").write_text("1 0\n")
    summary = align_tree(tmp_path / "lfw", tmp_path / "out", CFG, detector=detector)
    assert summary == {**summary, "images": 1, "detected": 0, "fallback_center": 1, "written": 1}
    assert load_lfw(tmp_path / "out").info["pairs_path"] == str(tmp_path / "out" / "pairs.txt")
    assert images(tmp_path / "out") == {"Blank_Wall/Blank_Wall_0001.jpg"}


def test_every_image_has_a_manifest_entry(lfw_src, lfw_run):
    dst, summary = lfw_run
    m = json.loads((dst / MANIFEST).read_text())
    assert m["config"]["size"] == 80 and m["layout"] == "lfw"
    by_source = {e["source"]: e for e in m["images"]}
    assert set(by_source) == images(lfw_src) and len(m["images"]) == len(by_source)
    for e in m["images"]:
        if "fallback" in e:
            assert e["fallback"] == "center" and e["faces"] == 0
        else:
            assert len(e["box"]) == 4 and np.shape(e["landmarks"]) == (5, 2) and 0 < e["score"] <= 1
    blank = by_source["lfw/Blank_Wall/Blank_Wall_0001.jpg"]
    grace = by_source["lfw/Grace_Hopper/Grace_Hopper_0001.jpg"]
    assert blank["fallback"] == "center"
    assert "fallback" not in grace and grace["score"] > 0.95 and grace["upscale"] == 1
    fallback = sum("fallback" in e for e in m["images"])
    assert m["counts"] == {"images": len(by_source), "detected": len(by_source) - fallback, "fallback_center": fallback}
    assert {k: summary[k] for k in m["counts"]} == m["counts"]
    synthetic_found = sum("fallback" not in e for s, e in by_source.items() if "Blank" not in s and "Grace" not in s)
    print(f"MTCNN found {synthetic_found} of {len(by_source) - 2} synthetic faces")
    assert synthetic_found >= 1


def test_a_rerun_writes_nothing(lfw_src, lfw_run, tmp_path):
    dst = tmp_path / "out"
    shutil.copytree(lfw_run[0], dst, copy_function=shutil.copy2)
    before = files(dst)

    def no_detector(*_):
        raise AssertionError("a finished run must not need the detector")

    summary = align_tree(lfw_src, dst, CFG, load=no_detector)
    assert summary["written"] == 0 and summary["skipped"] == summary["images"]
    assert files(dst) == before  # no new file, none rewritten (manifest included)


def test_an_interrupted_run_resumes(lfw_src, lfw_run, detector, tmp_path):
    dst = tmp_path / "out"
    shutil.copytree(lfw_run[0], dst, copy_function=shutil.copy2)
    (dst / MANIFEST).unlink()
    log = (dst / PROGRESS_LOG).read_text().splitlines(keepends=True)
    last = json.loads(log[-1])["source"]  # killed while logging the last image: half a line
    (dst / PROGRESS_LOG).write_text("".join(log[:-1]) + log[-1][:25])
    first = json.loads(log[1])["source"]  # and this image's file never got renamed into place
    (dst / first).unlink()
    kept = files(dst)
    summary = align_tree(lfw_src, dst, CFG, detector=detector)
    assert summary["written"] == 2 and summary["skipped"] == summary["images"] - 2
    after = files(dst)
    changed = {k for k in after if kept.get(k) != after[k]}
    assert changed == {first, last, PROGRESS_LOG, MANIFEST}
    m = json.loads((dst / MANIFEST).read_text())
    assert sorted(e["source"] for e in m["images"]) == sorted(images(lfw_src))


def test_casia_layout_is_mirrored(synthetic, detector, tmp_path):
    src = tmp_path / "casia"
    ids = sorted(p for p in (synthetic / "CASIA-WebFace").iterdir() if p.is_dir())[:2]
    for p in ids:  # the first two images of each
        (src / "CASIA-WebFace" / p.name).mkdir(parents=True)
        for f in sorted(p.glob("*.jpg"))[:2]:
            shutil.copy2(f, src / "CASIA-WebFace" / p.name / f.name)
    summary = align_tree(src, tmp_path / "out", AlignConfig(size=48), detector=detector)
    assert images(tmp_path / "out") == images(src)
    a, b = load_casia_webface(src), load_casia_webface(tmp_path / "out")
    assert b.names == a.names == [p.name for p in ids] and len(b.records) == len(a.records) == summary["images"]
    with Image.open(b.records[0].path) as im:
        assert im.size == (48, 48)


def test_alignment_puts_the_landmarks_on_the_template(detector):
    """Re-detecting on the aligned face finds its landmarks where the template put them."""
    cfg = AlignConfig(size=160, margin=0.3)
    aligned, rec = align_face(grace_hopper(), detector, cfg)
    assert aligned.size == (160, 160) and "fallback" not in rec
    again = detect_largest(detector, aligned, detect_min_side=1)
    err = np.abs(again["landmarks"] - template(160, 0.3)).max()
    assert err < 0.04 * 160, err


def test_similarity_transform_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, s, t = rng.uniform(-np.pi, np.pi), rng.uniform(0.2, 3), rng.uniform(-50, 50, 2)
        m = np.array([[s * np.cos(a), -s * np.sin(a), t[0]], [s * np.sin(a), s * np.cos(a), t[1]]])
        src = rng.uniform(0, 100, (5, 2))
        np.testing.assert_allclose(similarity_transform(src, src @ m[:, :2].T + m[:, 2]), m, atol=1e-9)
    mirrored = template(112) * [-1, 1]  # a reflection is not a similarity: the fit keeps det > 0
    assert np.linalg.det(similarity_transform(template(112), mirrored)[:, :2]) > 0
    with pytest.raises(ValueError, match="must not all coincide"):
        similarity_transform(np.ones((5, 2)), template(112))


def test_template_and_margin():
    t0, t1 = template(224), template(224, margin=0.5)
    np.testing.assert_allclose(t0, np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                                             [41.5493, 92.3655], [70.7299, 92.2041]]) * 2)
    np.testing.assert_allclose(t1 - 112, (t0 - 112) / 2)  # margin 0.5 on each side: the face at half scale


def test_missing_src_root_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(DatasetError, match=r"nowhere: expected a face dataset folder .*; found nothing there"):
        align_tree(tmp_path / "nowhere", tmp_path / "out")
    sys.path.insert(0, str(ROOT / "data_prep"))
    try:
        import align_faces
    finally:
        sys.path.remove(str(ROOT / "data_prep"))
    assert align_faces.main([str(tmp_path / "nowhere"), str(tmp_path / "out")]) == 2
    assert "nowhere: expected a face dataset folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_bad_requests_are_refused(lfw_src, lfw_run, tmp_path):
    with pytest.raises(ValueError, match="dst_root must lie outside src_root"):
        align_tree(lfw_src, lfw_src / "aligned")
    with pytest.raises(ValueError, match=r"holds a run with .*'size': 80.* but this run asks for .*'size': 112"):
        align_tree(lfw_src, lfw_run[0], AlignConfig(size=112))
    both = tmp_path / "both"
    (both / "lfw" / "A_B").mkdir(parents=True)
    (both / "CASIA-WebFace" / "0000001").mkdir(parents=True)
    with pytest.raises(DatasetError, match="found both CASIA-WebFace/ and an LFW folder"):
        align_tree(both, tmp_path / "out")
    with pytest.raises(ValueError, match="margin must be a fraction"):
        AlignConfig(margin=-0.1)


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "facenet_pytorch", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"facenet-pytorch.*pip install --no-deps facenet-pytorch==2\.6\.0"):
        load_detector()


def test_script_help_runs():
    out = subprocess.run([sys.executable, str(ROOT / "data_prep" / "align_faces.py"), "--help"],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "SRC_ROOT DST_ROOT" in out.stdout and "--margin" in out.stdout

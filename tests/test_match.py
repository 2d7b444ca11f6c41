"""PPCL on a user's own images (``ppcl.match``, ``python -m ppcl.evaluate.match``): a folder of
images written here, a checkpoint saved from a smoke-sized model, the ranking, and every refusal."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ppcl
from ppcl.data.common import Record
from ppcl.evaluate.engine import encode, load_images
from ppcl.evaluate.localisation import to_image
from ppcl.evaluate.match import IMAGE_SUFFIXES, main, match
from ppcl.evaluate.pairwise import all_pairs
from ppcl.io import save_checkpoint
from ppcl.models import build_ppcl
from tests.test_guards import guard_model

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ({"depth": "resnet10", "width": 8, "input_size": [64, 32]},
         {"depth": "resnet10", "width": 8, "input_size": [64, 32], "third_stride": 1, "num_classes": 8},
         {"patch_size": [4, 2], "channels": [8, 8, 8], "init_scale": 0.9})


def smoke_model(seed: int = 0):
    """An untrained smoke-sized PPCL (the smoke profile's widths and input size). CRLoc starts
    from boxes covering 0.9 of the reference, so regions are most of each image."""
    torch.manual_seed(seed)
    return build_ppcl(*SMOKE)


def save(model, path: Path) -> Path:
    return save_checkpoint({"arch": model.arch(), "model": model.state_dict()}, path)


def stripes(path: Path, period: int, a, b, size=(96, 48)) -> None:
    """Vertical stripes of colours ``a`` and ``b``: a texture that a crop spanning the width keeps
    exactly when resized to the model's aspect (it does not vary along y)."""
    x = np.arange(size[1])
    row = np.where(((x // max(1, period // 2)) % 2 == 0)[:, None], np.asarray(a), np.asarray(b))
    Image.fromarray(np.broadcast_to(row, (*size, 3)).astype(np.uint8)).save(path)


def striped_gallery(folder: Path) -> Path:
    """``folder`` (created) holding six holistic images ``000.png``..``005.png`` (48x96 PNGs of
    stripes of periods 2, 4, ..., 12 in random colours): no two alike, no identities."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        stripes(folder / f"{i:03d}.png", 2 + 2 * i, rng.integers(0, 256, 3), rng.integers(0, 256, 3))
    return folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A gallery of six holistic images (48x96 PNGs), a README beside them, and a checkpoint."""
    root = tmp_path_factory.mktemp("match")
    gallery = striped_gallery(root / "gallery")
    (gallery / "README.txt").write_text("not an image: skipped")
    (gallery / ".hidden.png").write_bytes(b"skipped too")
    return gallery, save(smoke_model(), root / "ppcl-s0.pt")


def crop_query(gallery: Path, src: int, box, out: Path) -> Path:
    Image.open(gallery / f"{src:03d}.png").crop(box).save(out)
    return out


@pytest.mark.parametrize("src", range(6))
def test_the_querys_own_holistic_source_ranks_first(folder, tmp_path, src):
    gallery, ckpt = folder
    for box in ((0, 0, 48, 40), (0, 50, 48, 96)):  # the upper and the lower part of the source
        q = crop_query(gallery, src, box, tmp_path / "query.png")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = match(q, gallery, ckpt, top=3, progress=False)
        assert Path(r.matches[0].path).name == f"{src:03d}.png", [m.path for m in r.matches]
        assert [m.rank for m in r.matches] == [1, 2, 3] and r.gallery_size == 6
        d = [m.distance for m in r.matches]
        assert d == sorted(d)


def test_match_is_the_kit_evaluation_of_the_pair(folder, tmp_path):
    """Distances, boxes, gate and layout box against the engine, with a model whose GLRec gives every
    image (gallery images too) its own layout box: the boxes come back in each gallery image's frame."""
    gallery, _ = folder
    model = guard_model().eval()
    ckpt = save(model, tmp_path / "guard.pt")
    q = crop_query(gallery, 2, (0, 0, 48, 40), tmp_path / "q.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = ppcl.match(q, gallery, ckpt, top=0, progress=False)  # the lazy top-level name
    paths = sorted(gallery.glob("[0-9]*.png"))
    assert sorted(m.path for m in r.matches) == [str(p) for p in paths]
    size = model.input_size
    eq = encode(model, load_images([Record(str(q), 0)], size), "+R")
    eg = encode(model, load_images([Record(str(p), 0) for p in paths], size), "+R")
    assert not torch.allclose(eg.t, torch.tensor([1.0, 1.0, 0.0, 0.0]))
    d, b = all_pairs(model, eq.maps, eq.t, eg.maps, "crloc", return_boxes=True)
    boxes = to_image(b[0], eg.t)
    for m in r.matches:
        j = [str(p) for p in paths].index(m.path)
        assert m.distance == pytest.approx(float(d[0, j]), abs=1e-5)
        assert torch.allclose(torch.tensor(m.box), boxes[j], atol=1e-5)
    assert r.gate == pytest.approx(float(eq.eta[0]), abs=1e-6) and r.partial == (r.gate >= float(model.glrec.threshold))
    assert torch.allclose(torch.tensor(r.layout), eq.t[0], atol=1e-6)
    frame = r.frame()
    assert list(frame.columns) == ["rank", "path", "distance", "box_sx", "box_sy", "box_tx", "box_ty"] and len(frame) == 6


def test_resized_images_are_said_and_same_size_ones_are_not(folder, tmp_path):
    gallery, ckpt = folder
    q = crop_query(gallery, 1, (0, 0, 48, 40), tmp_path / "q.png")
    with pytest.warns(UserWarning, match="resized to 32x64"):
        r = match(q, [gallery / "000.png", gallery / "001.png"], ckpt, progress=False)
    assert any("the query image (48x40) resized" in n for n in r.notes)
    assert any("2 of the 2 gallery images" in n for n in r.notes)
    exact = tmp_path / "exact"
    exact.mkdir()
    for i in range(2):
        Image.open(gallery / f"{i:03d}.png").resize((32, 64)).save(exact / f"{i}.png")
    Image.open(gallery / "001.png").resize((32, 64)).save(tmp_path / "q64.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning at the model's own size
        r = match(tmp_path / "q64.png", exact, ckpt, progress=False)
    assert r.notes == [] and "note:" not in str(r)
    tiny = Image.new("RGB", (1, 1), (255, 0, 0))  # one pixel is an image: resized, not refused
    with pytest.warns(UserWarning, match=r"the query image \(1x1\) resized"):
        assert len(match(tiny, exact, ckpt, progress=False).matches) == 2


def test_every_refusal_names_the_file_and_what_was_expected(folder, tmp_path):
    gallery, ckpt = folder
    q = crop_query(gallery, 0, (0, 0, 48, 40), tmp_path / "q.png")
    fake = tmp_path / "fake.png"
    fake.write_text("this is text, not a PNG")
    cases = [
        ((fake, gallery, ckpt), ValueError, [str(fake), "expected a readable", "for the query"]),
        ((tmp_path / "missing.png", gallery, ckpt), ValueError, ["missing.png", "no such file"]),
        ((gallery, gallery, ckpt), ValueError, [str(gallery), "found a folder"]),
        ((q, [gallery / "000.png", fake], ckpt), ValueError, [str(fake), "for the gallery"]),
        ((Image.new("RGB", (0, 7)), gallery, ckpt), ValueError, ["with pixels", "0x7"]),
        ((q, gallery, tmp_path / "none.pt"), FileNotFoundError, ["none.pt", "expected a trained PPCL model's checkpoint"]),
        ((q, gallery, tmp_path), ValueError, [str(tmp_path), "found a folder"]),
        ((q, gallery, fake), ValueError, [str(fake), "expected a ppcl checkpoint"]),
        ((q, tmp_path / "nowhere", ckpt), FileNotFoundError, ["nowhere", "no such folder"]),
        ((q, [], ckpt), ValueError, ["an empty list"]),
    ]
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.txt").write_text("x")
    cases.append(((q, empty, ckpt), ValueError, [str(empty), "expected a folder of gallery images", "notes.txt", "sub"]))
    from ppcl.models.glrec import GLRec, GLRecConfig

    glrec = GLRec(GLRecConfig("resnet10", 8, (64, 32)))
    not_ppcl = save_checkpoint({"arch": glrec.arch(), "model": glrec.state_dict()}, tmp_path / "glrec.pt")
    cases.append(((q, gallery, not_ppcl), ValueError, [str(not_ppcl), "expected a PPCL checkpoint", "GLRec"]))
    other = build_ppcl(*SMOKE)
    mismatched = save_checkpoint({"arch": {**other.arch(), "crloc": {**other.arch()["crloc"], "channels": [4, 4, 4]}},
                                  "model": other.state_dict()}, tmp_path / "mismatched.pt")
    cases.append(((q, gallery, mismatched), ValueError, [str(mismatched), "does not load"]))
    for args, err, words in cases:
        with pytest.raises(err) as e:
            match(*args, progress=False)
        for w in words:
            assert w in str(e.value), (args, str(e.value))
    with pytest.raises(ValueError, match="top: expected"):
        match(q, gallery, ckpt, top=-1, progress=False)


def test_the_suffixes_pick_the_gallery(folder):
    from ppcl.evaluate.match import gallery_paths

    gallery, _ = folder
    names = [p.name for p in gallery_paths(gallery)]
    assert names == [f"{i:03d}.png" for i in range(6)]  # README.txt and the hidden file skipped, sorted
    assert ".png" in IMAGE_SUFFIXES and ".txt" not in IMAGE_SUFFIXES


def test_the_command(folder, tmp_path, capsys):
    gallery, ckpt = folder
    q = crop_query(gallery, 4, (0, 50, 48, 96), tmp_path / "q.png")
    out = tmp_path / "result.json"
    assert main([str(q), str(gallery), str(ckpt), "--top", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "GLRec gate" in text and "004.png" in text.splitlines()[3] and "resized" in text
    obj = json.loads(out.read_text())
    assert [Path(m["path"]).name for m in obj["matches"]][0] == "004.png" and len(obj["matches"]) == 2
    assert {"query", "checkpoint", "gate", "partial", "layout", "notes", "gallery_size"} <= set(obj)
    # several image paths instead of a folder
    assert main([str(q), str(gallery / "004.png"), str(gallery / "001.png"), str(ckpt), "--top", "0"]) == 0
    assert "the top 2 of 2 gallery images" in capsys.readouterr().out
    (tmp_path / "no_images").mkdir()
    assert main([str(q), str(tmp_path / "no_images"), str(ckpt)]) == 2  # a folder without images: an error, no traceback
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(tmp_path / "no_images") in err and "Traceback" not in err


def test_the_module_runs_and_import_ppcl_stays_light(folder, tmp_path):
    gallery, ckpt = folder
    light = subprocess.run([sys.executable, "-c", "import sys, ppcl; print('torch' in sys.modules)"], cwd=ROOT,
                           capture_output=True, text=True)
    assert light.stdout.strip() == "False", light.stderr
    q = crop_query(gallery, 3, (0, 0, 48, 40), tmp_path / "q.png")
    r = subprocess.run([sys.executable, "-m", "ppcl.evaluate.match", str(q), str(gallery), str(ckpt), "--top", "1"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "003.png" in r.stdout

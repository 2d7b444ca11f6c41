"""Body frames of the synthetic images and the region of one image that corresponds to a region
of another (ppcl.data.bodies): the map's algebra, and its agreement with the generated files."""
from __future__ import annotations

import doctest
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ppcl.data import bodies as B
from ppcl.data import synthetic as S
from ppcl.data.bodies import Body, box_statistics, corresponding_region, crop_body, load_bodies
from ppcl.data.partial import crop_pixels
from ppcl.geometry import t_to_box

TINY = replace(
    S.SMOKE, n_train_ids=3, images_per_train_id=(2, 3), n_test_ids=2, n_gallery_per_id=(2, 2), n_distractors=2,
    n_junk=1, n_partial_reid_ids=2, partial_reid_images_per_id=2, n_ilids_ids=2, n_face_train_ids=1,
    face_images_per_train_id=(1, 1), n_lfw_ids=2, lfw_max_images_per_id=2, lfw_folds=1, lfw_pairs_per_fold=1,
)

A = Body(cx=0.45, top=0.05, width_scale=0.8, ph=0.9)
BODIES = [A, Body(0.62, -0.08, 1.1, 1.05), Body(0.3, 0.12, 0.6, 0.7, flipped=True), Body(0.55, 0.0, 0.95, 1.0, True)]


def random_t(n: int, seed: int = 0, inside: bool = True) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    s = 0.1 + 0.8 * torch.rand(n, 2, generator=g, dtype=torch.float64)
    c = (torch.rand(n, 2, generator=g, dtype=torch.float64) * 2 - 1) * ((1 - s) if inside else 1.5)
    return torch.cat([s, c], dim=1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return S.generate(tmp_path_factory.mktemp("tiny"), TINY, progress=False, workers=1)


def test_doctests():
    assert doctest.testmod(B, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


@pytest.mark.parametrize("body", BODIES)
def test_identity_when_a_is_b(body):
    t = random_t(50)
    assert torch.allclose(corresponding_region(t, body, body), t, atol=1e-12)
    whole = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    assert torch.allclose(corresponding_region(whole, body, body), whole)


@pytest.mark.parametrize("a", BODIES)
@pytest.mark.parametrize("b", BODIES)
def test_a_to_b_to_a_is_the_identity_before_clipping(a, b):
    t = random_t(50, seed=1, inside=False)
    there = corresponding_region(t, a, b, clip=False)
    assert torch.allclose(corresponding_region(there, b, a, clip=False), t, atol=1e-9)
    # clipped, the result lies inside b's frame and inside the unclipped region
    clipped = t_to_box(corresponding_region(t, a, b))
    assert clipped.min() >= -1 - 1e-9 and clipped.max() <= 1 + 1e-9
    full = t_to_box(there)
    meets = (full[:, :2] < 1).all(1) & (full[:, 2:] > -1).all(1)  # rows whose region meets b's frame
    assert meets.sum() > 10
    assert (clipped[meets, :2] >= full[meets, :2] - 1e-9).all() and (clipped[meets, 2:] <= full[meets, 2:] + 1e-9).all()
    # a region wholly outside b's frame becomes a degenerate one on its edge
    assert (torch.minimum(clipped[~meets, 2] - clipped[~meets, 0], clipped[~meets, 3] - clipped[~meets, 1]) < 1e-9).all()


def test_a_hand_worked_shifted_and_scaled_body():
    # a: body centred, head at 0.05, 0.9 high, u units 0.8 of the width
    # b: the same person shifted right by 0.1, 1.2 times as large, head at -0.1 (cut)
    b = Body(cx=0.55, top=-0.1, width_scale=0.96, ph=1.08)
    # a's upper half of the frame: x in [0, 1], y in [0, 0.5] (fractions) -> t = (1, 0.5, 0, -0.5)
    t = torch.tensor([[1.0, 0.5, 0.0, -0.5]], dtype=torch.float64)
    # u = (x - 0.45) / 0.8 in [-0.5625, 0.6875]; v = (y - 0.05) / 0.9 in [-1/18, 0.5]
    # b: x = 0.55 + 0.96 u in [0.01, 1.21]; y = -0.1 + 1.08 v in [-0.16, 0.44]
    unclipped = torch.tensor([[1.2, 0.6, 2 * 0.61 - 1, 2 * 0.14 - 1]], dtype=torch.float64)
    assert torch.allclose(corresponding_region(t, A, b, clip=False), unclipped)
    # clipped to b's frame: x in [0.01, 1], y in [0, 0.44] -> [-0.98, 1] x [-1, -0.12]
    clipped = torch.tensor([[0.99, 0.44, 0.01, -0.56]], dtype=torch.float64)
    assert torch.allclose(corresponding_region(t, A, b), clipped)


def test_flips_mirror_x():
    t = random_t(30, seed=2)
    mirror = t * torch.tensor([1, 1, -1, 1], dtype=t.dtype)
    # the same body flipped: the region's mirror image
    flipped = Body(1 - A.cx, A.top, A.width_scale, A.ph, flipped=True)
    assert torch.allclose(corresponding_region(t, A, flipped), mirror, atol=1e-12)
    # a flip of b alone, of a alone, of both: composing two flips is none
    b = BODIES[1]
    fb = Body(1 - b.cx, b.top, b.width_scale, b.ph, flipped=True)
    assert torch.allclose(corresponding_region(t, A, fb, clip=False),
                          corresponding_region(t, A, b, clip=False) * torch.tensor([1, 1, -1, 1], dtype=t.dtype))
    # both flipped: the mirror image of the unflipped answer
    assert torch.allclose(corresponding_region(mirror, flipped, fb),
                          corresponding_region(t, A, b) * torch.tensor([1, 1, -1, 1], dtype=t.dtype))
    # the person's right hand (u < 0) is at the frame's left unflipped, at its right flipped
    assert A.to_frame(-0.2, 0.5)[0] < A.cx and flipped.to_frame(-0.2, 0.5)[0] > flipped.cx


def test_batches_of_bodies_and_shapes():
    t = random_t(len(BODIES), seed=3)
    batched = corresponding_region(t, BODIES, BODIES[::-1])
    rows = torch.cat([corresponding_region(t[i], a, b) for i, (a, b) in enumerate(zip(BODIES, BODIES[::-1]))])
    assert batched.shape == (len(BODIES), 4) and torch.allclose(batched, rows)
    assert corresponding_region(torch.tensor([1.0, 1.0, 0.0, 0.0]), A, A).shape == (1, 4)
    assert corresponding_region(t.float(), A, BODIES[1]).dtype == torch.float32
    with pytest.raises(ValueError):
        corresponding_region(t, BODIES[:2], A)


def test_crop_body_sees_the_source_through_t():
    t = random_t(20, seed=4)
    whole = torch.tensor([[1.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    for body in BODIES:
        for ti in t:
            crop = crop_body(body, ti.tolist())
            # the crop's whole frame is region t of its source
            assert torch.allclose(corresponding_region(whole, crop, body, clip=False), ti[None], atol=1e-12)


def test_load_bodies_and_the_partial_ground_truth(tiny, tmp_path):
    assert load_bodies(tmp_path) is None and box_statistics(tmp_path) is None  # real data: no meta
    bodies = load_bodies(tiny)
    meta = json.loads((tiny / S.META_NAME).read_text())
    with_body = {str(tiny / rel) for rel, r in meta["bodies"].items() if r["body"] is not None}
    partial = {str(tiny / r["path"]) for r in meta["partial"]}
    assert set(bodies) == with_body | partial
    assert all(Path(p).is_file() for p in bodies)
    whole = torch.tensor([[1.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    for r in meta["partial"]:
        src, part = bodies[str(tiny / r["source"])], bodies[str(tiny / r["path"])]
        # the region of the source a partial image shows is its t
        assert torch.allclose(corresponding_region(whole, part, src), torch.tensor([r["t"]], dtype=torch.float64),
                              atol=1e-5)
        # and the partial image is that region's pixels
        img = np.asarray(Image.open(tiny / r["source"]))
        assert crop_pixels(img, np.asarray(r["t"]))[0].shape[:2] == tuple(r["size"])


def test_box_statistics(tiny):
    df = box_statistics(tiny)
    meta = json.loads((tiny / S.META_NAME).read_text())
    assert len(df) == len(meta["bodies"])
    for col in ("dataset", "split", "source", "box", "box_iou", "height", "top", "centre_offset", "aspect",
                "head_cut", "feet_cut"):
        assert col in df.columns, col
    assert set(df.dataset) == {"market1501", "partial_reid", "partial_ilids", "partial_reid_large", "partial_ilids_large"}
    assert not df.path.str.startswith("large/").any() or set(df[df.path.str.startswith("large/")].dataset) == {
        "partial_reid_large", "partial_ilids_large"}
    assert set(df[df.dataset == "market1501"].split) == {"bounding_box_train", "query", "bounding_box_test"}
    det = df[df.box == "detector"]
    assert len(det) > 10 and (det.box_iou >= TINY.min_box_iou).all()
    assert (df[df.split == "query"].box_iou == 1.0).all()
    assert df.source.sum() == ((TINY.n_partial_reid_ids + TINY.n_partial_reid_ids_large) * TINY.partial_reid_images_per_id
                               + TINY.n_ilids_ids + TINY.n_ilids_ids_large)
    people = df[df.box != "none"]
    assert people.height.between(0.3, 3).all() and people.aspect.between(0.3, 3).all()
    assert df[df.box == "none"].height.isna().all()

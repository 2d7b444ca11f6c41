"""The localisation ruler (``ppcl.evaluate.localisation``): the true corresponding region for every
pair, the region distance with a given box against a slow per-pair reference, and its tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from ppcl.data.bodies import Body, corresponding_region
from ppcl.evaluate.localisation import (
    REGIONS,
    capture_table,
    localisation_summary,
    region_boxes_and_distances,
    ruler,
    ruler_rows,
    to_image,
    true_regions,
)
from ppcl.evaluate.pairwise import block_distances
from ppcl.geometry import crop, identity_t
from tests.test_guards import _partial_set, guard_model


def _bodies(rng: np.random.Generator, n: int) -> list[Body]:
    return [Body(float(rng.uniform(0.3, 0.7)), float(rng.uniform(-0.2, 0.2)), float(rng.uniform(0.5, 1.8)),
                 float(rng.uniform(0.6, 2.2)), bool(rng.random() < 0.5)) for _ in range(n)]


def test_true_regions_are_the_body_map_of_the_whole_partial_image_for_every_pair():
    rng = np.random.default_rng(0)
    p, h = _bodies(rng, 5), _bodies(rng, 7)
    out = true_regions(p, h, min_scale=0.1)
    assert out.shape == (5, 7, 4)
    for i in range(5):
        for j in range(7):
            ref = corresponding_region(torch.tensor([1.0, 1.0, 0.0, 0.0]), p[i], h[j])[0]
            ref[:2] = ref[:2].clamp_min(0.1)
            assert torch.allclose(out[i, j], ref.clamp(-1, 1), atol=1e-6), (i, j)
    assert (out[..., :2] >= 0.1 - 1e-6).all() and (out[..., :2] <= 1 + 1e-6).all()


def test_a_flip_mirrors_the_true_region_and_nothing_else():
    right_half = Body(cx=0.0, top=0.0, width_scale=2.0, ph=1.0)
    plain, mirrored = Body(0.4, 0.1, 0.8, 0.8), Body(0.6, 0.1, 0.8, 0.8, flipped=True)  # mirror images of each other
    a, b = true_regions([right_half], [plain, mirrored])[0]
    assert torch.allclose(a[[0, 1, 3]], b[[0, 1, 3]], atol=1e-6) and a[2] == pytest.approx(-float(b[2]), abs=1e-6)


def test_true_regions_refuse_empty_input():
    with pytest.raises(ValueError, match="partial and holistic"):
        true_regions([], [Body(0.5, 0, 1, 1)])


@torch.no_grad()
def test_given_boxes_give_the_per_pair_region_distance():
    model = guard_model().eval()
    g = torch.Generator().manual_seed(3)
    c = model.backbone.channels
    refs = torch.randn(4, c, 8, 4, generator=g)
    patches = torch.randn(3, c, 4, 2, generator=g)
    s = 0.15 + 0.85 * torch.rand(3, 4, 2, generator=g)
    given = torch.cat([s, (2 * torch.rand(3, 4, 2, generator=g) - 1) * (1 - s)], -1)
    d, boxes = block_distances(model, patches, refs, "given", given=given, return_boxes=True)
    assert torch.equal(boxes, given)
    anc = F.normalize(model.backbone.embed(model.backbone.pool(patches)), dim=-1)
    for i in range(3):
        for j in range(4):
            reg = model.backbone.pool(crop(refs[j : j + 1], given[i, j][None], (4, 2)))
            slow = 1 - (F.normalize(model.backbone.embed(reg), dim=-1)[0] * anc[i]).sum()
            assert d[i, j] == pytest.approx(float(slow), abs=1e-5)
    with pytest.raises(ValueError, match="one box per pair"):
        block_distances(model, patches, refs, "given", given=given[:2])


@torch.no_grad()
def test_ruler_regions_on_a_tiny_partial_set(tmp_path):
    data = _partial_set(tmp_path)
    model = guard_model().eval()
    rng = np.random.default_rng(1)
    bodies = {r.path: b for r, b in zip([*data.query, *data.gallery], _bodies(rng, len(data.query) + len(data.gallery)))}
    out = ruler(model, data, bodies)
    assert set(REGIONS) <= set(out) and "true_area" in out
    n_genuine = sum(q.pid == h.pid for q in data.query for h in data.gallery)
    for region in REGIONS:
        assert out[region]["iou"].shape == (n_genuine,) and out[region]["area"].shape == (n_genuine,)
    assert torch.allclose(out["true"]["iou"], torch.ones(n_genuine), atol=1e-5)  # the truth against itself
    assert torch.allclose(out["whole"]["area"], torch.ones(n_genuine))
    assert torch.allclose(out["true"]["area"], out["true_area"])
    # without body frames (real data) the truth is left out, the other regions stay
    plain = ruler(model, data, None)
    assert "true" not in plain and "iou" not in plain["crloc"]
    assert plain["whole"]["query"]["rank1"] == out["whole"]["query"]["rank1"]
    rows = ruler_rows(out, "set", "PPCL", 0)
    assert len(rows) == 2 * len(REGIONS) and {r["region"] for r in rows} == set(REGIONS.values())


@torch.no_grad()
def test_the_whole_reference_is_the_plus_r_distance_when_glrec_moves_the_reference(tmp_path):
    """Every image, holistic ones too, gets its own layout box here: the whole reference is the region
    the +R descriptor pools over (its layout box in the rectified frame), not the whole rectified map."""
    from ppcl.evaluate.protocols import encode_records

    data = _partial_set(tmp_path)
    model = guard_model().eval()
    part, whole = encode_records(model, data.query, "+R"), encode_records(model, data.gallery, "+R")
    assert (whole.t[:, 0] < 0.99).all()  # GLRec narrowed every reference
    d, boxes = region_boxes_and_distances(model, part, whole, "whole")
    assert torch.allclose(d, 1 - part.desc @ whole.desc.T, atol=1e-5)
    assert torch.allclose(to_image(boxes, whole.t[None]), identity_t(1).expand_as(boxes), atol=1e-6)


@torch.no_grad()
def test_region_errors_name_what_is_missing(tmp_path):
    from ppcl.evaluate.engine import Encoded

    model = guard_model().eval()
    maps = torch.randn(2, model.backbone.channels, 8, 4)
    enc = Encoded(maps, identity_t(2), None, torch.zeros(2, 4))
    with pytest.raises(ValueError, match="needs the true regions"):
        region_boxes_and_distances(model, enc, enc, "true")
    with pytest.raises(ValueError, match="region: expected one of"):
        region_boxes_and_distances(model, enc, enc, "centre")


def _loc_rows():
    rows = []
    for seed, (crloc, fixed, true, whole) in enumerate([(0.30, 0.25, 0.40, 0.20), (0.34, 0.27, 0.44, 0.22)]):
        for region, r1, iou, area in (("crloc", crloc, 0.5, 0.7), ("fixed", fixed, 0.45, 0.6), ("true", true, 1.0, 0.4),
                                      ("whole", whole, 0.4, 1.0)):
            for direction in ("query", "gallery"):
                rows.append({"dataset": "D", "direction": direction, "network": "PPCL", "region": REGIONS[region],
                             "seed": seed, "rank1": r1, "mAP": r1, "iou": iou, "area": area})
    return rows


def test_localisation_summary_and_capture_hand_worked():
    loc = localisation_summary(_loc_rows())
    assert list(loc.columns[:8]) == ["dataset", "direction", "region", "seeds", "rank1_mean", "rank1_std", "iou_mean",
                                     "area_mean"]
    q = loc[(loc.direction == "query")].set_index("region")
    assert q.loc[REGIONS["true"], "rank1_mean"] == pytest.approx(42.0)
    assert q.loc[REGIONS["true"], "rank1_std"] == pytest.approx(100 * np.std([0.40, 0.44], ddof=1))
    assert q.loc[REGIONS["true"], "ground_truth"] and not q.loc[REGIONS["crloc"], "ground_truth"]
    cap = capture_table(loc).set_index("direction").loc["query"]
    assert cap["true - whole"] == pytest.approx(42.0 - 21.0)
    assert cap["true - fixed"] == pytest.approx(42.0 - 26.0)
    assert cap["capture (CRLoc - fixed) / (true - fixed)"] == pytest.approx((32.0 - 26.0) / (42.0 - 26.0))
    no_head = loc.assign(rank1_mean=np.where(loc.region == REGIONS["true"], 10.0, loc.rank1_mean))
    assert pd.isna(capture_table(no_head).iloc[0]["capture (CRLoc - fixed) / (true - fixed)"])

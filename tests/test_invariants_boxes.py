"""What every box-producing function promises, tested on seeded random inputs.

A box is a region t = (sx, sy, tx, ty) of a canvas [-1, 1]^2 (``ppcl.geometry``). The promises:

* GLRec's layout box (``GLRec.clamp_t``, ``GLRec.rectify``): inside the canvas (|t| + s <= 1 per
  axis), scales in [min_scale, 1], a box already inside left unchanged; the identity exactly where
  the gate says holistic; ``x_r`` is the image pasted at that box.
* CRLoc's box (``CRLoc.locate``), each locator: inside the map, scales in [min_scale, 1], whatever
  the correlation and the FC; ``centroid`` centres it where the correlation points (plus the FC's
  offset, clamped); ``fit`` recovers the box an exact correspondence describes.
* PP-Triplet's negatives (``sample_negative_boxes``): inside the map, scales in [min_scale, 1]; where
  ``ok``, IoU and containment with the positive below beta; a positive leaving room always gets one,
  one covering the whole map never.
* The simulated crops (``ppcl.data.partial``): inside the canvas; a band spans its full side and
  touches its edge; the area ratio is the one drawn; a pixel crop reads exactly its realised t.
* Table 1b's ratio crops (``crop_at_ratio``): inside the canvas, area exactly the ratio, ratio 1
  leaves the images alone.

Overlaps are computed here from t directly (not with ``ppcl.geometry``), so a slip there is not
shared by the test.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ppcl.data.partial import SIDES, crop_pixels, sample_partial_t, simulate_partial_batch
from ppcl.evaluate.simulated import crop_at_ratio
from ppcl.geometry import crop, paste
from ppcl.losses import sample_negative_boxes
from ppcl.models.crloc import CRLoc, CRLocConfig, cell_centres
from ppcl.models.glrec import GLRec, GLRecConfig

EPS = 1e-5


def assert_inside(t: torch.Tensor | np.ndarray, min_scale: float = 0.0, what: str = "box") -> None:
    """Each row of t lies inside [-1, 1]^2 with scales in [min_scale, 1]."""
    t = torch.as_tensor(np.asarray(t, dtype=np.float64) if isinstance(t, np.ndarray) else t).double().reshape(-1, 4)
    s, c = t[:, :2], t[:, 2:]
    assert torch.isfinite(t).all(), f"{what}: not finite {t.tolist()}"
    bad = ((c.abs() + s) > 1 + EPS).any(1) | (s < min_scale - EPS).any(1) | (s > 1 + EPS).any(1)
    assert not bad.any(), f"{what}: {int(bad.sum())} of {len(t)} leave the canvas or their scale range, e.g. {t[bad][:3].tolist()}"


def overlaps(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(IoU, intersection over the smaller area) of t rows, from the extents [t - s, t + s]."""
    lo = torch.maximum(a[:, 2:] - a[:, :2], b[:, 2:] - b[:, :2])
    hi = torch.minimum(a[:, 2:] + a[:, :2], b[:, 2:] + b[:, :2])
    inter = (hi - lo).clamp_min(0).prod(1)
    area_a, area_b = 4 * a[:, 0] * a[:, 1], 4 * b[:, 0] * b[:, 1]
    return inter / (area_a + area_b - inter), inter / torch.minimum(area_a, area_b)


def random_t(g: torch.Generator, n: int, lo: float = 0.1, hi: float = 1.0) -> torch.Tensor:
    s = lo + (hi - lo) * torch.rand(n, 2, generator=g)
    return torch.cat([s, (2 * torch.rand(n, 2, generator=g) - 1) * (1 - s)], 1)


# ---- GLRec's layout box ------------------------------------------------------------------------
def _glrec(seed: int, min_scale: float) -> GLRec:
    torch.manual_seed(seed)
    m = GLRec(GLRecConfig("resnet10", 8, (32, 16), min_scale=min_scale)).eval()
    with torch.no_grad():
        m.head.weight.normal_(0.0, 2.0)  # raw t anywhere: negative scales, centres far outside
        m.head.bias.normal_(0.0, 1.0)
    return m


def test_glrec_clamp_keeps_every_box_inside_and_leaves_a_valid_one_alone():
    g = torch.Generator().manual_seed(0)
    for case in range(50):
        min_scale = float(torch.empty(1).uniform_(0.01, 0.4, generator=g))
        m = GLRec(GLRecConfig("resnet10", 8, (32, 16), min_scale=min_scale))
        raw = torch.randn(64, 4, generator=g) * float(torch.empty(1).uniform_(0.1, 5, generator=g))
        assert_inside(m.clamp_t(raw), min_scale, f"case {case}: clamp_t of raw t")
        valid = random_t(g, 64, lo=min_scale)
        assert torch.allclose(m.clamp_t(valid), valid, atol=1e-6), f"case {case}: clamp_t moved a box already inside"


@torch.no_grad()
def test_glrec_rectify_gives_the_identity_to_holistic_images_and_an_inside_box_to_the_rest():
    for seed in range(8):
        min_scale = (0.05, 0.2)[seed % 2]
        m = _glrec(seed, min_scale)
        x = torch.randn(24, 3, 40, 20, generator=torch.Generator().manual_seed(seed))
        threshold = (0.5, 0.3, 0.7, 0.5)[seed % 4]
        _, logit = m(x)  # centre the gate's logits on the threshold: both verdicts occur
        m.head.bias[4] += math.log(threshold / (1 - threshold)) - float(logit.median()) + 1e-3
        r = m.rectify(x, out_size=(32, 16), threshold=threshold)
        assert_inside(r["t"], min_scale, f"seed {seed}: the layout box")
        assert_inside(r["t_hat"], min_scale, f"seed {seed}: R's clamped box")
        partial = r["eta"] >= threshold
        assert torch.equal(r["partial"], partial), f"seed {seed}: the verdict is not eta >= {threshold}"
        assert 0 < int(partial.sum()) < len(x), f"seed {seed}: the case needs both verdicts ({r['eta'].tolist()})"
        ident = torch.tensor([1.0, 1.0, 0.0, 0.0])
        assert (r["t"][~partial] == ident).all(), f"seed {seed}: a holistic verdict did not give the identity"
        assert torch.equal(r["t"][partial], r["t_hat"][partial]), f"seed {seed}: a partial verdict did not use R's box"
        assert torch.allclose(r["x_r"], paste(x, r["t"], (32, 16)), atol=1e-6), f"seed {seed}: x_r is not x pasted at t"
        every = m.rectify(x, out_size=(32, 16), gate=False)
        assert every["partial"].all() and torch.equal(every["t"], every["t_hat"])


# ---- CRLoc's box -------------------------------------------------------------------------------
def _correlations(g: torch.Generator, n: int, u: int, h: int, w: int) -> torch.Tensor:
    """Softmax correlations from flat to nearly one-hot (temperatures 0.1 .. 100)."""
    temp = 10 ** (3 * torch.rand(n, 1, 1, generator=g) - 1)
    return (torch.randn(n, u, h * w, generator=g) * temp).softmax(-1).view(n, u, h, w)


@pytest.mark.parametrize("locator", ["centroid", "free", "fit"])
@torch.no_grad()
def test_crloc_box_stays_inside_the_map_for_any_correlation_and_any_fc(locator):
    g = torch.Generator().manual_seed(1)
    for case in range(30):
        h, w = int(torch.randint(2, 17, (1,), generator=g)), int(torch.randint(2, 9, (1,), generator=g))
        patch = (int(torch.randint(1, 5, (1,), generator=g)), int(torch.randint(1, 4, (1,), generator=g)))
        min_scale = (0.05, 0.1, 0.3)[case % 3]
        torch.manual_seed(case)
        loc = CRLoc(CRLocConfig(patch_size=patch, channels=(8, 8, 8), min_scale=min_scale, locator=locator))
        loc.train(case % 2 == 0)  # both BatchNorm paths (eval folds BN into the convs)
        loc.fc.weight.normal_(0.0, float(torch.empty(1).uniform_(0.01, 5.0, generator=g)))
        loc.fc.bias.normal_(0.0, 3.0)
        t = loc.locate(_correlations(g, 32, patch[0] * patch[1], h, w))
        assert_inside(t, min_scale, f"{locator}, case {case} ({h}x{w} map, patch {patch})")


def _peaked(h: int, w: int, u: int, cells: list[tuple[int, int]]) -> torch.Tensor:
    """(N, U, h, w): all of each row's mass on one reference cell."""
    c = torch.zeros(len(cells), u, h, w)
    for k, (r, col) in enumerate(cells):
        c[k, :, r, col] = 1.0
    return c


@torch.no_grad()
def test_centroid_box_is_centred_where_the_correlation_points_plus_the_offset():
    g = torch.Generator().manual_seed(2)
    for case in range(20):
        h, w = int(torch.randint(3, 17, (1,), generator=g)), int(torch.randint(3, 9, (1,), generator=g))
        loc = CRLoc(CRLocConfig(patch_size=(2, 2), channels=(4, 4, 4), locator="centroid")).eval()
        loc.fc.weight.zero_()
        offset = 0.3 * (2 * torch.rand(2, generator=g) - 1)
        scale_logit = torch.randn(2, generator=g)
        loc.fc.bias.copy_(torch.cat([scale_logit, offset]))
        cells = [(int(torch.randint(0, h, (1,), generator=g)), int(torch.randint(0, w, (1,), generator=g))) for _ in range(16)]
        t = loc.locate(_peaked(h, w, 4, cells))
        ys, xs = cell_centres(h).double(), cell_centres(w).double()
        want = torch.tensor([[xs[c], ys[r]] for r, c in cells], dtype=torch.float64) + offset.double()
        s = t[:, :2].double()
        want = torch.maximum(torch.minimum(want, 1 - s), s - 1)
        assert torch.allclose(t[:, 2:].double(), want, atol=1e-5), f"case {case} ({h}x{w}): centres {t[:, 2:].tolist()}, correlation at {want.tolist()}"
        s_want = loc.cfg.min_scale + (1 - loc.cfg.min_scale) * torch.sigmoid(scale_logit)
        assert torch.allclose(t[:, :2], s_want.expand_as(t[:, :2]), atol=1e-6), f"case {case}: scales (sx, sy) not the FC's"


@torch.no_grad()
def test_fit_box_recovers_the_box_an_exact_correspondence_describes():
    """Query cell u (at p_u in the patch) matching reference cell m_u = c + s * p_u exactly: the
    fit locator (FC at its initial, neutral state, no offset) returns (s, c)."""
    g = torch.Generator().manual_seed(3)
    for case in range(20):
        ph, pw = int(torch.randint(2, 5, (1,), generator=g)), int(torch.randint(2, 4, (1,), generator=g))
        ky, kx = (1, 3)[int(torch.randint(0, 2, (1,), generator=g))], (1, 3)[int(torch.randint(0, 2, (1,), generator=g))]
        h, w = ph * ky + int(torch.randint(0, 6, (1,), generator=g)), pw * kx + int(torch.randint(0, 4, (1,), generator=g))
        r0, c0 = int(torch.randint(0, h - ph * ky + 1, (1,), generator=g)), int(torch.randint(0, w - pw * kx + 1, (1,), generator=g))
        corr = torch.zeros(1, ph * pw, h, w)
        for i in range(ph):
            for j in range(pw):
                corr[0, i * pw + j, r0 + i * ky + (ky - 1) // 2, c0 + j * kx + (kx - 1) // 2] = 1.0
        loc = CRLoc(CRLocConfig(patch_size=(ph, pw), channels=(4, 4, 4), min_scale=0.05, locator="fit")).eval()
        loc.fc.weight.zero_()
        loc.fc.bias[2:] = 0.0
        t = loc.locate(corr)[0].double()
        s_want = torch.tensor([pw * kx / w, ph * ky / h], dtype=torch.float64)
        ys, xs = cell_centres(h).double(), cell_centres(w).double()
        cx = (xs[c0 + (kx - 1) // 2] + xs[c0 + (pw - 1) * kx + (kx - 1) // 2]) / 2
        cy = (ys[r0 + (ky - 1) // 2] + ys[r0 + (ph - 1) * ky + (ky - 1) // 2]) / 2
        msg = f"case {case}: patch {ph}x{pw}, step ({ky}, {kx}) at ({r0}, {c0}) of {h}x{w}: got {t.tolist()}"
        assert torch.allclose(t[:2], s_want, atol=1e-3), msg
        assert torch.allclose(t[2:], torch.stack([cx, cy]), atol=1e-4), msg


# ---- PP-Triplet's negatives ----------------------------------------------------------------------
@pytest.mark.parametrize("same_size", [False, True])
def test_negatives_stay_inside_and_overlap_the_positive_less_than_beta(same_size):
    g = torch.Generator().manual_seed(4)
    for case in range(25):
        beta = float(torch.empty(1).uniform_(0.2, 0.7, generator=g))
        min_scale = (0.05, 0.1, 0.2)[case % 3]
        pos = random_t(g, 200, lo=min_scale)
        pos[:4] = torch.tensor([1.0, 1.0, 0.0, 0.0])  # the whole map: no negative can exist
        neg, ok = sample_negative_boxes(pos, torch.Generator().manual_seed(case), beta, min_scale, same_size=same_size)
        assert neg.shape == pos.shape and ok.dtype == torch.bool
        assert_inside(neg, min_scale, f"case {case}: negatives")
        iou, contain = overlaps(neg.double(), pos.double())
        assert (iou[ok] < beta).all(), f"case {case}, beta {beta:.2f}: IoU {iou[ok].max():.3f} where ok"
        assert (contain[ok] < beta).all(), f"case {case}, beta {beta:.2f}: containment {contain[ok].max():.3f} where ok"
        assert not ok[:4].any(), f"case {case}: a negative 'found' for a positive covering the whole map"
        roomy = (pos[:, :2] <= 0.5).all(1)
        assert ok[roomy].all(), f"case {case}: no negative for {int((~ok[roomy]).sum())} positives that leave room"
        if same_size:  # most negatives of small positives keep the positive's size (within x1.25)
            small = roomy & ok
            ratio = neg[small, :2] / pos[small, :2]
            near = ((ratio >= 0.8 - 1e-4) & (ratio <= 1.25 + 1e-4)).all(1).float().mean()
            assert near > 0.9, f"case {case}: only {near:.0%} of same-size negatives are within x1.25"


def test_negatives_are_reproducible_from_the_generator():
    pos = random_t(torch.Generator().manual_seed(5), 50)
    a = sample_negative_boxes(pos, torch.Generator().manual_seed(9))
    b = sample_negative_boxes(pos, torch.Generator().manual_seed(9))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


# ---- the simulated crops -----------------------------------------------------------------------
BANDS = ("top", "bottom", "left", "right")


def test_simulated_crops_stay_inside_and_bands_span_their_side_at_the_drawn_area():
    rng = np.random.default_rng(6)
    for case in range(400):
        lo = float(rng.uniform(0.05, 1.0))
        area = (lo, float(rng.uniform(lo, 1.0)))
        sides = tuple(rng.choice(SIDES, size=int(rng.integers(1, 6)), replace=False))
        t, side = sample_partial_t(rng, area, sides)
        assert side in sides, f"case {case}: side {side} not among {sides}"
        assert_inside(t, 0.0, f"case {case}: {side} crop, area {area}")
        sx, sy, tx, ty = t
        if side in BANDS:
            assert area[0] - 1e-9 <= sx * sy <= area[1] + 1e-9, f"case {case}: {side} band of area {sx * sy:.4f}, range {area}"
            full, part, c = (sx, sy, ty) if side in ("top", "bottom") else (sy, sx, tx)
            assert full == 1.0 and (tx if side in ("top", "bottom") else ty) == 0.0, f"case {case}: {side} band not full {t}"
            edge = -1.0 if side in ("top", "left") else 1.0
            assert abs(c - part * (-edge) - edge) < 1e-12, f"case {case}: {side} band does not touch its edge: {t}"


def test_a_free_crop_has_the_drawn_area():
    rng = np.random.default_rng(7)
    for case in range(400):
        a = float(rng.uniform(0.05, 1.0))
        t, _ = sample_partial_t(rng, (a, a), ("free",))
        assert_inside(t, 0.0, f"case {case}: free crop")
        assert abs(t[0] * t[1] - a) < 1e-9, f"case {case}: free crop of area {t[0] * t[1]:.4f}, drawn {a:.4f}"


def test_a_pixel_crop_reads_exactly_its_realised_region():
    rng = np.random.default_rng(8)
    for case in range(200):
        h, w = int(rng.integers(4, 80)), int(rng.integers(4, 60))
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        t, side = sample_partial_t(rng, (0.1, 1.0))
        cut, real = crop_pixels(img, t)
        assert_inside(real, 0.0, f"case {case}: realised t")
        x0, x1 = round((real[2] - real[0] + 1) / 2 * w), round((real[2] + real[0] + 1) / 2 * w)
        y0, y1 = round((real[3] - real[1] + 1) / 2 * h), round((real[3] + real[1] + 1) / 2 * h)
        assert cut.size > 0 and np.array_equal(cut, img[y0:y1, x0:x1]), f"case {case}: crop != slice of its realised t"
        assert np.allclose(real, t, atol=1.0 / min(h, w) + 1e-9), f"case {case}: realised {real} far from asked {t}"


def test_a_simulated_batch_crops_each_partial_image_at_its_t_and_leaves_the_rest_whole():
    for seed in range(6):
        x = torch.rand(16, 3, 24, 12, generator=torch.Generator().manual_seed(seed))
        share = (0.0, 0.5, 1.0)[seed % 3]
        x_p, t, is_partial, sides = simulate_partial_batch(x, torch.Generator().manual_seed(seed), share, (0.2, 0.9))
        assert_inside(t, 0.0, f"seed {seed}: batch t")
        ident = (t == torch.tensor([1.0, 1.0, 0.0, 0.0])).all(1)
        assert torch.equal(is_partial.bool(), ~ident), f"seed {seed}: is_partial does not match the non-identity t"
        assert [s == "whole" for s in sides] == ident.tolist()
        assert torch.allclose(x_p, crop(x, t), atol=1e-6), f"seed {seed}: x_p is not x cut at t"
        assert torch.allclose(x_p[ident], x[ident], atol=1e-5), f"seed {seed}: a holistic image was changed"
        if share == 1.0:
            assert is_partial.all()
        if share == 0.0:
            assert not is_partial.any()


# ---- Table 1b's ratio crops ----------------------------------------------------------------------
def test_ratio_crops_have_exactly_the_ratio_and_ratio_one_is_holistic():
    x = torch.rand(40, 3, 32, 16, generator=torch.Generator().manual_seed(9))
    for ratio in (0.2, 0.3, 0.45, 0.6, 0.8, 0.9, 1.0):
        for seed in range(3):
            crops, t = crop_at_ratio(x, ratio, seed, sides=BANDS)
            assert crops.shape == x.shape and t.shape == (len(x), 4)
            assert_inside(t, 0.0, f"ratio {ratio}, seed {seed}")
            area = t[:, 0] * t[:, 1]
            assert torch.allclose(area, torch.full_like(area, min(ratio, 1.0)), atol=1e-6), (
                f"ratio {ratio}, seed {seed}: areas {area.unique().tolist()}")
            assert torch.allclose(crops, crop(x, t), atol=1e-6), f"ratio {ratio}: crops are not x cut at t"
            if ratio >= 1.0:
                assert torch.equal(crops, x)
        a, ta = crop_at_ratio(x, ratio, 3)
        b, tb = crop_at_ratio(x, ratio, 3)
        assert torch.equal(ta, tb) and torch.equal(a, b), f"ratio {ratio}: the same seed gave other crops"

"""Guards on the code that decides the paper's numbers: property tests, each written from what
the code must guarantee, so that a plausible one-line slip in it fails a test.

* Table 3's direction: scoring partial-as-gallery is ``rank`` on the transposed matrix.
* The partial protocol anchors CRLoc on the partial image (a slow per-pair reference).
* Algorithm 1's wiring: what flows into CRLoc and PP-Cycle (calls recorded).
* mAP / CMC: queries without a match change nothing.
* Batch-hard triplet against a per-anchor loop, several positives per identity.
* CRLoc's boxes stay inside the map when the correlation sits in a corner.
* The t convention on an anisotropic, off-centre crop against direct slicing.

Randomised tests are seeded: each runs many cases, the same ones every time.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import ppcl.algorithm as algorithm
from ppcl.algorithm import PPCLObjective, PPCLLossConfig
from ppcl.data.common import Record, ReIDData
from ppcl.data.partial import pixels_to_t
from ppcl.evaluate.engine import encode, load_images
from ppcl.evaluate.protocols import evaluate_partial, partial_rank
from ppcl.evaluate.rank import rank
from ppcl.geometry import crop, grid_points, map_points, paste, t_to_box
from ppcl.losses import batch_hard_triplet, pp_cycle
from ppcl.models.backbone import BackboneConfig, ReIDBackbone, gap
from ppcl.models.crloc import CRLoc, CRLocConfig
from ppcl.models.glrec import GLRec, GLRecConfig
from ppcl.models.ppcl import PPCL

INPUT = (64, 32)  # feature maps 8 x 4 with the strides below
PATCH = (4, 2)


def guard_model(seed: int = 0, num_classes: int = 8) -> PPCL:
    """A tiny PPCL whose GLRec gives every image its own, non-identity layout box (a fresh
    GLRec gives the identity to all, which would hide which side a region comes from)."""
    torch.manual_seed(seed)
    m = PPCL(
        GLRec(GLRecConfig("resnet10", 8, INPUT)),
        ReIDBackbone(BackboneConfig("resnet10", 8, INPUT, last_stride=1, third_stride=1, num_classes=num_classes)),
        CRLoc(CRLocConfig(patch_size=PATCH, channels=(8, 8, 8))),
    )
    with torch.no_grad():
        m.glrec.head.weight.normal_(0.0, 0.1)
        m.glrec.head.bias.copy_(torch.tensor([0.6, 0.7, 0.1, -0.1, 4.0]))  # gate: partial
    return m


def _records(pids, prefix: str) -> list[Record]:
    return [Record(f"{prefix}{i}.png", int(p)) for i, p in enumerate(pids)]


# ---- Table 3's direction -------------------------------------------------------------------
def _show(r: dict) -> str:
    return f"rank1={r['cmc'][0]:.4f} mAP={r['mAP']:.4f} valid={r['num_valid_queries']}/{r['num_queries']}"


def _same_result(a: dict, b: dict) -> bool:
    return (
        np.allclose(a["cmc"], b["cmc"], rtol=0, atol=1e-7)
        and a["mAP"] == pytest.approx(b["mAP"], rel=1e-6)
        and a["num_valid_queries"] == b["num_valid_queries"]
        and a["num_queries"] == b["num_queries"]
    )


def test_gallery_direction_is_rank_on_the_transposed_matrix():
    """Partial-as-gallery (Table 3) ranks the holistic images as queries against the partial
    ones: ``rank(d.T, holistic, partial)``, for non-symmetric distances of any sizes."""
    rng = np.random.default_rng(0)
    differs = 0
    for case in range(60):
        n_p = int(rng.integers(3, 30))
        n_h = n_p if case % 4 == 0 else int(rng.integers(3, 30))  # equal sizes too: shape can't tell
        ids = int(rng.integers(2, 8))
        p_pids, h_pids = rng.integers(0, ids, n_p), rng.integers(0, ids, n_h)
        p_pids[0] = h_pids[0]  # at least one query has a match either way
        d = torch.from_numpy(rng.random((n_p, n_h)).astype(np.float32))
        part, whole = _records(p_pids, "p"), _records(h_pids, "h")
        gal, want = partial_rank(d, part, whole, "gallery"), rank(d.T.contiguous(), h_pids, p_pids)
        assert _same_result(gal, want), f"case {case} ({n_p}x{n_h}): gallery direction {_show(gal)}, rank(d.T) {_show(want)}"
        assert gal["num_queries"] == n_h
        qry, want = partial_rank(d, part, whole, "query"), rank(d, p_pids, h_pids)
        assert _same_result(qry, want), f"case {case} ({n_p}x{n_h}): query direction {_show(qry)}, rank(d) {_show(want)}"
        assert qry["num_queries"] == n_p
        if n_p == n_h:  # the untransposed reading would give something else here
            differs += not _same_result(gal, rank(d, h_pids, p_pids))
    assert differs > 0


# ---- the partial protocol anchors CRLoc on the partial image ---------------------------------
def _write_noise(path, h: int, w: int, rng) -> None:
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)


def _partial_set(tmp_path, seed: int = 0) -> ReIDData:
    """Random-noise images (PNG, lossless): partial crops of varied shapes, holistic 64x32;
    5 partial and 7 holistic images over 3 identities (unequal sides)."""
    rng = np.random.default_rng(seed)
    (tmp_path / "p").mkdir()
    (tmp_path / "h").mkdir()
    p_pids, h_pids = [0, 0, 1, 2, 2], [0, 1, 1, 2, 0, 1, 2]
    query, gallery = [], []
    for i, pid in enumerate(p_pids):
        path = tmp_path / "p" / f"{i}.png"
        _write_noise(path, int(rng.integers(20, 60)), int(rng.integers(14, 32)), rng)
        query.append(Record(str(path), pid))
    for i, pid in enumerate(h_pids):
        path = tmp_path / "h" / f"{i}.png"
        _write_noise(path, 64, 32, rng)
        gallery.append(Record(str(path), pid))
    return ReIDData("guard-partial", tmp_path, [], query, gallery, has_cameras=False)


@torch.no_grad()
def _slow_region_distance(model: PPCL, anchor_maps, anchor_t, ref_maps) -> torch.Tensor:
    """(A, R) distances by a plain loop over pairs: the anchor's patch at its layout box,
    CRLoc on (patch, reference map), cut the located box, pool, embed, cosine."""
    loc, neck = model.crloc.eval(), model.backbone.eval().embed
    out = torch.empty(len(anchor_maps), len(ref_maps))
    for i in range(len(anchor_maps)):
        patch = crop(anchor_maps[i : i + 1], anchor_t[i : i + 1], loc.cfg.patch_size)
        a = F.normalize(neck(gap(patch)), dim=-1)
        for j in range(len(ref_maps)):
            ref = ref_maps[j : j + 1]
            box, _ = loc(patch, ref)
            r = F.normalize(neck(gap(crop(ref, box, loc.cfg.patch_size))), dim=-1)
            out[i, j] = 1.0 - (a * r).sum()
    return out


@torch.no_grad()
def test_partial_protocol_anchors_crloc_on_the_partial_image(tmp_path):
    data = _partial_set(tmp_path)
    model = guard_model().eval()
    out = evaluate_partial(model, data, methods=("+R+L",))["+R+L"]
    # Encode each side independently of the protocol (partial = query records).
    part = encode(model, load_images(data.query, model.input_size), "+R+L")
    whole = encode(model, load_images(data.gallery, model.input_size), "+R+L")
    assert not torch.allclose(part.t, torch.tensor([1.0, 1.0, 0.0, 0.0]).expand_as(part.t))  # real boxes
    slow = _slow_region_distance(model, part.maps, part.t, whole.maps)
    swapped = _slow_region_distance(model, whole.maps, whole.t, part.maps).T
    assert (slow - swapped).abs().max() > 1e-3  # the fixture tells the two sides apart
    d = out["distmat"]
    assert d.shape == (len(data.query), len(data.gallery))
    assert torch.allclose(d, slow, atol=1e-5), f"max |protocol - partial-anchored reference| = {(d - slow).abs().max():.2e}"
    # Both tables come from this one matrix: Table 2 as is, Table 3 transposed.
    p_pids, h_pids = [r.pid for r in data.query], [r.pid for r in data.gallery]
    want_q, want_g = rank(slow, p_pids, h_pids), rank(slow.T.contiguous(), h_pids, p_pids)
    assert _same_result(out["query"], want_q), f"Table 2 direction: {_show(out['query'])}, expected {_show(want_q)}"
    assert _same_result(out["gallery"], want_g), f"Table 3 direction: {_show(out['gallery'])}, expected {_show(want_g)}"


# ---- Algorithm 1's wiring --------------------------------------------------------------------
_REAL_DRAW, _REAL_PP_CYCLE = algorithm.draw_step, algorithm.pp_cycle


def _run_recorded(monkeypatch, seed: int) -> dict:
    """One Algorithm 1 step with every input to F, GLRec, CRLoc and PP-Cycle recorded."""
    model = guard_model(seed)
    rec: dict = {"crloc": [], "backbone": [], "cycle": []}
    real_draw, real_cycle, real_rectify = _REAL_DRAW, _REAL_PP_CYCLE, model.glrec.rectify

    def draw(*a, **k):
        out = real_draw(*a, **k)
        rec["draws"] = out
        return out

    def cycle(t_back, t_source, points):
        rec["cycle"].append((t_back.detach().clone(), t_source.detach().clone()))
        return real_cycle(t_back, t_source, points)

    def rectify(x_p, *a, **k):
        out = real_rectify(x_p, *a, **k)
        rec["rectify"] = (x_p.detach().clone(), {n: v.detach().clone() for n, v in out.items()})
        return out

    def crloc_hook(mod, args, kwargs, output):
        vals = list(args) + list(kwargs.values())
        rec["crloc"].append((vals[0].detach().clone(), vals[1].detach().clone(), output[0].detach().clone()))

    monkeypatch.setattr(algorithm, "draw_step", draw)
    monkeypatch.setattr(algorithm, "pp_cycle", cycle)
    monkeypatch.setattr(model.glrec, "rectify", rectify)
    model.crloc.register_forward_hook(crloc_hook, with_kwargs=True)
    model.backbone.register_forward_hook(
        lambda mod, args, out: rec["backbone"].append((args[0].detach().clone(), out.detach().clone()))
    )
    x = torch.randn(8, 3, *INPUT, generator=torch.Generator().manual_seed(100 + seed))
    pids = torch.arange(4).repeat_interleave(2)
    rec["terms"] = PPCLObjective(model, PPCLLossConfig())(x, pids, torch.Generator().manual_seed(seed))
    rec["x"] = x
    return rec


def _row_permutation(rows: torch.Tensor, of: torch.Tensor) -> list[int]:
    """perm such that rows[k] == of[perm[k]] exactly, or fail."""
    flat_rows, flat_of = rows.flatten(1), of.flatten(1)
    perm = []
    for k in range(len(rows)):
        hits = [j for j in range(len(of)) if torch.equal(flat_rows[k], flat_of[j])]
        assert hits, f"row {k} of CRLoc's reference map in Eq. 4 is no row of h_x"
        perm.append(hits[0])
    assert sorted(perm) == list(range(len(of))), f"h_y is not a permutation of h_x: {perm}"
    return perm


def test_algorithm1_feeds_crloc_and_pp_cycle_what_eqs_4_5_11_say(monkeypatch):
    perms = []
    for seed in range(3):
        rec = _run_recorded(monkeypatch, seed)
        x, b = rec["x"], len(rec["x"])
        # Line 5: the partial view x^p is region t_src of x.
        t_src = rec["draws"].t_src
        x_p_seen, rect = rec["rectify"]
        assert torch.allclose(x_p_seen, crop(x, t_src), atol=1e-6)
        # Line 6: GLRec rectifies that x^p.
        t_v = rect["t"]
        # Line 7: one pass of F over [x^r; x].
        assert len(rec["backbone"]) == 1
        f_in, f_out = rec["backbone"][0]
        assert torch.equal(f_in[:b], rect["x_r"]) and torch.equal(f_in[b:], x)
        h_r, h_x = f_out[:b], f_out[b:]
        # Eq. 4 then Eq. 5: exactly two CRLoc calls.
        assert len(rec["crloc"]) == 2, f"expected CRLoc twice (Eq. 4, Eq. 5); got {len(rec['crloc'])} calls"
        (q1, ref1, box_xy), (q2, ref2, box_yx) = rec["crloc"]
        assert torch.allclose(q1, crop(h_r, t_v, PATCH), atol=1e-6), "Eq. 4's query is not h_x^r cut at GLRec's box"
        perms.append(_row_permutation(ref1, h_x))  # Eq. 4's reference: h_y = h_x[perm]
        assert torch.allclose(q2, crop(ref1, box_xy, PATCH), atol=1e-6), "Eq. 5's query is not h_y cut at Eq. 4's box"
        assert torch.equal(ref2, h_x), "Eq. 5's reference is not h_x"
        # Eq. 11: PP-Cycle compares the backward box with the simulated crop's true region.
        assert len(rec["cycle"]) == 1
        t_back, t_target = rec["cycle"][0]
        assert torch.equal(t_back, box_yx), "PP-Cycle is not fed the backward box h_{y->x}"
        assert not torch.allclose(box_yx, box_xy)
        assert torch.equal(t_target, t_src), "PP-Cycle's target is not the simulated crop's region t"
        assert not torch.allclose(t_v, t_src, atol=1e-3)  # GLRec's guess is not the truth here
        assert rec["terms"]["L_cyc"].item() == pytest.approx(pp_cycle(box_yx, t_src, grid_points(20)).item(), rel=1e-5)
    # Y = shuffle(X): not the identity (a random permutation of 8 is, 1 time in 40320).
    assert any(p != list(range(8)) for p in perms), f"h_y = h_x in every step: {perms}"


# ---- queries without a match change nothing ----------------------------------------------------
@pytest.mark.parametrize("cams", [False, True])
def test_queries_without_a_match_leave_cmc_and_map_unchanged(cams):
    rng = np.random.default_rng(1 + cams)
    for case in range(40):
        q, g = int(rng.integers(2, 25)), int(rng.integers(5, 60))
        ids = int(rng.integers(2, 10))
        gp = rng.integers(0, ids, g)
        qp = rng.choice(gp, q)  # every base query has a match in the gallery
        gc = rng.integers(0, 3, g) if cams else None
        qc = np.array([gc[np.flatnonzero(gp == p)[0]] + 1 for p in qp]) % 3 if cams else None  # a cross-camera match
        d = rng.random((q, g)).astype(np.float32)
        # Extra queries: identities absent from the gallery, and (with cameras) one whose
        # only gallery image shares its camera, so Market's rule filters its match away.
        n_extra = int(rng.integers(1, 8))
        ep = rng.integers(100, 110, n_extra)
        ec = rng.integers(0, 3, n_extra) if cams else None
        ed = rng.random((n_extra, g)).astype(np.float32)
        if cams:
            gp, gc = np.append(gp, 200), np.append(gc, 0)
            d = np.concatenate([d, rng.random((q, 1)).astype(np.float32)], 1)
            ed = np.concatenate([ed, rng.random((n_extra, 1)).astype(np.float32)], 1)
            ep[0], ec[0] = 200, 0
        base = rank(d, qp, gp, qc, gc, chunk=int(rng.integers(1, 8)))
        assert base["num_valid_queries"] == q
        at = np.sort(rng.choice(q + n_extra, n_extra, replace=False))  # where the extras go
        order = np.empty(q + n_extra, int)
        mask = np.zeros(q + n_extra, bool)
        mask[at] = True
        order[mask], order[~mask] = q + np.arange(n_extra), np.arange(q)
        all_d = np.concatenate([d, ed])[order]
        all_p = np.concatenate([qp, ep])[order]
        all_c = np.concatenate([qc, ec])[order] if cams else None
        more = rank(all_d, all_p, gp, all_c, gc, chunk=int(rng.integers(1, 8)))
        msg = f"case {case}: +{n_extra} no-match queries: {_show(more)}; without them {_show(base)}"
        assert np.allclose(more["cmc"], base["cmc"], rtol=0, atol=1e-7), msg
        assert more["mAP"] == pytest.approx(base["mAP"], rel=1e-6), msg
        assert more["num_valid_queries"] == base["num_valid_queries"], msg
        assert more["num_queries"] == base["num_queries"] + n_extra


# ---- batch-hard triplet ----------------------------------------------------------------------
def _batch_hard_loop(f: torch.Tensor, y: torch.Tensor, margin: float) -> float:
    losses = []
    for i in range(len(f)):
        pos = [j for j in range(len(f)) if j != i and y[j] == y[i]]
        neg = [j for j in range(len(f)) if y[j] != y[i]]
        if not pos or not neg:
            continue
        dist = lambda j: float(((f[i] - f[j]) ** 2).sum().sqrt())  # noqa: E731
        losses.append(max(0.0, max(dist(j) for j in pos) - min(dist(j) for j in neg) + margin))
    return float(np.mean(losses)) if losses else 0.0


def test_batch_hard_triplet_equals_a_per_anchor_loop():
    """Hardest (farthest) positive and hardest (nearest) negative per anchor, several
    positives per identity, singletons skipped."""
    g = torch.Generator().manual_seed(0)
    for case in range(150):
        n = int(torch.randint(3, 20, (1,), generator=g))
        ids = int(torch.randint(1, 6, (1,), generator=g))
        y = torch.randint(0, ids, (n,), generator=g)
        f = torch.randn(n, int(torch.randint(2, 12, (1,), generator=g)), generator=g, dtype=torch.float64)
        margin = float(torch.rand(1, generator=g)) * 2
        got, want = batch_hard_triplet(f, y, margin).item(), _batch_hard_loop(f, y, margin)
        msg = f"case {case}: labels {y.tolist()}, margin {margin:.3f}: {got:.6f} != loop {want:.6f}"
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), msg


# ---- CRLoc keeps its box inside the map --------------------------------------------------------
def _corner_corr(h: int, w: int, u: int) -> torch.Tensor:
    """(4, U, h, w) correlations with all mass in one corner each: TL, TR, BL, BR."""
    c = torch.zeros(4, u, h, w)
    for k, (r, col) in enumerate([(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)]):
        c[k, :, r, col] = 1.0
    return c


@pytest.mark.parametrize("locator", ["centroid", "free", "fit"])
@torch.no_grad()
def test_a_corner_correlation_keeps_the_box_inside_the_map(locator):
    eps = 1e-6
    signs = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])
    for seed in range(12):
        torch.manual_seed(seed)
        h, w = [(8, 4), (16, 8), (5, 3), (6, 6)][seed % 4]
        loc = CRLoc(CRLocConfig(patch_size=PATCH, channels=(8, 8, 8), locator=locator)).eval()
        corr = _corner_corr(h, w, PATCH[0] * PATCH[1])
        # A fresh locator: the centroid one puts the box into the corner, touching its edges.
        t = loc.locate(corr)
        msg = f"seed {seed}, {h}x{w} map: boxes (TL, TR, BL, BR) leave it: {t.tolist()}"
        assert ((t[:, 2:].abs() + t[:, :2]) <= 1 + eps).all(), msg
        if locator == "centroid":
            assert (torch.sign(t[:, 2:]) == signs).all(), t
            assert torch.allclose(t[:, 2:].abs() + t[:, :2], torch.ones(4, 2), atol=1e-5), t
        # Any FC (large offsets, scales anywhere in [min_scale, 1]).
        for _ in range(5):
            loc.fc.weight.normal_(0.0, 3.0)
            loc.fc.bias.normal_(0.0, 3.0)
            t = loc.locate(corr)
            sx, sy, tx, ty = t.unbind(-1)
            msg = f"seed {seed}, {h}x{w} map, random FC: boxes leave it: {t.tolist()}"
            assert (tx.abs() + sx <= 1 + eps).all() and (ty.abs() + sy <= 1 + eps).all(), msg
            assert (t[:, :2] >= loc.cfg.min_scale - eps).all() and (t[:, :2] <= 1 + eps).all()


# ---- the t convention on an anisotropic crop -----------------------------------------------------
def test_an_anisotropic_off_centre_crop_equals_direct_slicing():
    """t = (sx, sy, tx, ty) of a whole-pixel rectangle: crop at its own pixel size reads
    exactly those pixels, and paste puts them back there (zeros elsewhere)."""
    rng = np.random.default_rng(0)
    x = torch.rand(2, 3, 24, 20, generator=torch.Generator().manual_seed(0))
    H, W = x.shape[-2:]
    n = 0
    while n < 60:
        x0, x1 = sorted(rng.choice(W + 1, 2, replace=False))
        y0, y1 = sorted(rng.choice(H + 1, 2, replace=False))
        if (x1 - x0) * H == (y1 - y0) * W or (x0 + x1 == W and y0 + y1 == H):
            continue  # anisotropic and off-centre only
        n += 1
        t = torch.tensor([[(x1 - x0) / W, (y1 - y0) / H, (x0 + x1) / W - 1, (y0 + y1) / H - 1]]).expand(2, 4)
        assert np.allclose(pixels_to_t(x0, y0, x1, y1, H, W), t[0].numpy())
        part = x[..., y0:y1, x0:x1]
        got = crop(x, t, size=(y1 - y0, x1 - x0))
        assert (got - part).abs().max() < 1e-5, f"crop of t={t[0].tolist()} != x[..., {y0}:{y1}, {x0}:{x1}]"
        back = paste(part, t, size=(H, W))
        inside = torch.zeros(H, W, dtype=torch.bool)
        inside[y0:y1, x0:x1] = True
        where = f"paste at t={t[0].tolist()}, region [{y0}:{y1}, {x0}:{x1}]"
        assert (back[..., inside] - x[..., inside]).abs().max() < 1e-5, f"{where}: the region differs"
        assert back[..., ~inside].abs().max() < 1e-4, f"{where}: writes outside it"


def test_region_points_map_onto_the_box_of_an_anisotropic_t():
    """map_points (PP-Cycle's grid, Eq. 11) sends the region's corners (-1, -1) and (1, 1) to the
    corners of t's box, and its centre to (tx, ty), for unequal x and y scales."""
    g = torch.Generator().manual_seed(0)
    s = 0.1 + 0.9 * torch.rand(200, 2, generator=g)
    c = (1 - s) * (2 * torch.rand(200, 2, generator=g) - 1)
    t = torch.cat([s, c], 1)
    corners = map_points(t, torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]]))
    assert torch.allclose(corners[:, :2].reshape(-1, 4), t_to_box(t), atol=1e-6)
    assert torch.allclose(corners[:, 2], c, atol=1e-6)

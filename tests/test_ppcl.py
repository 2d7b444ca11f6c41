"""CRLoc, PP-Cycle, PP-Triplet, negatives, Algorithm 1 and the pairwise engine."""
import numpy as np
import pytest
import torch

from ppcl.algorithm import PPCLObjective, PPCLLossConfig
from ppcl.evaluate.engine import BEHIND, Encoded, crloc_pair_distance, distance_matrix, encode, fuse_distances, region_descriptor
from ppcl.geometry import box_containment, box_iou, crop, grid_points, t_to_box
from ppcl.losses import batch_hard_triplet, pp_cycle, pp_triplet, sample_negative_boxes
from ppcl.models.backbone import BackboneConfig, ReIDBackbone
from ppcl.models.crloc import CRLoc, CRLocConfig, centroid, correlation
from ppcl.models.glrec import GLRec, GLRecConfig
from ppcl.models.ppcl import PPCL


def tiny_ppcl(num_classes=8, seed=0):
    torch.manual_seed(seed)
    return PPCL(
        GLRec(GLRecConfig("resnet10", 8, (32, 16))),
        ReIDBackbone(BackboneConfig("resnet10", 8, (32, 16), last_stride=1, third_stride=1, num_classes=num_classes)),
        CRLoc(CRLocConfig(patch_size=(4, 2), channels=(8, 8, 8))),
    )


# ---- L_f (Eq. 8) ---------------------------------------------------------------------------
def test_correlation_is_a_softmax_over_reference_positions():
    q, r = torch.randn(3, 16, 4, 2), torch.randn(3, 16, 8, 4)
    c = correlation(q, r, scale=5.0)
    assert c.shape == (3, 8, 8, 4)
    assert torch.allclose(c.sum(dim=(2, 3)), torch.ones(3, 8), atol=1e-5)
    assert (c >= 0).all()


def test_correlation_peaks_where_the_query_patch_came_from():
    r = torch.randn(1, 32, 8, 4)
    q = r[:, :, 2:6, 1:3]  # the patch at rows 2..5, cols 1..2
    c = correlation(q, r, scale=50.0)[0]  # (8 query positions, 8, 4)
    peaks = [divmod(int(c[u].argmax()), 4) for u in range(8)]
    assert peaks == [(2 + u // 2, 1 + u % 2) for u in range(8)]


def test_crloc_boxes_stay_inside_the_map_and_get_gradients():
    loc = CRLoc(CRLocConfig(patch_size=(4, 2), channels=(8, 8, 8)))
    q, r = torch.randn(5, 16, 4, 2, requires_grad=True), torch.randn(5, 16, 8, 4)
    box, _ = loc(q, r)
    b = t_to_box(box)
    assert (b >= -1 - 1e-6).all() and (b <= 1 + 1e-6).all() and (box[:, :2] >= 0.1 - 1e-6).all()
    loc.cut(r, box).sum().backward()
    assert loc.fc.weight.grad.abs().sum() > 0 and q.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="query patch must be"):
        loc(torch.randn(1, 16, 3, 3), r[:1])


def test_eval_mode_folds_batchnorm_into_the_convolutions_without_changing_the_map():
    torch.manual_seed(0)
    loc = CRLoc(CRLocConfig(patch_size=(4, 2), channels=(8, 8, 8)))
    for m in loc.convs:  # non-trivial running statistics and affine parameters
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5), m.bias.data.uniform_(-0.2, 0.2)
    corr = torch.randn(6, 8, 8, 4).softmax(1)
    loc.eval()
    with torch.no_grad():
        folded, reference = loc.features(corr), loc.convs(corr).mean(dim=(2, 3))
    assert torch.allclose(folded, reference, atol=1e-5), (folded - reference).abs().max()
    loc.train()
    assert torch.equal(loc.features(corr), loc.convs(corr).mean(dim=(2, 3)))  # training uses batch statistics


def test_centroid_of_hand_worked_correlations():
    c = torch.zeros(2, 2, 4, 2)
    c[0, :, 0, 1] = 1.0  # all mass in the top row, right column: cell centre (0.5, -0.75)
    c[1, 0, 3, 0] = 1.0  # query position 0 matches bottom-left (-0.5, 0.75) ...
    c[1, 1, 0, 0] = 1.0  # ... position 1 top-left (-0.5, -0.75): mean (-0.5, 0)
    assert torch.allclose(centroid(c), torch.tensor([[0.5, -0.75], [-0.5, 0.0]]))


@pytest.mark.parametrize("locator", ["centroid", "free"])
def test_the_centroid_locator_follows_the_match_and_the_free_one_need_not(locator):
    """The property that rules out PP-Cycle's mirror solution: an untrained centroid locator
    already puts the box where the query patch matches, on the correct side."""
    torch.manual_seed(0)
    loc = CRLoc(CRLocConfig(patch_size=(4, 2), channels=(8, 8, 8), locator=locator)).eval()
    ref = torch.randn(1, 32, 8, 4)
    top, bottom = torch.tensor([[1.0, 0.5, 0.0, -0.5]]), torch.tensor([[1.0, 0.5, 0.0, 0.5]])
    with torch.no_grad():
        y_top = loc(crop(ref, top, (4, 2)), ref)[0][0, 3]
        y_bottom = loc(crop(ref, bottom, (4, 2)), ref)[0][0, 3]
    if locator == "centroid":
        assert y_top < -0.25 and y_bottom > 0.25
    else:  # near-constant at initialisation: which way it learns to go is left to training
        assert abs(y_top - y_bottom) < 0.05
    with pytest.raises(ValueError, match="locator must be"):
        CRLoc(CRLocConfig(locator="argmax"))


# ---- PP-Cycle (Eq. 11) ---------------------------------------------------------------------
def test_pp_cycle_vanishes_iff_the_backward_box_returns_the_source_region():
    pts = grid_points(20)
    t = torch.tensor([[0.5, 0.4, -0.2, 0.3], [1.0, 0.5, 0.0, -0.5]])
    assert pp_cycle(t, t, pts).item() == 0.0
    shifted = t + torch.tensor([0.0, 0.0, 0.1, 0.0])
    # Grid loss of a pure shift d is d^2 for every point.
    assert pp_cycle(shifted, t, pts).item() == pytest.approx(0.01, rel=1e-5)
    scaled = t * torch.tensor([1.2, 1.0, 1.0, 1.0])
    assert pp_cycle(scaled, t, pts).item() > 0


# ---- PP-Triplet (Eq. 12) -------------------------------------------------------------------
def test_pp_triplet_respects_its_margin():
    a = torch.tensor([[1.0, 0.0]])
    assert pp_triplet(a, a, -a, margin=0.3).item() == 0.0  # |a-n|^2 = 4 >> margin
    assert pp_triplet(a, a, a, margin=0.3).item() == pytest.approx(0.3)  # all equal: exactly the margin
    n = torch.tensor([[0.0, 1.0]])  # |a-n|^2 = 2
    assert pp_triplet(a, n, a, margin=0.3).item() == pytest.approx(2.3)
    p = torch.tensor([[np.cos(0.2), np.sin(0.2)]], dtype=torch.float32)
    # Positive closer than negative by more than the margin: no loss; by less: the gap.
    assert pp_triplet(a, p, n, margin=0.3).item() == 0.0
    assert pp_triplet(a, p, n, margin=2.5).item() == pytest.approx(2.5 - 2 + float(((a - p) ** 2).sum()), rel=1e-5)
    # Rows whose negative could not be sampled do not count.
    two = pp_triplet(torch.cat([a, a]), torch.cat([a, a]), torch.cat([-a, a]), 0.3, valid=torch.tensor([1.0, 0.0]))
    assert two.item() == 0.0


def test_negatives_satisfy_both_beta_rules_over_many_draws():
    g = torch.Generator().manual_seed(0)
    s = torch.rand(2000, 2, generator=g) * 0.9 + 0.1
    c = (torch.rand(2000, 2, generator=g) * 2 - 1) * (1 - s)
    pos = torch.cat([s, c], 1)
    neg, ok = sample_negative_boxes(pos, g, beta=0.5, min_scale=0.1)
    pb, nb = t_to_box(pos), t_to_box(neg)
    assert ok.float().mean() > 0.95
    assert (box_iou(pb, nb)[ok] < 0.5).all()
    assert (box_containment(pb, nb)[ok] < 0.5).all()
    assert (nb >= -1 - 1e-6).all() and (nb <= 1 + 1e-6).all()
    # Only positives that cover nearly the whole map admit no negative.
    assert (pos[~ok, 0] * pos[~ok, 1] > 0.5).all()
    # Rules bind: with beta=0.5 many naive uniform draws would have been rejected.
    naive = torch.cat([s.flip(0), c.flip(0)], 1)
    assert ((box_iou(pb, t_to_box(naive)) >= 0.5) | (box_containment(pb, t_to_box(naive)) >= 0.5)).any()


def test_batch_hard_triplet_hand_worked():
    f = torch.tensor([[0.0], [1.0], [3.0], [3.5]])
    y = torch.tensor([0, 0, 1, 1])
    # anchor0: pos 1, neg 3 -> 1-3+m ; anchor1: pos 1, neg 2 -> 1-2+m ; anchor2: pos .5, neg 2 ; anchor3: pos .5, neg 2.5
    m = 1.5
    expect = np.mean([max(0, 1 - 3 + m), max(0, 1 - 2 + m), max(0, 0.5 - 2 + m), max(0, 0.5 - 2.5 + m)])
    assert batch_hard_triplet(f, y, m).item() == pytest.approx(expect, rel=1e-4)


# ---- Algorithm 1 ---------------------------------------------------------------------------
def test_algorithm1_computes_F_once_on_2B_images_and_all_terms():
    m = tiny_ppcl()
    calls = []
    m.backbone.register_forward_hook(lambda mod, inp, out: calls.append(inp[0].shape[0]))
    obj = PPCLObjective(m, PPCLLossConfig())
    x, y = torch.randn(8, 3, 32, 16), torch.arange(4).repeat_interleave(2)
    terms = obj(x, y, torch.Generator().manual_seed(0))
    assert calls == [16]  # F(x^r) and F(x) in one pass; F(y) is a permutation of F(x)
    assert set(terms) == {"L_F_ce", "L_F_tri", "L_cyc", "L_tri", "loss"}
    total = terms["L_F_ce"] + terms["L_F_tri"] + 10 * terms["L_cyc"] + terms["L_tri"]
    assert torch.allclose(terms["loss"], total)
    terms["loss"].backward()
    assert all(p.grad is None for p in m.glrec.parameters())  # GLRec is fixed
    assert m.crloc.fc.weight.grad.abs().sum() > 0


def test_ablation_weights_drop_their_terms():
    m = tiny_ppcl()
    x, y = torch.randn(8, 3, 32, 16), torch.arange(4).repeat_interleave(2)
    only_cyc = PPCLObjective(m, PPCLLossConfig(lam_tri=0))(x, y, torch.Generator().manual_seed(0))
    assert "L_tri" not in only_cyc and "L_cyc" in only_cyc
    rplus = PPCLObjective(m, PPCLLossConfig(lam_cyc=0, lam_tri=0))(x, y, torch.Generator().manual_seed(0))
    assert set(rplus) == {"L_F_ce", "L_F_tri", "loss"}
    calls = []
    m.backbone.register_forward_hook(lambda mod, inp, out: calls.append(inp[0].shape[0]))
    PPCLObjective(m, PPCLLossConfig(lam_cyc=0, lam_tri=0, partial_input="resize"))(x, y, torch.Generator().manual_seed(0))
    PPCLObjective(m, PPCLLossConfig(lam_cyc=0, lam_tri=0, partial_input=None))(x, y, torch.Generator().manual_seed(0))
    assert calls == [16, 8]  # the Resize recipe sees 2B images, the plain step B
    with pytest.raises(ValueError, match="partial_input='rectify'"):
        PPCLObjective(m, PPCLLossConfig(partial_input="resize"))(x, y, torch.Generator().manual_seed(0))


# ---- the pairwise engine -------------------------------------------------------------------
def _slow_pair_distance(model, anchors: Encoded, refs: Encoded, i: int, j: int) -> float:
    loc = model.crloc.eval()
    patch = crop(anchors.maps[i : i + 1], anchors.t[i : i + 1], loc.cfg.patch_size)
    box, _ = loc(patch, refs.maps[j : j + 1])
    a = region_descriptor(model, anchors.maps[i : i + 1], anchors.t[i : i + 1])
    r = region_descriptor(model, refs.maps[j : j + 1], box)
    return float(1 - (a * r).sum())


@torch.no_grad()
def test_batched_pairwise_equals_a_slow_per_pair_reference():
    m = tiny_ppcl().eval()
    q = encode(m, torch.randn(5, 3, 32, 16), "+R+L")
    g = encode(m, torch.randn(7, 3, 32, 16), "+R+L")
    d = distance_matrix(m, q, g, "+R+L")
    slow = torch.tensor([[_slow_pair_distance(m, q, g, i, j) for j in range(7)] for i in range(5)])
    assert torch.allclose(d, slow, atol=1e-5)
    # Anchoring on the gallery side (Table 3) uses the gallery's regions as CRLoc's queries.
    dg = distance_matrix(m, q, g, "+R+L", anchor="gallery")
    slow_g = torch.tensor([[_slow_pair_distance(m, g, q, j, i) for j in range(7)] for i in range(5)])
    assert torch.allclose(dg, slow_g, atol=1e-5)


def _slow_cells_distance(model, anchors: Encoded, refs: Encoded, i: int, j: int, box=None) -> float:
    """Cell-aligned comparison: each anchor cell against the reference region's cell at the same
    place, the reference's cells unit-normalised before resampling; cosine averaged over cells."""
    loc = model.crloc.eval()
    patch = crop(anchors.maps[i : i + 1], anchors.t[i : i + 1], loc.cfg.patch_size)
    if box is None:
        box, _ = loc(patch, refs.maps[j : j + 1])
    region = crop(torch.nn.functional.normalize(refs.maps[j : j + 1], dim=1), box, loc.cfg.patch_size)
    a = torch.nn.functional.normalize(patch, dim=1)
    return float(1 - (a * region).sum(1).mean())


@torch.no_grad()
def test_cell_aligned_comparison_equals_a_slow_reference_for_both_boxes():
    m = tiny_ppcl().eval()
    q = encode(m, torch.randn(4, 3, 32, 16), "+R+L")
    g = encode(m, torch.randn(6, 3, 32, 16), "+R+L")
    d = distance_matrix(m, q, g, "+R+L", comparison="cells")
    slow = torch.tensor([[_slow_cells_distance(m, q, g, i, j) for j in range(6)] for i in range(4)])
    assert torch.allclose(d, slow, atol=1e-5)
    fixed = distance_matrix(m, q, g, "+R+box", comparison="cells")
    slow_f = torch.tensor([[_slow_cells_distance(m, q, g, i, j, q.t[i : i + 1]) for j in range(6)] for i in range(4)])
    assert torch.allclose(fixed, slow_f, atol=1e-5)


@torch.no_grad()
def test_listed_pairs_equal_the_block_computation():
    """The top-K path (listed pairs, any order, repeated anchors) agrees with the all-pairs blocks."""
    from ppcl.evaluate.pairwise import all_pairs, listed_pairs

    m = tiny_ppcl().eval()
    q = encode(m, torch.randn(5, 3, 32, 16), "+R+L")
    g = encode(m, torch.randn(8, 3, 32, 16), "+R+L")
    for comparison in ("pooled", "cells"):
        full = all_pairs(m, q.maps, q.t, g.maps, "crloc", comparison)
        pairs = torch.stack([torch.randint(0, 5, (30,)), torch.randint(0, 8, (30,))], 1)
        d = listed_pairs(m, q.maps, q.t, g.maps, pairs, "crloc", comparison, chunk=7)
        assert torch.allclose(d, full[pairs[:, 0], pairs[:, 1]], atol=1e-5)


@torch.no_grad()
def test_topk_reranks_only_the_top_of_the_global_ranking():
    m = tiny_ppcl().eval()
    q = encode(m, torch.randn(4, 3, 32, 16), "+R")
    g = encode(m, torch.randn(9, 3, 32, 16), "+R")
    full = distance_matrix(m, q, g, "+R+L")
    top = distance_matrix(m, q, g, "+R+L", topk=3)
    d0 = distance_matrix(m, q, g, "+R")
    idx = d0.topk(3, dim=1, largest=False).indices
    for i in range(4):
        assert torch.allclose(top[i, idx[i]], full[i, idx[i]], atol=1e-6)
        rest = torch.ones(9, dtype=torch.bool)
        rest[idx[i]] = False
        assert (top[i, rest] > top[i, idx[i]].max()).all()  # non-re-ranked stay behind
    pairs = torch.tensor([[0, 0], [3, 8]])
    assert torch.allclose(crloc_pair_distance(m, q, g, pairs), full[[0, 3], [0, 8]], atol=1e-6)


def test_pp_triplet_can_be_kept_off_the_backbone():
    m = tiny_ppcl()
    x, y = torch.randn(8, 3, 32, 16), torch.arange(4).repeat_interleave(2)
    terms = PPCLObjective(m, PPCLLossConfig(lam_cyc=0, triplet_trains_F=False))(x, y, torch.Generator().manual_seed(0))
    terms["L_tri"].backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in m.backbone.parameters())
    assert m.crloc.fc.weight.grad.abs().sum() > 0


def test_fusion_adds_the_global_distance_and_keeps_left_out_pairs_behind():
    d0 = torch.tensor([[0.1, 0.5, 0.9], [0.8, 0.2, 0.4]])
    region = torch.tensor([[0.6, 0.3, 0.9 + BEHIND], [0.7, 0.1, 0.4 + BEHIND]])  # a top-2 re-ranking
    assert torch.equal(fuse_distances(region, d0, 0.0), region)
    fused = fuse_distances(region, d0, 2.0)
    assert torch.allclose(fused[:, :2], torch.tensor([[0.8, 1.3], [2.3, 0.5]]))
    assert (fused[:, 2] > 2 + 2 * 2).all()  # beyond any fused distance (region <= 2, d0 <= 2)
    assert fused[0].argsort().tolist() == [0, 1, 2] and fused[1].argsort().tolist() == [1, 0, 2]
    with pytest.raises(ValueError, match=">= 0"):
        fuse_distances(region, d0, -1.0)


# ---- the kit's options (chosen on validation) ----------------------------------------------
def test_fit_locator_recovers_the_box_a_query_was_cut_from():
    """On a map with distinct cells, the query cut at t correlates sharply with t's cells, and the
    least-squares box of its matches is t (untrained: no parameter is needed for it)."""
    from ppcl.models.crloc import correlation, fit_box

    g = torch.Generator().manual_seed(0)
    ref = torch.randn(1, 64, 16, 8, generator=g)
    loc = CRLoc(CRLocConfig(patch_size=(8, 4), locator="fit"))
    for t in ([0.5, 0.25, 0.0, -0.5], [0.75, 0.5, 0.25, 0.25], [0.25, 0.5, -0.5, 0.25]):
        t = torch.tensor([t])
        corr = correlation(crop(ref, t, (8, 4)), ref, 30.0)
        s, c = fit_box(corr, (8, 4))
        assert torch.allclose(c, t[:, 2:], atol=0.03) and torch.allclose(s, t[:, :2], atol=0.06)
        assert torch.allclose(loc.locate(corr), t, atol=0.06)


def test_same_identity_partner_is_another_image_of_the_same_person():
    from ppcl.options import same_identity_partner

    pids = torch.tensor([3, 3, 5, 5, 5, 7, 9, 9])
    for seed in range(20):
        mate = same_identity_partner(pids, torch.rand(8, 8, generator=torch.Generator().manual_seed(seed)))
        assert (pids[mate] == pids).all()
        alone = torch.tensor([i == 5 for i in range(8)])
        assert (mate[~alone] != torch.arange(8)[~alone]).all() and mate[5] == 5  # id 7 has no partner


def test_same_size_negatives_keep_the_rules_and_the_size():
    g = torch.Generator().manual_seed(0)
    pos = torch.tensor([[0.3, 0.3, -0.5, -0.5], [0.2, 0.4, 0.6, 0.2], [0.5, 0.25, 0.0, 0.6]]).repeat(20, 1)
    neg, ok = sample_negative_boxes(pos, g, beta=0.5, min_scale=0.1, same_size=True)
    assert ok.all()
    assert (box_iou(t_to_box(neg), t_to_box(pos)) < 0.5).all() and (box_containment(t_to_box(neg), t_to_box(pos)) < 0.5).all()
    ratio = neg[:, :2] / pos[:, :2]
    assert ((ratio >= 0.8 - 1e-6) & (ratio <= 1.25 + 1e-6)).all()
    log_uniform, _ = sample_negative_boxes(pos, torch.Generator().manual_seed(0), beta=0.5, min_scale=0.1)
    assert (log_uniform[:, :2] / pos[:, :2]).log().abs().mean() > ratio.log().abs().mean()


def test_region_id_puts_located_regions_into_L_F():
    """With region_id, L_F's terms change (more rows: the regions located in a same-identity image
    and in y) and CRLoc's locator receives gradient from L_F alone."""
    m = tiny_ppcl(num_classes=4).train()
    x = torch.randn(8, 3, 32, 16)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    base = PPCLObjective(m, PPCLLossConfig(lam_cyc=0, lam_tri=1e-9))(x, y, torch.Generator().manual_seed(0))
    with_id = PPCLObjective(m, PPCLLossConfig(lam_cyc=0, lam_tri=1e-9, region_id=True))(x, y, torch.Generator().manual_seed(0))
    assert not torch.isclose(base["L_F_ce"], with_id["L_F_ce"])
    m.zero_grad()
    with_id["L_F_ce"].backward()
    assert m.crloc.fc.weight.grad is not None and m.crloc.fc.weight.grad.abs().sum() > 0


def test_crloc_trains_F_false_keeps_the_constraints_off_F():
    """With crloc_trains_F=False, PP-Cycle and PP-Triplet train CRLoc and nothing of F; with the
    paper's joint training they reach F too."""
    x = torch.randn(8, 3, 32, 16)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    for joint in (True, False):
        m = tiny_ppcl(num_classes=4).train()
        t = PPCLObjective(m, PPCLLossConfig(crloc_trains_F=joint))(x, y, torch.Generator().manual_seed(0))
        m.zero_grad()
        (t["L_cyc"] + t["L_tri"]).backward()
        f_grad = sum(float(p.grad.abs().sum()) for p in m.backbone.parameters() if p.grad is not None)
        l_grad = sum(float(p.grad.abs().sum()) for p in m.crloc.parameters() if p.grad is not None)
        assert l_grad > 0 and ((f_grad > 0) if joint else (f_grad == 0))

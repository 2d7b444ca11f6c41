"""Known pairs (``ppcl.data.framing`` and the ``known_pairs`` options of Algorithm 1): two framings
of one image, the region of the second that shows the partial view cut from the first, and the
losses built on it."""
from __future__ import annotations

import pytest
import torch

import ppcl.algorithm as algorithm
import ppcl.options as options
from ppcl.algorithm import PPCLLossConfig, PPCLObjective, inside_map
from ppcl.data.framing import cut_from_framing, frame, map_region, mirror_t, narrow_framing, sample_framings
from ppcl.geometry import crop, grid_points, t_to_box
from ppcl.losses import grid_loss
from tests.test_guards import INPUT, guard_model


def _gradient_images(b: int, h: int = 64, w: int = 32) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([xx, yy, xx * yy])[None].repeat(b, 1, 1, 1)


def test_the_mapped_region_of_framing_b_shows_what_the_region_of_framing_a_shows():
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        x = _gradient_images(8)
        f_a, fl_a = sample_framings(8, g, log_scale=0.15)
        f_b, fl_b = sample_framings(8, g, log_scale=0.15)
        # keep both framings inside the image so that no border is repeated
        for f in (f_a, f_b):
            f[:, :2] = f[:, :2].clamp(max=0.9)
            f[:, 2:] = torch.maximum(torch.minimum(f[:, 2:], 1 - f[:, :2]), f[:, :2] - 1)
        s = 0.2 + 0.4 * torch.rand(8, 2, generator=g)
        t = torch.cat([s, (2 * torch.rand(8, 2, generator=g) - 1) * (1 - s)], 1)
        x_a, x_b = frame(x, f_a, fl_a), frame(x, f_b, fl_b)
        t_b = map_region(t, f_a, fl_a, f_b, fl_b)
        inside = (t_to_box(t_b).abs() <= 1).all(1)  # regions framing b shows whole (no repeated border)
        seen_a = crop(x_a, t, (16, 8))[inside]
        seen_b = crop(x_b, t_b, (16, 8))
        seen_b = torch.where((fl_a != fl_b).view(-1, 1, 1, 1), seen_b.flip(-1), seen_b)[inside]  # one mirror between
        assert inside.sum() >= 2 and torch.allclose(seen_a, seen_b, atol=1e-5)
    assert fl_a.any() and (~fl_a).any()


def test_a_cut_from_a_framing_is_the_cut_of_the_framed_image():
    """On images linear in x and y, bilinear sampling is exact: one resampling (the framing's box
    composed with the region) gives what framing then cutting gives."""
    g = torch.Generator().manual_seed(3)
    x = _gradient_images(6)
    f, fl = sample_framings(6, g, log_scale=0.1)
    f[:, :2] = f[:, :2].clamp(max=0.9)
    f[:, 2:] = torch.maximum(torch.minimum(f[:, 2:], 1 - f[:, :2]), f[:, :2] - 1)
    s = 0.3 + 0.6 * torch.rand(6, 2, generator=g)
    t = torch.cat([s, (2 * torch.rand(6, 2, generator=g) - 1) * (1 - s)], 1)
    assert torch.allclose(cut_from_framing(x, f, fl, t), crop(frame(x, f, fl), t), atol=1e-3)  # x*y is not linear
    assert fl.any() and (~fl).any()


def test_mirror_is_an_involution_and_framings_are_seeded():
    t = torch.tensor([[0.3, 0.6, 0.4, -0.2], [0.5, 0.5, -0.1, 0.3]])
    fl = torch.tensor([True, False])
    assert torch.equal(mirror_t(mirror_t(t, fl), fl), t)
    a = sample_framings(4, torch.Generator().manual_seed(7))
    b = sample_framings(4, torch.Generator().manual_seed(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_inside_map_keeps_a_region_inside_and_clips_one_outside():
    t = torch.tensor([[0.4, 0.5, 0.2, 0.1], [0.5, 0.5, 0.8, 0.0], [0.02, 0.3, 0.0, 0.0]])
    out = inside_map(t, 0.1)
    assert torch.equal(out[0], t[0])
    box = t_to_box(out)
    assert (box >= -1 - 1e-6).all() and (box <= 1 + 1e-6).all() and (out[:, :2] >= 0.1 - 1e-6).all()
    assert out[1].tolist() == pytest.approx([0.35, 0.5, 0.65, 0.0])


def _run(monkeypatch, cfg: PPCLLossConfig, seed: int = 0) -> dict:
    model = guard_model(seed)
    rec: dict = {"grid": [], "framings": [], "cycle": [], "F": []}
    real_frames, real_grid, real_cycle = options.framings_from, options.grid_loss, algorithm.pp_cycle
    real_draw = algorithm.draw_step

    def framings(*a, **k):
        f, flipped = real_frames(*a, **k)
        rec["framings"].append((f.float(), flipped))
        return f, flipped

    def draw(*a, **k):
        out = real_draw(*a, **k)
        rec["draw"] = out
        return out

    def rectify(x_p, *a, **k):
        rec["x_p"] = x_p.detach().clone()
        return real_rectify(x_p, *a, **k)

    def grid(t_pred, t_target, points):
        rec["grid"].append((t_pred.detach().clone(), t_target.detach().clone()))
        return real_grid(t_pred, t_target, points)

    def cycle(t_back, t_source, points):
        rec["cycle"].append(t_source.detach().clone())
        return real_cycle(t_back, t_source, points)

    def batch_hard(feats, labels, margin):
        rec["F"].append(labels.clone())
        return torch.zeros((), requires_grad=True)

    monkeypatch.setattr(options, "framings_from", framings)
    monkeypatch.setattr(algorithm, "draw_step", draw)
    real_rectify = model.glrec.rectify
    monkeypatch.setattr(model.glrec, "rectify", rectify)
    monkeypatch.setattr(options, "grid_loss", grid)
    monkeypatch.setattr(algorithm, "pp_cycle", cycle)
    monkeypatch.setattr(algorithm, "batch_hard_triplet", batch_hard)
    x = torch.randn(8, 3, *INPUT, generator=torch.Generator().manual_seed(100 + seed))
    pids = torch.arange(4).repeat_interleave(2)
    rec["terms"] = PPCLObjective(model, cfg)(x, pids, torch.Generator().manual_seed(seed))
    rec["x"] = x
    return rec


def test_a_known_pair_step_targets_the_known_region(monkeypatch):
    cfg = PPCLLossConfig(known_pairs=True, lam_loc=2.0, known_region_id=True, region_id=True)
    rec = _run(monkeypatch, cfg)
    (f_a, fl_a), (f_b, fl_b) = rec["framings"]
    t_src = rec["draw"].t_src
    # from framing a (the view's geometry is composed in float64 on the host, hence the tolerance)
    assert torch.allclose(rec["x_p"], cut_from_framing(rec["x"], f_a, fl_a, t_src), atol=1e-4)
    t_in = inside_map(map_region(t_src, f_a, fl_a, f_b, fl_b), 0.1)
    assert len(rec["grid"]) == 1, "L_loc: one grid loss"
    box, target = rec["grid"][0]
    assert torch.allclose(target, t_in, atol=1e-6), "L_loc's target is not the known region"
    assert rec["terms"]["L_loc"].item() == pytest.approx(grid_loss(box, t_in, grid_points(20)).item(), rel=1e-5)
    assert torch.allclose(rec["cycle"][0], t_in, atol=1e-6), "PP-Cycle's target is not the known region"
    # L_F: partial views, holistic images, known regions, then region_id's two located regions
    labels = rec["F"][0]
    assert len(labels) == 5 * 8 and torch.equal(labels[16:24], torch.arange(4).repeat_interleave(2))


def test_without_known_pairs_the_step_is_the_papers(monkeypatch):
    rec = _run(monkeypatch, PPCLLossConfig())
    assert rec["framings"] == [] and rec["grid"] == [] and "L_loc" not in rec["terms"]
    t_src = rec["draw"].t_src
    assert torch.allclose(rec["x_p"], crop(rec["x"], t_src), atol=1e-6) and torch.equal(rec["cycle"][0], t_src)
    assert len(rec["F"][0]) == 2 * 8


def test_l_loc_vanishes_on_the_known_region():
    t = torch.tensor([[0.4, 0.6, 0.1, -0.2]])
    assert grid_loss(t, t, grid_points(20)).item() == 0.0
    assert grid_loss(t, t + torch.tensor([[0.0, 0.0, 0.1, 0.0]]), grid_points(20)).item() > 0.0


def test_a_narrowed_view_is_cut_from_the_narrowed_framing_and_keeps_its_known_region(monkeypatch):
    """``view_width``: the partial view comes from framing a narrowed about its centre, and L_loc's
    and PP-Cycle's target is where *that* view's content lies in framing b (narrower than without)."""
    cfg = PPCLLossConfig(known_pairs=True, lam_loc=2.0, view_width=(0.5, 0.5))
    rec = _run(monkeypatch, cfg)
    (f_a, fl_a), (f_b, fl_b) = rec["framings"]
    t_src = rec["draw"].t_src
    narrow = f_a * torch.tensor([0.5, 1.0, 1.0, 1.0])
    assert torch.allclose(rec["x_p"], cut_from_framing(rec["x"], narrow, fl_a, t_src), atol=1e-4)
    assert not torch.allclose(rec["x_p"], cut_from_framing(rec["x"], f_a, fl_a, t_src), atol=1e-3)
    t_in = inside_map(map_region(t_src, narrow, fl_a, f_b, fl_b), 0.1)
    box, target = rec["grid"][0]
    assert torch.allclose(target, t_in, atol=1e-6) and torch.allclose(rec["cycle"][0], t_in, atol=1e-6)
    wide = map_region(t_src, f_a, fl_a, f_b, fl_b)
    assert torch.allclose(map_region(t_src, narrow, fl_a, f_b, fl_b)[:, 0], 0.5 * wide[:, 0], atol=1e-6)


def test_narrow_framing_draws_widths_in_range_and_nothing_at_full_width():
    g = torch.Generator().manual_seed(0)
    f, _ = sample_framings(64, g)
    out = narrow_framing(f, (0.4, 0.7), g)
    w = out[:, 0] / f[:, 0]
    assert (w >= 0.4).all() and (w <= 0.7).all() and w.std() > 0.05
    assert torch.equal(out[:, 1:], f[:, 1:]), "only the width changes; the centre stays where the detector put it"
    state = g.get_state()
    assert narrow_framing(f, (1.0, 1.0), g) is f and torch.equal(g.get_state(), state)
    with pytest.raises(ValueError, match="view_width"):
        narrow_framing(f, (0.0, 0.5), g)


def test_a_narrowed_view_without_known_pairs_targets_its_place_in_the_image(monkeypatch):
    """Without known pairs the holistic image is x itself: the view is cut from x narrowed about its
    centre, and PP-Cycle's target is the view's place in x (``t_src`` with its width and horizontal
    centre scaled by the drawn width)."""
    rec = _run(monkeypatch, PPCLLossConfig(view_width=(0.5, 0.5)))
    t_src = rec["draw"].t_src
    narrowed = t_src * torch.tensor([0.5, 1.0, 0.5, 1.0])
    assert rec["framings"] == []
    assert torch.allclose(rec["x_p"], crop(rec["x"], narrowed, tuple(rec["x"].shape[-2:])), atol=1e-5)
    assert torch.allclose(rec["cycle"][0], inside_map(narrowed, 0.1), atol=1e-6)


def test_a_bad_view_width_is_refused_naming_the_setting():
    from ppcl.pipeline.profiles import load_profile
    with pytest.raises(ValueError, match=r"ppcl.view_width.*0 < lo <= hi <= 1.*\[0.7, 0.4\]"):
        load_profile("smoke", {"ppcl": {"view_width": [0.7, 0.4]}})

"""Geometry stays float32 under autocast: sampling grids, boxes, layouts and loss targets.

A GPU run trains and encodes under bf16 autocast. A box or a sampling grid in bf16 is off by up to a
pixel of a feature map (bf16 keeps 8 bits of mantissa), and PP-Cycle's target rounded to bf16 moves
the loss's minimum. On the CPU everything is fp32 unless asked, so this runs one training step with
the ``paper`` profile's options (the device check's CPU twin networks) and ``encode`` under CPU bf16
autocast and records the dtype of every sampling grid, every image or map sampled, the boxes CRLoc
gives, the layouts GLRec gives, and PP-Cycle's inputs.
"""
from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

import ppcl.algorithm as algorithm
from ppcl.algorithm import PPCLObjective
from ppcl.config import to_dict
from ppcl.evaluate.engine import encode, reduced_precision
from ppcl.models import build_ppcl
from ppcl.pipeline.devicecheck import check_overrides
from ppcl.pipeline.profiles import load_profile

aten = torch.ops.aten


class Grids(TorchDispatchMode):
    """The dtypes of every affine grid made and every grid_sample's input and grid."""

    def __init__(self):
        super().__init__()
        self.seen: list[tuple[str, torch.dtype]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func is aten.affine_grid_generator.default:
            self.seen.append(("affine grid", out.dtype))
        if func in (aten.grid_sampler_2d.default, aten.grid_sampler.default):
            self.seen += [("sampled input", args[0].dtype), ("sampling grid", args[1].dtype)]
        return out


def _model_and_cfg():
    p = load_profile("paper", check_overrides(shrink=True))
    torch.manual_seed(0)
    model = build_ppcl(to_dict(p.glrec.model), {**to_dict(p.ppcl.backbone), "num_classes": 4}, to_dict(p.ppcl.crloc))
    return model, p.ppcl.loss(), p.ppcl.backbone.input_size


def test_a_paper_step_under_bf16_autocast_keeps_its_geometry_in_fp32(monkeypatch):
    model, cfg, size = _model_and_cfg()
    boxes, cycle = [], []
    model.crloc.register_forward_hook(lambda mod, args, out: boxes.append(out[0].dtype))
    real_cycle = algorithm.pp_cycle

    def record(t_back, t_source, points):
        cycle.append((t_back.dtype, t_source.dtype))
        return real_cycle(t_back, t_source, points)

    monkeypatch.setattr(algorithm, "pp_cycle", record)
    x = torch.randn(8, 3, *size)
    pids = torch.arange(4).repeat_interleave(2)
    with Grids() as grids, reduced_precision(torch.device("cpu"), torch.bfloat16):
        terms = PPCLObjective(model, cfg)(x, pids, torch.Generator().manual_seed(0))
        maps = model.backbone(x)
    assert maps.dtype == torch.bfloat16, "the test must run the networks in bf16 to mean anything"
    assert grids.seen and all(dt == torch.float32 for _, dt in grids.seen), sorted(set(grids.seen))
    assert boxes and all(dt == torch.float32 for dt in boxes), boxes
    assert cycle == [(torch.float32, torch.float32)]
    terms["loss"].backward()


def test_encoding_under_bf16_keeps_layouts_and_grids_in_fp32():
    model, _, size = _model_and_cfg()
    with torch.no_grad(), reduced_precision(torch.device("cpu"), torch.bfloat16):
        r = model.glrec.rectify(torch.rand(4, 3, *size), out_size=size)
    assert r["t"].dtype == r["t_hat"].dtype == torch.float32 and r["x_r"].dtype == torch.float32
    with Grids() as grids:
        enc = encode(model, torch.rand(6, 3, *size), "+R", precision="bf16")
    assert enc.t.dtype == torch.float32 and enc.maps.dtype == torch.float32
    assert grids.seen and all(dt == torch.float32 for _, dt in grids.seen), sorted(set(grids.seen))


def test_the_recorder_sees_a_bf16_grid_when_there_is_one():
    """The check can fail: a grid built in bf16 outside the kit's geometry is recorded as such."""
    with Grids() as grids:
        theta = torch.eye(2, 3, dtype=torch.bfloat16)[None]
        g = torch.nn.functional.affine_grid(theta, [1, 1, 4, 4], align_corners=False)
        torch.nn.functional.grid_sample(torch.rand(1, 1, 4, 4, dtype=torch.bfloat16), g, align_corners=False)
    assert ("affine grid", torch.bfloat16) in grids.seen and ("sampling grid", torch.bfloat16) in grids.seen

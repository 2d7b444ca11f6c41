"""Every random number of one Algorithm 1 step, drawn on the host and sent to the device in one copy.

A training step must never wait for the host. Its random numbers (line 5's partial view and where
its content lies, the shuffle Y = shuffle(X), PP-Triplet's negative candidates, the kit's options'
draws) all come from the step's ``torch.Generator`` on the CPU, so the same generator state gives
the same step on any device and a resumed run draws what an uninterrupted one would. They are drawn
together, the view's geometry is computed on the host in float64 (boxes and regions stay exact
whatever precision the step runs in), and everything is packed into one float32 buffer, copied to
the device once (pinned, without waiting) and unpacked there as views.

Every configuration draws the same numbers in the same order, used or not, so two variants trained
with one seed see the same partial views in the same batches.

**The view** (line 5). The partial view ``x^p`` is the region ``src`` of the image ``x``, mirrored
where ``src_flip``; the holistic image L_F sees is ``x``, or (the kit's known pairs) its framing
``frame``, mirrored where ``frame_flip``; ``t_src`` is the crop drawn and ``t_known`` where ``x^p``'s
content lies in the holistic image: PP-Cycle's target (Eq. 11). In the paper's reading
``src = t_src = t_known``, nothing is mirrored and there is no framing
(:func:`paper_view`; the kit's readings are in :mod:`ppcl.options`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .data.common import to_device
from .data.partial import SIDES, partial_t_batch
from .geometry import identity_t
from .losses import NEGATIVE_TRIES

ViewFn = Callable[[Tensor, Tensor, Tensor], dict]  # (t_src (B,4), uniforms (B,3), normals (B,8)) -> the view's regions


def paper_view(t_src: Tensor, u: Tensor, z: Tensor) -> dict:
    """Line 5 as the paper reads: the crop ``t_src`` of ``x`` itself, which L_F sees whole."""
    b = len(t_src)
    no = torch.zeros(b, dtype=torch.bool)
    return {"src": t_src, "src_flip": no, "frame": identity_t(b, dtype=t_src.dtype), "frame_flip": no, "t_known": t_src,
            "framed": False}


@dataclass(frozen=True)
class StepDraws:
    """One step's draws for a batch of ``B`` images, on the step's device (see the module docstring)."""

    t_src: Tensor  # (B, 4) the crop drawn: line 5's t
    src: Tensor  # (B, 4) the region of x the partial view is cut from
    src_flip: Tensor  # (B,) bool: the partial view is mirrored
    frame: Tensor  # (B, 4) the framing of x that L_F sees (the identity unless ``framed``)
    frame_flip: Tensor  # (B,) bool
    t_known: Tensor  # (B, 4) where the partial view's content lies in the holistic image L_F sees
    perm: Tensor  # (B,) int64: Y = shuffle(X)
    mate: Tensor  # (B, B) uniforms: a same-identity partner for each image (the kit's region_id)
    neg: Tensor  # (T, B, 4) uniforms: PP-Triplet's negative candidates (ppcl.losses.sample_negative_boxes)
    framed: bool = False  # L_F's holistic image is a framing of x (the kit's known pairs)


_LAYOUT = (("t_src", 4), ("src", 4), ("src_flip", 1), ("frame", 4), ("frame_flip", 1), ("t_known", 4), ("perm", 1))


def draw_step(b: int, generator: torch.Generator, device: torch.device | str, area: tuple[float, float] = (0.3, 0.8),
              sides: tuple[str, ...] = SIDES, view: ViewFn = paper_view, tries: int = NEGATIVE_TRIES) -> StepDraws:
    """The draws of one step of ``b`` images from ``generator``, in this order: the crop's uniforms
    ``(B, 5)`` (:func:`ppcl.data.partial.partial_t_batch` with ``area`` and ``sides``), the view's
    uniforms ``(B, 3)`` and normals ``(B, 8)`` (for ``view``, :data:`ViewFn`), the shuffle, the
    partners' ``(B, B)`` and the negatives' ``(tries, B, 4)`` uniforms. Returns them on ``device``
    after one copy.

    >>> d = draw_step(4, torch.Generator().manual_seed(0), "cpu")
    >>> sorted(d.perm.tolist()), d.neg.shape, torch.equal(d.t_known, d.t_src), d.framed
    ([0, 1, 2, 3], torch.Size([64, 4, 4]), True, False)
    """
    u_crop = torch.rand(b, 5, generator=generator, dtype=torch.float64)
    u_view = torch.rand(b, 3, generator=generator, dtype=torch.float64)
    z_view = torch.randn(b, 8, generator=generator, dtype=torch.float64)
    perm = torch.rand(b, generator=generator).argsort()
    mate = torch.rand(b, b, generator=generator)
    neg = torch.rand(tries, b, 4, generator=generator)
    t_src = partial_t_batch(u_crop, area, sides)[0]
    regions = view(t_src, u_view, z_view)
    host = {"t_src": t_src, **regions, "perm": perm}
    packed = torch.cat([host[name].reshape(b, width).float() for name, width in _LAYOUT]
                       + [mate, neg.permute(1, 0, 2).reshape(b, tries * 4)], dim=1)
    dev = to_device(packed, device)  # the one copy
    out, at = {}, 0
    for name, width in _LAYOUT:
        out[name] = dev[:, at : at + width] if width > 1 else dev[:, at]
        at += width
    out["src_flip"], out["frame_flip"], out["perm"] = out["src_flip"] > 0.5, out["frame_flip"] > 0.5, out["perm"].long()
    out["mate"] = dev[:, at : at + b]
    out["neg"] = dev[:, at + b :].reshape(b, tries, 4).permute(1, 0, 2)
    return StepDraws(**out, framed=bool(regions["framed"]))

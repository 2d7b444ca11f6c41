"""Where the person stands in each image of the kit's synthetic sets, and the region of one image
that corresponds to a region of another.

The synthetic generator (:mod:`ppcl.data.synthetic`) draws every person in local body
coordinates, u across the body (0 at its centre) and v from the top of the head (0) to the
soles (1), and records each image's *body frame* in ``synthetic_meta.json`` (key ``"bodies"``):
a point (u, v) of the body lies at

    x = cx + s * u * width_scale,    y = top + v * ph,    s = -1 if flipped else 1,

in fractions of the frame (x of its width, y of its height; (0, 0) the top-left corner).
With detector-like boxes (``SyntheticConfig.detection="detector"``) this frame differs from
image to image: the person's height, top, centre and aspect all vary, so the region of a
gallery image that shows what a partial query shows is not where a fixed layout says.

* :func:`load_bodies` reads the frames back (absolute image path -> :class:`Body`), partial
  images included (their source's frame seen through their t, :func:`crop_body`);
* :func:`corresponding_region` maps a region t (the convention of :mod:`ppcl.geometry`) of
  image a through the two body frames into image b: the ground truth for a region locator;
* :func:`box_statistics` tabulates the frames (person height, top, centre, aspect, IoU of the
  detection with the tight box) for the data notebook.

Real data has no meta file: :func:`load_bodies` and :func:`box_statistics` return ``None``.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..geometry import box_to_t, t_to_box
from .synthetic import META_NAME


@dataclass(frozen=True)
class Body:
    """One image's body frame in fractions of the frame (see the module docstring)."""

    cx: float
    top: float
    width_scale: float
    ph: float
    flipped: bool = False

    def to_frame(self, u: float, v: float) -> tuple[float, float]:
        """The frame point ``(x, y)`` in ``[0, 1]`` fractions of body point ``(u, v)``."""
        s = -1.0 if self.flipped else 1.0
        return self.cx + s * u * self.width_scale, self.top + v * self.ph


def crop_body(body: Body, t: Sequence[float]) -> Body:
    """The body frame of the crop ``t = (sx, sy, tx, ty)`` of an image whose frame is ``body``.

    >>> crop_body(Body(0.5, 0.05, 0.9, 0.9), (0.5, 1.0, -0.5, 0.0))  # the left half
    Body(cx=1.0, top=0.05, width_scale=1.8, ph=0.9, flipped=False)
    """
    sx, sy, tx, ty = (float(v) for v in t)
    x0, y0 = (tx - sx + 1) / 2, (ty - sy + 1) / 2
    return Body((body.cx - x0) / sx, (body.top - y0) / sy, body.width_scale / sx, body.ph / sy, body.flipped)


def load_bodies(root: str | Path) -> dict[str, Body] | None:
    """Every image's body frame, keyed by absolute path; ``None`` without a meta file (real data).

    Covers the Market-1501 tree (junk boxes, which show no person, left out), Partial-REID's
    whole-body, occluded and partial images, Partial-iLIDS' gallery and probes, and the holistic
    sources under ``partial_sources/``. A partial image's frame is its source's, seen through
    the crop t (:func:`crop_body`).
    """
    meta_path = Path(root) / META_NAME
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    bodies = {}
    for rel, rec in meta.get("bodies", {}).items():
        if rec.get("body") is not None:
            bodies[str(Path(root) / rel)] = Body(*(float(v) for v in rec["body"]), bool(rec["flipped"]))
    for rec in meta.get("partial", []):
        src = bodies.get(str(Path(root) / rec["source"]))
        if src is not None:
            bodies[str(Path(root) / rec["path"])] = crop_body(src, rec["t"])
    return bodies


def _frames(bodies: Body | Sequence[Body], n: int, like: Tensor) -> tuple[Tensor, ...]:
    """``(cx, top, s * width_scale, ph)`` as ``(n,)`` tensors (one body repeated, or n bodies)."""
    if isinstance(bodies, Body):
        bodies = [bodies] * n
    if len(bodies) != n:
        raise ValueError(f"expected 1 or {n} bodies; got {len(bodies)}")
    rows = [(b.cx, b.top, (-1.0 if b.flipped else 1.0) * b.width_scale, b.ph) for b in bodies]
    return torch.tensor(rows, dtype=like.dtype, device=like.device).unbind(-1)


def corresponding_region(t: Tensor, body_a: Body | Sequence[Body], body_b: Body | Sequence[Body],
                         clip: bool = True) -> Tensor:
    """The region of image b that shows what region ``t`` of image a shows: ``(N, 4)`` t's.

    ``t`` is ``(N, 4)`` (or ``(4,)``) in the convention of :mod:`ppcl.geometry` (the region
    ``[tx-sx, tx+sx] x [ty-sy, ty+sy]`` of the frame in ``[-1, 1]`` coordinates); ``body_a`` and
    ``body_b`` are one :class:`Body` each or one per row. The map is axis-aligned affine:
    frame a -> body coordinates (u, v) -> frame b, a flip of either mirroring x. With
    ``clip`` the result is cut to b's frame (a region wholly outside it becomes a zero-width or
    zero-height one on its edge).

    >>> a = Body(cx=0.5, top=0.0, width_scale=1.0, ph=1.0)  # the body fills frame a
    >>> b = Body(cx=0.25, top=0.5, width_scale=0.5, ph=0.5)  # half the size, bottom left
    >>> corresponding_region(torch.tensor([1.0, 1.0, 0.0, 0.0]), a, b)  # a's whole frame
    tensor([[ 0.5000,  0.5000, -0.5000,  0.5000]])
    >>> corresponding_region(torch.tensor([1.0, 1.0, 0.0, 0.0]), b, a)  # b's: a's frame, clipped
    tensor([[1., 1., 0., 0.]])
    >>> corresponding_region(torch.tensor([1.0, 1.0, 0.0, 0.0]), b, a, clip=False)
    tensor([[ 2.,  2.,  1., -1.]])
    """
    t = torch.as_tensor(t)
    if not t.is_floating_point():
        t = t.float()
    t = t.reshape(-1, 4)
    n = t.shape[0]
    cxa, topa, wa, pha = _frames(body_a, n, t)
    cxb, topb, wb, phb = _frames(body_b, n, t)
    sx, sy, tx, ty = t.unbind(-1)
    kx, ky = wb / wa, phb / pha  # kx < 0 when exactly one of the two is flipped
    # centre: [-1, 1] -> fraction of frame a -> body -> fraction of frame b -> [-1, 1]
    tx_b = 2 * (cxb + kx * ((tx + 1) / 2 - cxa)) - 1
    ty_b = 2 * (topb + ky * ((ty + 1) / 2 - topa)) - 1
    out = torch.stack([sx * kx.abs(), sy * ky, tx_b, ty_b], dim=-1)
    if clip:
        box = t_to_box(out)
        box = torch.stack([box[:, 0].clamp(-1, 1), box[:, 1].clamp(-1, 1), box[:, 2].clamp(-1, 1),
                           box[:, 3].clamp(-1, 1)], dim=-1)
        out = box_to_t(box)
    return out


def _split_of(rel: str, datasets: dict[str, str]) -> tuple[str, str, bool]:
    """(dataset name, split folder, is a holistic source) of a meta path."""
    parts = rel.split("/")
    source = parts[0] == "partial_sources"
    if source:
        parts = parts[1:]
    path = "/".join(parts)
    for name, folder in sorted(datasets.items(), key=lambda kv: -len(kv[1])):  # large/Partial-REID_Dataset first
        if path.startswith(f"{folder}/"):
            rest = path[len(folder) + 1 :].split("/")
            return name, rest[0] if len(rest) > 1 else "", source
    return parts[0], parts[1] if len(parts) > 2 else "", source


def box_statistics(root: str | Path):
    """One row per image with a body record (pandas DataFrame); ``None`` for real data.

    Rows: the Market-1501 tree (train, query, gallery with distractors and junk), the partial
    sets' holistic images (Partial-REID whole-body and occluded, Partial-iLIDS gallery) and the
    holistic sources partial images were cut from (``source`` True). Columns: ``path``
    (relative), ``dataset``, ``split``, ``source``, ``box`` (tight / detector / bad / none),
    ``box_iou`` (the frame's IoU with the tight box), ``height`` (the person's head-to-soles
    height, a fraction of the frame height), ``top`` (head top, fraction of the height; < 0:
    the head is cut), ``bottom`` (> 1: the feet are cut), ``centre_offset`` (body centre - 0.5,
    fraction of the width), ``aspect`` (``width_scale * frame_w / (ph * frame_h)``: 1 for an
    unstretched person), ``flipped``, ``head_cut``, ``feet_cut``. Junk rows have no body (NaN).
    """
    import pandas as pd

    meta_path = Path(root) / META_NAME
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    fh, fw = meta["config"]["person_size"]
    rows = []
    for rel, rec in meta.get("bodies", {}).items():
        dataset, split, source = _split_of(rel, meta.get("datasets", {}))
        row = {"path": rel, "dataset": dataset, "split": split, "source": source, "box": rec["box"],
               "box_iou": rec.get("box_iou"), "height": None, "top": None, "bottom": None, "centre_offset": None,
               "aspect": None, "flipped": rec.get("flipped"), "head_cut": None, "feet_cut": None}
        if rec.get("body") is not None:
            cx, top, ws, ph = rec["body"]
            row.update(height=ph, top=top, bottom=top + ph, centre_offset=cx - 0.5, aspect=ws * fw / (ph * fh),
                       head_cut=top < 0, feet_cut=top + ph > 1)
        rows.append(row)
    df = pd.DataFrame(rows)
    for col in ("box_iou", "height", "top", "bottom", "centre_offset", "aspect"):
        df[col] = df[col].astype(float)
    return df

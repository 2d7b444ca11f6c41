"""The kit's one convention for layouts, boxes and the 4-DoF transform t.

Coordinates are normalised to ``[-1, 1]`` over an image or feature map, x to the right
and y down, with ``align_corners=False`` everywhere (``affine_grid`` and ``grid_sample``
alike), so ``-1`` and ``1`` are the outer edges of the border pixels.

**t = (sx, sy, tx, ty)** says where a partial image sits on its holistic canvas: the crop
covers ``x in [tx - sx, tx + sx]`` and ``y in [ty - sy, ty + sy]``. So ``sx``/``sy`` are the
crop's width/height as a fraction of the canvas and ``(tx, ty)`` its centre. The identity
``t = (1, 1, 0, 0)`` is the whole image. A box ``(x1, y1, x2, y2)`` is the same region written
by its corners; :func:`t_to_box` and :func:`box_to_t` convert.

Two warps follow from t:

* :func:`crop` cuts the region t out of an image (``theta = [[sx, 0, tx], [0, sy, ty]]``
  maps output coordinates to input coordinates);
* :func:`paste` is T of the paper: it puts a partial image back onto a holistic canvas at t
  (the inverse affine map), zeros outside. ``paste(crop(x, t), t) == x`` inside t.

All functions take batched tensors: ``t`` is ``(B, 4)``, boxes ``(..., 4)``.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import Tensor

IDENTITY_T = (1.0, 1.0, 0.0, 0.0)


def full_precision(device: torch.device) -> contextlib.AbstractContextManager:
    """A context in which an autocast region of ``device``'s type is off: geometry (boxes, transforms,
    sampling grids) is computed in float32 under bf16 or fp16 training and encoding."""
    if device.type in ("cpu", "cuda"):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()  # e.g. the meta device: no autocast there


def _check_t(t: Tensor) -> None:
    if t.ndim != 2 or t.shape[-1] != 4:
        raise ValueError(f"t must have shape (B, 4) as (sx, sy, tx, ty); got {tuple(t.shape)}")


def identity_t(batch: int, device=None, dtype=torch.float32) -> Tensor:
    """``(B, 4)`` identity transforms: the whole canvas.

    Filled on ``device`` (no copy from the host: a training step creates it without waiting).

    >>> identity_t(2)
    tensor([[1., 1., 0., 0.],
            [1., 1., 0., 0.]])
    """
    t = torch.zeros(batch, 4, device=device, dtype=dtype)
    t[:, :2] = 1.0
    return t


def t_to_box(t: Tensor) -> Tensor:
    """``(..., 4)`` (sx, sy, tx, ty) -> ``(..., 4)`` (x1, y1, x2, y2).

    >>> t_to_box(torch.tensor([0.5, 0.25, 0.5, -0.75]))  # the top-right quarter-height band's right half
    tensor([ 0.0000, -1.0000,  1.0000, -0.5000])
    """
    sx, sy, tx, ty = t.unbind(-1)
    return torch.stack([tx - sx, ty - sy, tx + sx, ty + sy], dim=-1)


def box_to_t(box: Tensor) -> Tensor:
    """``(..., 4)`` (x1, y1, x2, y2) -> ``(..., 4)`` (sx, sy, tx, ty); the inverse of :func:`t_to_box`.

    >>> box_to_t(torch.tensor([0.0, -1.0, 1.0, -0.5]))
    tensor([ 0.5000,  0.2500,  0.5000, -0.7500])
    """
    x1, y1, x2, y2 = box.unbind(-1)
    return torch.stack([(x2 - x1) / 2, (y2 - y1) / 2, (x1 + x2) / 2, (y1 + y2) / 2], dim=-1)


def theta_crop(t: Tensor) -> Tensor:
    """``(B, 4)`` -> ``(B, 2, 3)`` affine matrix that samples region t of an image (for ``affine_grid``):
    output coordinates (x, y) in [-1, 1] map to input ``(sx * x + tx, sy * y + ty)``.

    >>> theta_crop(torch.tensor([[0.5, 0.25, 0.5, -0.75]]))
    tensor([[[ 0.5000,  0.0000,  0.5000],
             [ 0.0000,  0.2500, -0.7500]]])
    """
    _check_t(t)
    sx, sy, tx, ty = t.unbind(-1)
    z = torch.zeros_like(sx)
    return torch.stack([torch.stack([sx, z, tx], -1), torch.stack([z, sy, ty], -1)], dim=-2)


def theta_paste(t: Tensor, eps: float = 1e-6) -> Tensor:
    """``(B, 4)`` -> ``(B, 2, 3)``: the inverse of :func:`theta_crop` (canvas coordinates -> crop
    coordinates).

    >>> theta_paste(torch.tensor([[0.5, 0.25, 0.5, -0.75]]))
    tensor([[[ 2.,  0., -1.],
             [ 0.,  4.,  3.]]])
    """
    _check_t(t)
    sx, sy, tx, ty = t.unbind(-1)
    sx, sy = sx.clamp_min(eps), sy.clamp_min(eps)
    z = torch.zeros_like(sx)
    return torch.stack(
        [torch.stack([1 / sx, z, -tx / sx], -1), torch.stack([z, 1 / sy, -ty / sy], -1)], dim=-2
    )


def _warp(x: Tensor, theta: Tensor, size: tuple[int, int], mode: str, padding: str) -> Tensor:
    """``grid_sample`` of ``x`` on the grid of ``theta``, both in float32 whatever the input's dtype or
    an autocast context (a sampling grid in bf16 misplaces every sample by up to a pixel): the output
    is float32 (the input's dtype when that is float64)."""
    if x.ndim != 4:
        raise ValueError(f"expected an image batch (B, C, H, W); got shape {tuple(x.shape)}")
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    with full_precision(x.device):
        grid = F.affine_grid(theta.to(dtype), [x.shape[0], x.shape[1], *size], align_corners=False)
        return F.grid_sample(x.to(dtype), grid, mode=mode, padding_mode=padding, align_corners=False)


def crop(x: Tensor, t: Tensor, size: tuple[int, int] | None = None, mode: str = "bilinear") -> Tensor:
    """Cut region t ``(B, 4)`` out of ``x`` ``(B, C, H, W)``, resampled to ``size`` -> ``(B, C, *size)``
    (default: x's size).

    >>> x = torch.arange(32.0).view(1, 1, 4, 8)
    >>> crop(x, torch.tensor([[0.5, 0.5, 0.5, -0.5]]), (2, 4))  # the top-right quarter, pixel for pixel
    tensor([[[[ 4.,  5.,  6.,  7.],
              [12., 13., 14., 15.]]]])

    Differentiable in both ``x`` and ``t`` (unlike ``roi_align``, which passes no gradient to
    the box), so a learned locator can be trained through it. Sample points in the outer half
    cell of ``x`` take the border value (``padding_mode="border"``): a region touching the edge of
    a small feature map keeps its full weight instead of being blended with zeros.
    """
    return _warp(x, theta_crop(t), size or tuple(x.shape[-2:]), mode, "border")


def paste(x: Tensor, t: Tensor, size: tuple[int, int] | None = None, mode: str = "bilinear") -> Tensor:
    """T of the paper: place ``x`` ``(B, C, h, w)`` at region t ``(B, 4)`` of an empty canvas of
    ``size`` -> ``(B, C, *size)`` (zeros outside). ``paste(crop(x, t), t) == x`` inside t.

    >>> patch = torch.ones(1, 1, 2, 2)
    >>> paste(patch, torch.tensor([[0.5, 0.5, -0.5, 0.5]]), (4, 4))[0, 0]  # into the bottom-left quarter
    tensor([[0., 0., 0., 0.],
            [0., 0., 0., 0.],
            [1., 1., 0., 0.],
            [1., 1., 0., 0.]])
    """
    return _warp(x, theta_paste(t), size or tuple(x.shape[-2:]), mode, "zeros")


def box_area(box: Tensor) -> Tensor:
    """``(..., 4)`` boxes -> ``(...)`` areas (0 for an empty box).

    >>> box_area(torch.tensor([[-1.0, -1.0, 1.0, 1.0], [0.0, 0.0, 0.5, 0.25]]))
    tensor([4.0000, 0.1250])
    """
    return (box[..., 2] - box[..., 0]).clamp_min(0) * (box[..., 3] - box[..., 1]).clamp_min(0)


def box_intersection(a: Tensor, b: Tensor) -> Tensor:
    """Elementwise intersection area of boxes ``a`` and ``b`` (broadcasting)."""
    w = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp_min(0)
    h = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp_min(0)
    return w * h


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Elementwise IoU of boxes ``a`` and ``b`` ``(..., 4)`` (broadcasting) -> ``(...)``.

    >>> box_iou(torch.tensor([-1.0, -1.0, 1.0, 1.0]), torch.tensor([-1.0, -1.0, 1.0, 0.0]))
    tensor(0.5000)
    """
    inter = box_intersection(a, b)
    return inter / (box_area(a) + box_area(b) - inter).clamp_min(1e-12)


def box_containment(a: Tensor, b: Tensor) -> Tensor:
    """Intersection over the *smaller* box's area ``(...)``: 1 when one box lies inside the other.

    >>> box_containment(torch.tensor([-1.0, -1.0, 1.0, 1.0]), torch.tensor([0.0, 0.0, 0.5, 0.5]))
    tensor(1.)
    """
    inter = box_intersection(a, b)
    return inter / torch.minimum(box_area(a), box_area(b)).clamp_min(1e-12)


def compose_t(outer: Tensor, inner: Tensor) -> Tensor:
    """Region ``inner`` ``(B, 4)`` (given in the coordinates of region ``outer`` ``(B, 4)``) in canvas
    coordinates ``(B, 4)``.

    >>> compose_t(torch.tensor([[0.5, 0.5, 0.5, 0.5]]), torch.tensor([[0.5, 1.0, -0.5, 0.0]]))  # its left half
    tensor([[0.2500, 0.5000, 0.2500, 0.5000]])
    """
    so, si = outer[:, :2], inner[:, :2]
    return torch.cat([so * si, outer[:, 2:] + so * inner[:, 2:]], dim=1)


def grid_points(n: int = 20, device=None, dtype=torch.float32) -> Tensor:
    """``(n*n, 2)`` fixed grid on ``[-1, 1]^2`` (Rocco et al.'s points for the grid loss), x fastest.

    >>> grid_points(2)
    tensor([[-1., -1.],
            [ 1., -1.],
            [-1.,  1.],
            [ 1.,  1.]])
    """
    g = torch.linspace(-1, 1, n, device=device, dtype=dtype)
    yy, xx = torch.meshgrid(g, g, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1)


def map_points(t: Tensor, points: Tensor) -> Tensor:
    """Map ``(P, 2)`` points in region coordinates through t ``(B, 4)``: ``(B, P, 2)`` canvas points.

    >>> map_points(torch.tensor([[0.5, 0.5, 0.5, -0.5]]), torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))
    tensor([[[ 0., -1.],
             [ 1.,  0.]]])
    """
    _check_t(t)
    return points.unsqueeze(0) * t[:, None, :2] + t[:, None, 2:]


def pixel_box(t: Tensor, height: int, width: int) -> Tensor:
    """Region t ``(B, 4)`` as pixel corners ``(B, 4)`` ``(x1, y1, x2, y2)`` on an ``height x width``
    image (for drawing).

    >>> pixel_box(torch.tensor([[0.5, 0.5, 0.5, -0.5]]), 128, 64)
    tensor([[32.,  0., 64., 64.]])
    """
    b = t_to_box(t)
    scale = torch.tensor([width, height, width, height], dtype=b.dtype, device=b.device)
    return (b + 1) / 2 * scale

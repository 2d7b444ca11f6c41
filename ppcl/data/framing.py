"""Correspondences known by construction: two detector-like framings of one training image.

A re-ID training set never says which region of one image shows what a region of another image
shows. It does for two framings of the *same* image: re-frame a training image twice, as two
detections of one person would frame it (a little larger or smaller, shifted, stretched, one of
them mirrored), cut the partial view from the first, and the region of the second that shows
the partial view is known exactly. The kit's option ``known_pairs`` (:mod:`ppcl.algorithm`)
trains with such pairs: the partial view comes from framing a, the holistic image L_F sees is
framing b, and CRLoc's box for the pair can be checked against the known region (what real
training data also gives; no part labels, no pose).

A framing is a region ``f`` of the image in the t convention of :mod:`ppcl.geometry` (it may
reach past the border, where :func:`ppcl.geometry.crop` repeats the edge), resampled to the
image size, then mirrored left-right when ``flipped``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..geometry import compose_t, crop, identity_t


def sample_framings(b: int, generator: torch.Generator, log_scale: float = 0.1, shift: tuple[float, float] = (0.06, 0.05),
                    flip: float = 0.5, device=None) -> tuple[Tensor, Tensor]:
    """``b`` framings: ``(f (B, 4), flipped (B,) bool)``, drawn from ``generator`` (a resumed run draws
    the same): :func:`framings_from` of ``(B, 4)`` normals and ``(B,)`` uniforms.

    >>> f, fl = sample_framings(2, torch.Generator().manual_seed(0), log_scale=0.0, shift=(0.0, 0.0), flip=0.0)
    >>> (f + 0.0).tolist(), fl.tolist()  # no jitter: the image itself
    ([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]], [False, False])
    """
    z = torch.randn(b, 4, generator=generator)
    f, flipped = framings_from(z, torch.rand(b, generator=generator), log_scale, shift, flip)
    return f.to(device), flipped.to(device)


def framings_from(z: Tensor, u: Tensor, log_scale: float = 0.1, shift: tuple[float, float] = (0.06, 0.05),
                  flip: float = 0.5) -> tuple[Tensor, Tensor]:
    """Framings from normals ``z`` ``(B, 4)`` and uniforms ``u`` ``(B,)``: scales ``exp(log_scale z)``
    per axis, centres ``z * shift`` (in half-widths / half-heights of the image), mirrored where
    ``u < flip``: ``(f (B, 4), flipped (B,) bool)`` in ``z``'s dtype."""
    s = torch.exp(log_scale * z[:, :2])
    c = z[:, 2:] * torch.tensor(shift, dtype=z.dtype, device=z.device) * 2
    return torch.cat([s, c], 1), u < flip


def frame(x: Tensor, f: Tensor, flipped: Tensor) -> Tensor:
    """The framings ``f`` ``(B, 4)`` of images ``x`` ``(B, C, H, W)``, mirrored where ``flipped``
    ``(B,)`` -> ``(B, C, H, W)``."""
    out = crop(x, f.to(x.dtype), tuple(x.shape[-2:]))
    return torch.where(flipped.view(-1, 1, 1, 1), out.flip(-1), out)


def cut_from_framing(x: Tensor, f: Tensor, flipped: Tensor, t: Tensor, size: tuple[int, int] | None = None) -> Tensor:
    """Region ``t`` ``(B, 4)`` of the framings ``frame(x, f, flipped)``, resampled to ``size``
    (default: x's), in one resampling of ``x`` ``(B, C, H, W)`` instead of two (the framing's box
    composed with the region, mirrored where the framing is)."""
    out = crop(x, compose_t(f.to(x.dtype), mirror_t(t.to(x.dtype), flipped)), size or tuple(x.shape[-2:]))
    return torch.where(flipped.view(-1, 1, 1, 1), out.flip(-1), out)


def mirror_t(t: Tensor, flipped: Tensor) -> Tensor:
    """Region ``t`` ``(B, 4)`` of an image, in the same image mirrored left-right where ``flipped``.

    >>> mirror_t(torch.tensor([[0.5, 1.0, -0.5, 0.0]]), torch.tensor([True]))  # the left half -> the right half
    tensor([[0.5000, 1.0000, 0.5000, 0.0000]])
    """
    sign = torch.where(flipped, -1.0, 1.0).to(t.dtype)
    return torch.stack([t[:, 0], t[:, 1], sign * t[:, 2], t[:, 3]], dim=1)


def map_region(t: Tensor, f_a: Tensor, flip_a: Tensor, f_b: Tensor, flip_b: Tensor) -> Tensor:
    """Region ``t`` ``(B, 4)`` of framing a, in framing b's canvas ``(B, 4)``: the region of b that
    shows what ``t`` shows in a (framings from :func:`sample_framings`, applied by :func:`frame`).

    >>> f = torch.tensor([[0.5, 1.0, -0.5, 0.0]])  # framing a: the image's left half
    >>> map_region(torch.tensor([[1.0, 1.0, 0.0, 0.0]]), f, torch.tensor([False]), torch.tensor([[1.0, 1.0, 0.0, 0.0]]),
    ...            torch.tensor([True]))  # all of a, in the whole image mirrored: its right half
    tensor([[0.5000, 1.0000, 0.5000, 0.0000]])
    """
    src = compose_t(f_a.to(t.dtype), mirror_t(t, flip_a))  # in the image's own coordinates
    fb = f_b.to(t.dtype)
    in_b = torch.cat([src[:, :2] / fb[:, :2], (src[:, 2:] - fb[:, 2:]) / fb[:, :2]], dim=1)
    return mirror_t(in_b, flip_b)


def narrow_framing(f: Tensor, width: tuple[float, float], generator: torch.Generator | Tensor) -> Tensor:
    """Framings ``f`` ``(B, 4)`` narrowed about their centres to a fraction ``U(width)`` of their width,
    the fraction drawn from ``generator`` or given as uniforms ``(B,)`` in ``[0, 1)``.

    The real sets' partial images are cut around the visible part of the *person* (the paper,
    §4.1), and a person fills only about half of a 2:1 detection box's width; a training image
    gives no body box, but its framing, narrowed about the centre where a detector puts the person,
    gives a partial view cut the same way, with its corresponding region still known (the kit's
    option ``view_width``; ``(1, 1)`` draws nothing and returns ``f``).

    >>> narrow_framing(torch.tensor([[1.0, 1.0, 0.1, 0.0]]), (0.5, 0.5), torch.Generator().manual_seed(0))
    tensor([[0.5000, 1.0000, 0.1000, 0.0000]])
    """
    lo, hi = width
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"view_width must satisfy 0 < lo <= hi <= 1; got {tuple(width)}")
    if (lo, hi) == (1.0, 1.0):
        return f
    u = torch.rand(f.shape[0], generator=generator) if isinstance(generator, torch.Generator) else generator
    w = lo + (hi - lo) * u.to(f)
    return torch.cat([f[:, :1] * w[:, None], f[:, 1:]], dim=1)


def narrowed_region(t: Tensor, width: tuple[float, float], generator: torch.Generator | Tensor) -> Tensor:
    """Regions ``t`` ``(B, 4)`` of the image narrowed about its centre to ``U(width)`` of its width
    (:func:`narrow_framing`), as regions of the whole image ``(B, 4)`` (what ``crop`` cuts): how the
    kit's partial views are cut (``view_width``). Training's views and the validation queries that
    select models both go through here, so they are cut the same way.

    >>> narrowed_region(torch.tensor([[0.5, 1.0, -0.5, 0.0]]), (0.5, 0.5), torch.Generator().manual_seed(0))
    tensor([[ 0.2500,  1.0000, -0.2500,  0.0000]])
    """
    return compose_t(narrow_framing(identity_t(t.shape[0], dtype=t.dtype), width, generator), t)

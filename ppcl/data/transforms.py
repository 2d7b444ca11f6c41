"""Image transforms: the re-ID recipe of Luo et al. (flip, pad-and-crop, random erasing) and faces.

Two forms of the same training augmentation:

* per image, on PIL images (:func:`reid_train_transform`; outputs normalised float tensors
  ``(3, H, W)``), with the test-time transforms;
* per batch, on uint8 tensors on the training device (:class:`Augmentation`, :func:`augment`):
  what training runs. The images arrive already resized to the input size (done once, when they
  are stored: :class:`ppcl.data.datasets.ImageStore`); random horizontal flip, pad-and-random-crop
  with zero (black) fill, conversion to float and ImageNet normalisation, and random erasing with
  value 0 after normalisation. Every random number comes from one ``torch.Generator`` on the CPU,
  one draw per image, so the same generator state gives the same batch on any device, and a
  resumed run draws what an uninterrupted one would. Two steps, so that each can be checked by
  hand: :func:`draw` (the random parameters, :class:`Draws`) and :func:`apply` (a pure function of
  the images and those parameters). The distributions are torchvision's (``RandomHorizontalFlip``,
  ``Pad`` + ``RandomCrop``, ``RandomErasing`` with its scale, ratio and ten tries); only the order
  of the random draws differs.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision import transforms as T

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def reid_train_transform(
    size: tuple[int, int],
    flip: float = 0.5,
    pad: int = 10,
    erase: float = 0.5,
) -> T.Compose:
    """Resize to ``size`` (H, W), random flip, pad-and-random-crop, normalise, random erasing."""
    ops: list = [T.Resize(size)]
    if flip > 0:
        ops.append(T.RandomHorizontalFlip(flip))
    if pad > 0:
        ops += [T.Pad(pad), T.RandomCrop(size)]
    ops += [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    if erase > 0:
        ops.append(T.RandomErasing(p=erase, value=0))
    return T.Compose(ops)


def reid_test_transform(size: tuple[int, int]) -> T.Compose:
    """Resize to ``size`` (H, W) and normalise: the *Resize* baseline's input."""
    return T.Compose([T.Resize(size), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def face_train_transform(size: int, flip: float = 0.5) -> T.Compose:
    ops: list = [T.Resize((size, size))]
    if flip > 0:
        ops.append(T.RandomHorizontalFlip(flip))
    ops += [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return T.Compose(ops)


def face_test_transform(size: int) -> T.Compose:
    return T.Compose([T.Resize((size, size)), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def to_tensor_raw() -> T.Compose:
    """Image to ``[0, 1]`` tensor at its own size (for crops that must keep their pixels)."""
    return T.Compose([T.ToTensor()])


def denormalize(x):
    """Undo :func:`T.Normalize` for display: ``(..., 3, H, W)`` back to ``[0, 1]``."""
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(3, 1, 1)
    return (x * std + mean).clamp(0, 1)


# ---- the batched augmentation (what training runs) --------------------------------------------
@dataclass(frozen=True)
class Augmentation:
    """What the batched augmentation does; ``pad = 0`` and ``erase = 0`` switch those steps off."""

    flip: float = 0.5  # probability of a horizontal flip
    pad: int = 10  # pixels of zero padding on each side before the random crop back to the input size
    erase: float = 0.5  # probability of random erasing
    erase_scale: tuple[float, float] = (0.02, 0.33)  # erased area / image area
    erase_ratio: tuple[float, float] = (0.3, 3.3)  # aspect (height / width) of the erased box, log-uniform
    erase_tries: int = 10  # boxes drawn per image until one fits (none fits: nothing erased)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        for name in ("flip", "erase"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: expected a probability in [0, 1]; found {getattr(self, name)}")
        if self.pad < 0:
            raise ValueError(f"pad: expected 0 or more pixels; found {self.pad}")
        lo, hi = self.erase_scale
        if not 0 < lo <= hi < 1:
            raise ValueError(f"erase_scale: expected 0 < lo <= hi < 1; found {self.erase_scale}")
        lo, hi = self.erase_ratio
        if not 0 < lo <= hi:
            raise ValueError(f"erase_ratio: expected 0 < lo <= hi; found {self.erase_ratio}")
        if self.erase_tries < 1:
            raise ValueError(f"erase_tries: expected 1 or more; found {self.erase_tries}")


class Draws(NamedTuple):
    """The random parameters of one batch of ``B`` images."""

    flip: Tensor  # (B,) bool: mirror the image
    shift: Tensor  # (B, 2) int64 (dy, dx) in [0, 2 * pad]: the crop's corner in the padded image
    erase: Tensor  # (B, 4) int64 (top, left, height, width) of the erased box; height 0: nothing erased

    def to(self, device: torch.device | str) -> "Draws":
        return Draws(*(t.to(device, non_blocking=True) for t in self))


def draw(n: int, size: tuple[int, int], aug: Augmentation, generator: torch.Generator) -> Draws:
    """The random parameters of ``n`` images of ``size`` (H, W), drawn on the CPU from ``generator``.

    >>> d = draw(3, (8, 4), Augmentation(), torch.Generator().manual_seed(0))
    >>> d.flip.shape, d.shift.shape, d.erase.shape
    (torch.Size([3]), torch.Size([3, 2]), torch.Size([3, 4]))
    >>> bool(((d.shift >= 0) & (d.shift <= 20)).all())
    True
    """
    if n < 0:
        raise ValueError(f"n: expected 0 or more images; found {n}")
    h, w = size
    flip = torch.rand(n, generator=generator) < aug.flip
    shift = torch.randint(0, 2 * aug.pad + 1, (n, 2), generator=generator)
    erase = torch.zeros(n, 4, dtype=torch.int64)
    if aug.erase > 0 and n > 0:
        do = torch.rand(n, generator=generator) < aug.erase
        tries = aug.erase_tries
        lo, hi = aug.erase_scale
        area = h * w * (lo + (hi - lo) * torch.rand(n, tries, generator=generator, dtype=torch.float64))
        log_lo, log_hi = math.log(aug.erase_ratio[0]), math.log(aug.erase_ratio[1])
        aspect = torch.exp(log_lo + (log_hi - log_lo) * torch.rand(n, tries, generator=generator, dtype=torch.float64))
        eh = torch.round(torch.sqrt(area * aspect)).long()
        ew = torch.round(torch.sqrt(area / aspect)).long()
        fits = (eh < h) & (ew < w)
        first = fits.int().argmax(dim=1)  # the first box that fits (torchvision keeps the first)
        eh, ew = eh.gather(1, first[:, None])[:, 0], ew.gather(1, first[:, None])[:, 0]
        u = torch.rand(n, 2, generator=generator, dtype=torch.float64)
        top = (u[:, 0] * (h - eh + 1)).long().clamp(max=h - 1)
        left = (u[:, 1] * (w - ew + 1)).long().clamp(max=w - 1)
        keep = do & fits.any(dim=1)
        erase = torch.stack([top, left, eh, ew], dim=1) * keep[:, None]
    return Draws(flip, shift, erase)


def apply(x: Tensor, d: Draws, aug: Augmentation) -> Tensor:
    """Augment uint8 images ``(B, 3, H, W)`` with the parameters ``d`` (on ``x``'s device):
    a normalised float32 batch ``(B, 3, H, W)``, contiguous.

    Pixel ``(i, j)`` of the output is pixel ``(i + dy - pad, j + dx - pad)`` of the (flipped)
    image, black where that falls outside it; the erased box is 0 after normalisation. Flip,
    shift and padding are one gather; normalisation and erasing work in place.

    >>> x = torch.full((1, 3, 4, 2), 255, dtype=torch.uint8)
    >>> none = Draws(torch.tensor([False]), torch.tensor([[1, 1]]), torch.zeros(1, 4, dtype=torch.long))
    >>> y = apply(x, none, Augmentation(pad=1, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)))
    >>> y.shape, y[0, 0].tolist()
    (torch.Size([1, 3, 4, 2]), [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    """
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"x: expected uint8 images (B, 3, H, W); found {x.dtype} {tuple(x.shape)}")
    b, c, h, w = x.shape
    dev = x.device
    rows = torch.arange(h, device=dev) + d.shift[:, :1] - aug.pad  # (B, H) rows of the source
    cols = torch.arange(w, device=dev) + d.shift[:, 1:] - aug.pad  # (B, W) columns of the (flipped) source
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]  # (B, H, W)
    cols = torch.where(d.flip[:, None], w - 1 - cols, cols)
    pixel = rows.clamp(0, h - 1)[:, :, None] * w + cols.clamp(0, w - 1)[:, None, :]
    pixel = torch.where(inside, pixel, h * w)  # outside: the black pixel appended below
    flat = F.pad(x.reshape(b, c, h * w), (0, 1))  # (B, 3, H*W + 1), the last pixel black
    src = flat.gather(2, pixel.view(b, 1, h * w).expand(b, c, h * w)).view(b, c, h, w)
    mean, std = channel_constant(aug.mean, dev), channel_constant(aug.std, dev)
    out = src.float().mul_(1.0 / (255.0 * std)).sub_(mean / std)
    top, left, eh, ew = d.erase.unbind(1)
    ii, jj = torch.arange(h, device=dev), torch.arange(w, device=dev)
    in_rows = (ii >= top[:, None]) & (ii < (top + eh)[:, None])  # (B, H)
    in_cols = (jj >= left[:, None]) & (jj < (left + ew)[:, None])  # (B, W)
    return out.masked_fill_((in_rows[:, :, None] & in_cols[:, None, :])[:, None], 0.0)


@functools.lru_cache(maxsize=32)
def channel_constant(values: tuple[float, ...], device: torch.device) -> Tensor:
    """``(1, C, 1, 1)`` float32 constants on ``device``, made there once (filled, not copied from the
    host) and kept: a training step reads them without a copy."""
    return torch.stack([torch.full((), float(v), device=device) for v in values]).view(1, -1, 1, 1)


def augment(x: Tensor, generator: torch.Generator, aug: Augmentation) -> Tensor:
    """:func:`apply` with parameters from :func:`draw`: uint8 ``(B, 3, H, W)`` -> normalised
    float32 ``(B, 3, H, W)`` on ``x``'s device.

    >>> x = torch.randint(0, 256, (5, 3, 16, 8), dtype=torch.uint8)
    >>> a = augment(x, torch.Generator().manual_seed(1), Augmentation())
    >>> b = augment(x, torch.Generator().manual_seed(1), Augmentation())
    >>> a.shape, a.dtype, torch.equal(a, b)
    (torch.Size([5, 3, 16, 8]), torch.float32, True)
    """
    return apply(x, draw(len(x), tuple(x.shape[-2:]), aug, generator).to(x.device), aug)

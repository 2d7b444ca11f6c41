"""Image transforms: the re-ID recipe of Luo et al. (flip, pad-and-crop, random erasing) and faces.

Inputs are PIL images; outputs normalised float tensors ``(3, H, W)``.
"""
from __future__ import annotations

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
    import torch

    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(3, 1, 1)
    return (x * std + mean).clamp(0, 1)

"""Re-ID and face transforms: output shapes, normalisation, and that each augmentation acts."""
import numpy as np
import torch
from PIL import Image

from ppcl.data.transforms import (denormalize, face_test_transform, face_train_transform, reid_test_transform,
                                  reid_train_transform)


def _img(h=100, w=50):
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = (255, 0, 0)  # left half red, right half black: flips are visible
    return Image.fromarray(a)


def test_test_transform_resizes_and_normalises_invertibly():
    x = reid_test_transform((128, 64))(_img())
    assert x.shape == (3, 128, 64)
    back = denormalize(x)
    assert back[0, :, :30].mean() > 0.95 and back[0, :, 34:].mean() < 0.05


def test_train_transform_flips_and_erases():
    torch.manual_seed(0)
    flip_only = reid_train_transform((128, 64), flip=1.0, pad=0, erase=0)
    x = denormalize(flip_only(_img()))
    assert x[0, :, 34:].mean() > 0.95 and x[0, :, :30].mean() < 0.05  # mirrored
    erase_only = reid_train_transform((128, 64), flip=0, pad=0, erase=1.0)
    plain = reid_test_transform((128, 64))(_img())
    erased = [erase_only(_img()) for _ in range(5)]
    assert all(e.shape == (3, 128, 64) for e in erased)
    assert any((e != plain).any() for e in erased)
    padcrop = reid_train_transform((128, 64), flip=0, pad=10, erase=0)
    shifted = [padcrop(_img()) for _ in range(8)]
    assert any(not torch.allclose(s, plain, atol=1e-4) for s in shifted)


def test_face_transforms_are_square():
    assert face_test_transform(64)(_img(80, 80)).shape == (3, 64, 64)
    assert face_train_transform(32)(_img(80, 80)).shape == (3, 32, 32)

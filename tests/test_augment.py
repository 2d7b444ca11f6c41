"""The batched augmentation (ppcl.data.transforms): each step exact on hand-made images against
torchvision's per-image operations, the random draws distributed as torchvision's, and one
generator state giving one batch."""
import math

import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF

from ppcl.data.transforms import IMAGENET_MEAN, IMAGENET_STD, Augmentation, Draws, apply, augment, draw


def _images(b=6, h=12, w=6, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, 3, h, w), generator=g, dtype=torch.uint8)


def _reference(img: torch.Tensor, flip: bool, dy: int, dx: int, erase: tuple[int, int, int, int], pad: int) -> torch.Tensor:
    """The old per-image pipeline with fixed parameters: flip, pad (black), crop, to float,
    normalise, erase with 0 (torchvision's functional operations)."""
    h, w = img.shape[-2:]
    x = TF.hflip(img) if flip else img
    x = TF.crop(TF.pad(x, [pad]), dy, dx, h, w)
    x = TF.normalize(x.float() / 255, IMAGENET_MEAN, IMAGENET_STD)
    top, left, eh, ew = erase
    return TF.erase(x, top, left, eh, ew, torch.zeros(3, 1, 1)) if eh > 0 else x


@pytest.mark.parametrize("pad", [0, 3])
def test_apply_equals_the_per_image_pipeline_for_every_parameter(pad):
    x = _images()
    g = torch.Generator().manual_seed(5)
    flips = torch.tensor([False, True, False, True, True, False])
    shift = torch.randint(0, 2 * pad + 1, (6, 2), generator=g)
    erase = torch.tensor([[0, 0, 0, 0], [2, 1, 4, 3], [0, 0, 12, 1], [11, 5, 1, 1], [0, 0, 0, 0], [3, 0, 5, 6]])
    out = apply(x, Draws(flips, shift, erase), Augmentation(pad=pad))
    assert out.shape == x.shape and out.dtype == torch.float32
    for i in range(6):
        ref = _reference(x[i], bool(flips[i]), int(shift[i, 0]), int(shift[i, 1]), tuple(erase[i].tolist()), pad)
        assert torch.allclose(out[i], ref, atol=1e-5), i


def test_a_shifted_crop_shows_black_padding_where_the_image_ends():
    x = torch.full((1, 3, 4, 4), 200, dtype=torch.uint8)
    aug = Augmentation(pad=2, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    out = apply(x, Draws(torch.tensor([False]), torch.tensor([[0, 4]]), torch.zeros(1, 4, dtype=torch.long)), aug)
    # dy = 0: the top two rows come from the padding; dx = 4: the right two columns do.
    expected = torch.zeros(4, 4)
    expected[2:, :2] = 200 / 255
    assert torch.allclose(out[0, 0], expected)


def test_a_flip_mirrors_the_image():
    x = torch.zeros(1, 3, 2, 4, dtype=torch.uint8)
    x[..., 0] = 255  # the left column white
    aug = Augmentation(pad=0, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    out = apply(x, Draws(torch.tensor([True]), torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long)), aug)
    assert out[0, :, :, 3].eq(1).all() and out[0, :, :, :3].eq(0).all()


def test_the_same_generator_state_gives_the_same_batch_and_another_does_not():
    x = _images(8, 16, 8)
    aug = Augmentation()
    a = augment(x, torch.Generator().manual_seed(3), aug)
    b = augment(x, torch.Generator().manual_seed(3), aug)
    c = augment(x, torch.Generator().manual_seed(4), aug)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.is_contiguous()


def test_draws_follow_torchvisions_distributions():
    n, size = 20_000, (32, 16)
    aug = Augmentation(flip=0.5, pad=10, erase=0.5)
    d = draw(n, size, aug, torch.Generator().manual_seed(0))
    assert abs(d.flip.float().mean().item() - 0.5) < 0.02
    counts = torch.bincount(d.shift.flatten(), minlength=21).float() / (2 * n)
    assert counts.numel() == 21 and (counts - 1 / 21).abs().max() < 0.01  # uniform on [0, 2 * pad]
    top, left, eh, ew = d.erase.T
    on = eh > 0
    # torchvision's RandomErasing with the same settings, drawn as it draws them.
    torch.manual_seed(0)
    img = torch.zeros(3, *size)
    ref = [T.RandomErasing.get_params(img, scale=aug.erase_scale, ratio=aug.erase_ratio, value=[0]) for _ in range(n // 2)]
    ref_on = torch.tensor([r[2] < size[0] for r in ref])  # torchvision returns the whole image when nothing fits
    ref_h = torch.tensor([float(r[2]) for r, ok in zip(ref, ref_on) if ok])
    ref_w = torch.tensor([float(r[3]) for r, ok in zip(ref, ref_on) if ok])
    assert abs(on.float().mean().item() - 0.5 * ref_on.float().mean().item()) < 0.02
    assert abs(eh[on].float().mean().item() - ref_h.mean().item()) < 0.3
    assert abs(ew[on].float().mean().item() - ref_w.mean().item()) < 0.2
    area = (eh[on] * ew[on]).float() / (size[0] * size[1])
    assert area.min() >= 0.01 and area.max() <= 0.4 and abs(area.mean().item() - (ref_h * ref_w).mean().item() / 512) < 0.01
    assert ((top + eh <= size[0]) & (left + ew <= size[1])).all() and (top >= 0).all() and (left >= 0).all()
    assert (top[on] + eh[on] == size[0]).any() and (top[on] == 0).any()  # both ends reachable


def test_switched_off_steps_change_nothing():
    x = _images()
    out = augment(x, torch.Generator().manual_seed(0), Augmentation(flip=0.0, pad=0, erase=0.0))
    assert torch.allclose(out, TF.normalize(x.float() / 255, IMAGENET_MEAN, IMAGENET_STD), atol=1e-5)


@pytest.mark.parametrize("bad, match", [({"flip": 1.5}, "flip"), ({"pad": -1}, "pad"), ({"erase": -0.1}, "erase"),
                                        ({"erase_scale": (0.5, 0.2)}, "erase_scale"), ({"erase_tries": 0}, "erase_tries")])
def test_bad_settings_are_refused_naming_the_parameter(bad, match):
    with pytest.raises(ValueError, match=f"^{match}"):
        Augmentation(**bad)


def test_images_that_are_not_uint8_are_refused():
    with pytest.raises(ValueError, match="^x: expected uint8"):
        augment(torch.rand(2, 3, 8, 4), torch.Generator(), Augmentation())


def test_an_erased_box_is_inside_the_image_and_zero():
    x = _images(1, 16, 8)
    d = Draws(torch.tensor([False]), torch.tensor([[10, 10]]), torch.tensor([[4, 2, 5, 3]]))
    out = apply(x, d, Augmentation())
    assert out[0, :, 4:9, 2:5].eq(0).all()
    assert math.isclose(float(out[0].eq(0).float().mean()), 15 / 128, abs_tol=1e-6)

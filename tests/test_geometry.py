"""The t convention: crop and paste (T) are inverse; boxes, IoU and containment by hand."""
import numpy as np
import pytest
import torch

from ppcl import geometry as G
from ppcl.data.partial import crop_pixels, pixels_to_t, sample_partial_t, t_to_pixels


def _canvas(h=64, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g)


def test_identity_t_crop_and_paste_are_identity():
    x = _canvas()
    t = G.identity_t(1)
    assert torch.allclose(G.crop(x, t), x, atol=1e-5)
    assert torch.allclose(G.paste(x, t), x, atol=1e-5)


def test_box_t_roundtrip_and_values():
    t = torch.tensor([[0.5, 0.25, -0.5, 0.75]])
    box = G.t_to_box(t)
    assert torch.allclose(box, torch.tensor([[-1.0, 0.5, 0.0, 1.0]]))
    assert torch.allclose(G.box_to_t(box), t)


@pytest.mark.parametrize("seed", range(8))
def test_T_with_true_t_puts_pixel_crop_back(seed):
    """The invariant the whole of GLRec rests on: paste(crop, t) restores the crop's region."""
    h, w = 64, 32
    x = _canvas(h, w, seed)
    rng = np.random.default_rng(seed)
    t, side = sample_partial_t(rng, area=(0.3, 0.8))
    img = x[0].permute(1, 2, 0).numpy()
    patch, t_real = crop_pixels(img, t)
    patch_t = torch.from_numpy(patch).permute(2, 0, 1)[None]
    # The crop arrives at some other size (as a partial image would), then T rectifies it.
    small = torch.nn.functional.interpolate(patch_t, size=(48, 24), mode="bilinear", align_corners=False)
    t_real = torch.from_numpy(t_real).float()[None]
    restored = G.paste(small, t_real, size=(h, w))
    x0, y0, x1, y1 = t_to_pixels(t_real[0].numpy(), h, w)
    # Compare away from the region's border pixels (bilinear blends there).
    inner = (slice(None), slice(None), slice(y0 + 2, y1 - 2), slice(x0 + 2, x1 - 2))
    ref = torch.nn.functional.interpolate(small, size=(y1 - y0, x1 - x0), mode="bilinear", align_corners=False)
    full = torch.zeros_like(x)
    full[..., y0:y1, x0:x1] = ref
    assert (restored[inner] - full[inner]).abs().mean() < 0.02, side
    # Outside the region the canvas is empty.
    outside = torch.ones(h, w, dtype=torch.bool)
    outside[max(y0 - 1, 0) : y1 + 1, max(x0 - 1, 0) : x1 + 1] = False
    assert restored[0, :, outside].abs().max() < 1e-6
    # With no resize in between, the restore is exact up to interpolation error.
    exact = G.paste(patch_t, t_real, size=(h, w))
    assert (exact[inner] - x[inner]).abs().max() < 1e-4


def test_crop_of_paste_is_identity_and_wrong_t_is_not():
    x = _canvas(32, 16)
    t = torch.tensor([[0.5, 0.5, 0.25, -0.5]])
    canvas = G.paste(x, t, size=(64, 32))  # half-size region of a 2x canvas: pixel-aligned
    back = G.crop(canvas, t, size=(32, 16))
    assert (back - x).abs().max() < 1e-4
    wrong = G.crop(canvas, torch.tensor([[0.5, 0.5, -0.25, 0.5]]), size=(32, 16))
    assert (wrong - x).abs().mean() > 0.1


def test_crop_is_differentiable_in_t():
    x = _canvas()
    t = torch.tensor([[0.5, 0.5, 0.0, 0.0]], requires_grad=True)
    G.crop(x, t, size=(8, 4)).sum().backward()
    assert t.grad is not None and t.grad.abs().sum() > 0


def test_iou_and_containment_hand_worked():
    a = torch.tensor([-1.0, -1.0, 0.0, 0.0])  # area 1
    b = torch.tensor([-0.5, -0.5, 0.5, 0.5])  # area 1, overlap 0.25
    c = torch.tensor([-1.0, -1.0, 1.0, 1.0])  # area 4, contains a
    assert G.box_iou(a, b).item() == pytest.approx(0.25 / 1.75)
    assert G.box_containment(a, b).item() == pytest.approx(0.25)
    assert G.box_iou(a, c).item() == pytest.approx(0.25)
    assert G.box_containment(a, c).item() == pytest.approx(1.0)
    far = torch.tensor([0.5, 0.5, 1.0, 1.0])
    assert G.box_iou(a, far).item() == 0.0


def test_compose_and_grid_points():
    outer = torch.tensor([[0.5, 0.5, 0.5, 0.5]])
    inner = torch.tensor([[0.5, 1.0, -0.5, 0.0]])
    comp = G.compose_t(outer, inner)
    # Points mapped through inner then outer equal points mapped through the composition.
    pts = G.grid_points(5)
    two_step = G.map_points(outer, G.map_points(inner, pts)[0])
    assert torch.allclose(two_step, G.map_points(comp, pts))
    assert G.grid_points(20).shape == (400, 2)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\(B, 4\)"):
        G.theta_crop(torch.zeros(4))
    with pytest.raises(ValueError, match="image batch"):
        G.crop(torch.zeros(3, 8, 8), G.identity_t(1))


def test_pixels_t_roundtrip():
    for x0, y0, x1, y1 in [(0, 0, 32, 64), (3, 10, 20, 41), (31, 63, 32, 64)]:
        assert t_to_pixels(pixels_to_t(x0, y0, x1, y1, 64, 32), 64, 32) == (x0, y0, x1, y1)

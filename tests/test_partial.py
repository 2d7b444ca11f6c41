"""Partial-crop simulation: sides, area ratios and the batch simulator."""
import numpy as np
import pytest
import torch

from ppcl.data.partial import SIDES, area_ratio, sample_partial_t, simulate_partial_batch
from ppcl.geometry import t_to_box


@pytest.mark.parametrize("side", SIDES)
def test_crops_lie_inside_the_canvas_with_requested_area(side):
    rng = np.random.default_rng(0)
    for _ in range(200):
        t, s = sample_partial_t(rng, area=(0.2, 0.6), sides=(side,))
        assert s == side
        box = t_to_box(torch.from_numpy(t))
        assert box[0] >= -1 - 1e-9 and box[1] >= -1 - 1e-9 and box[2] <= 1 + 1e-9 and box[3] <= 1 + 1e-9
        assert 0.2 - 1e-9 <= area_ratio(t) <= 0.6 + 1e-9
        if side == "top":
            assert t[0] == 1 and box[1] == -1
        if side == "bottom":
            assert t[0] == 1 and box[3] == pytest.approx(1)
        if side == "left":
            assert t[1] == 1 and box[0] == -1
        if side == "right":
            assert t[1] == 1 and box[2] == pytest.approx(1)


def test_bad_parameters_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="area"):
        sample_partial_t(rng, area=(0.8, 0.2))
    with pytest.raises(ValueError, match="sides"):
        sample_partial_t(rng, sides=("diagonal",))


def test_simulated_batch_labels_and_holistic_passthrough():
    x = torch.rand(64, 3, 32, 16)
    g = torch.Generator().manual_seed(0)
    xp, t, is_p, sides = simulate_partial_batch(x, g, partial_share=0.5)
    assert xp.shape == x.shape and t.shape == (64, 4) and is_p.shape == (64,)
    assert 10 < is_p.sum() < 54
    whole = is_p == 0
    assert torch.allclose(xp[whole], x[whole], atol=1e-5)
    assert torch.all(t[whole] == torch.tensor([1.0, 1, 0, 0]))
    assert all((s == "whole") == (p == 0) for s, p in zip(sides, is_p.tolist()))
    # Same generator seed, same batch.
    xp2, t2, _, _ = simulate_partial_batch(x, torch.Generator().manual_seed(0), partial_share=0.5)
    assert torch.equal(t, t2) and torch.equal(xp, xp2)


def test_body_crops_keep_the_drawn_side_of_the_body_inside_the_frame():
    """sample_body_crop_t: inside the frame, inside the person's box widened by the margin, the
    kept fraction on the drawn side (top keeps the head, bottom the feet, left/right the edges)."""
    from ppcl.data.partial import BODY_HALF_WIDTH, sample_body_crop_t

    rng = np.random.default_rng(0)
    for _ in range(400):
        body = (rng.uniform(0.3, 0.7), rng.uniform(-0.1, 0.15), rng.uniform(1.2, 2.6), rng.uniform(0.7, 1.05))
        m = 0.05
        t, side = sample_body_crop_t(rng, body, (0.3, 0.8), margin=m)
        x0, x1 = (t[2] - t[0] + 1) / 2, (t[2] + t[0] + 1) / 2
        y0, y1 = (t[3] - t[1] + 1) / 2, (t[3] + t[1] + 1) / 2
        cx, top, ws, ph = body
        px0, px1, py0, py1 = cx - BODY_HALF_WIDTH * ws, cx + BODY_HALF_WIDTH * ws, top, top + ph
        bw, bh = px1 - px0, py1 - py0
        assert -1e-9 <= x0 < x1 <= 1 + 1e-9 and -1e-9 <= y0 < y1 <= 1 + 1e-9
        assert x1 - x0 >= 0.05 - 1e-9 and y1 - y0 >= 0.05 - 1e-9
        assert x0 >= px0 - m * bw - 0.05 and x1 <= px1 + m * bw + 0.05 and y0 >= py0 - m * bh - 0.05 and y1 <= py1 + m * bh + 0.05
        if side == "top":
            assert y0 <= max(0.0, py0 - m * bh) + 1e-9 and y1 < py1
        elif side == "bottom":
            assert y1 >= min(1.0, py1 + m * bh) - 1e-9 and y0 > py0
        elif side == "left":
            assert x0 <= max(0.0, px0 - m * bw) + 1e-9 and x1 < px1
        elif side == "right":
            assert x1 >= min(1.0, px1 + m * bw) - 1e-9 and x0 > px0
    with pytest.raises(ValueError, match="area range"):
        sample_body_crop_t(rng, (0.5, 0.0, 2.0, 1.0), (0.9, 0.3))
    with pytest.raises(ValueError, match="sides"):
        sample_body_crop_t(rng, (0.5, 0.0, 2.0, 1.0), sides=("middle",))

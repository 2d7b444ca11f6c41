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

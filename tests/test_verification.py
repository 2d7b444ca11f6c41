"""Face verification ROC: hand-worked points, ties, TAR@FAR never above the target, AUC."""
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from ppcl.evaluate.verification import tar_at_far, verification

T, F = True, False


def test_hand_worked_roc():
    # distances 0.1 (gen), 0.2 (imp), 0.3 (gen), 0.4 (imp); 2 genuine, 2 impostor pairs.
    # threshold -inf: nothing accepted                   -> FAR 0,   TAR 0
    # threshold 0.1 : accepts the genuine 0.1           -> FAR 0,   TAR 1/2
    # threshold 0.2 : + impostor 0.2                     -> FAR 1/2, TAR 1/2
    # threshold 0.3 : + genuine 0.3                      -> FAR 1/2, TAR 1
    # threshold 0.4 : + impostor 0.4                     -> FAR 1,   TAR 1
    # AUC = 1/2 * 1/2 (FAR 0..1/2 at TAR 1/2) + 1/2 * 1 (FAR 1/2..1 at TAR 1) = 0.75
    r = verification([0.1, 0.2, 0.3, 0.4], [T, F, T, F])
    np.testing.assert_allclose(r.far, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(r.tar, [0, 0.5, 0.5, 1, 1])
    assert r.thresholds[0] == -np.inf
    np.testing.assert_allclose(r.thresholds[1:], [0.1, 0.2, 0.3, 0.4])
    assert r.auc == pytest.approx(0.75)
    assert (r.num_genuine, r.num_impostor) == (2, 2)
    # FAR 0 allows the point (0, 1/2); FAR 0.49 still only that one; FAR 0.5 reaches TAR 1.
    assert r.tar_at_far(0.0) == 0.5 and r.tar_at_far(0.49) == 0.5 and r.tar_at_far(0.5) == 1.0


def test_ties_enter_together_as_sklearn_does():
    # distances: genuine 0.2, then a genuine and an impostor tied at 0.5, then an impostor 0.9.
    # threshold 0.2 -> FAR 0, TAR 1/2; threshold 0.5 admits BOTH tied pairs -> FAR 1/2, TAR 1
    # (no point (0, 1) or (1/2, 1/2) splitting the tie); threshold 0.9 -> FAR 1, TAR 1.
    # AUC: trapezoid (0,1/2)-(1/2,1) = 1/2 * 3/4 = 0.375, plus 1/2 * 1 = 0.875
    # (Mann-Whitney: genuine-impostor pairs ordered right 3 of 4, the tie counting 1/2).
    r = verification(torch.tensor([0.5, 0.5, 0.2, 0.9]), torch.tensor([T, F, T, F]))
    np.testing.assert_allclose(r.far, [0, 0, 0.5, 1])
    np.testing.assert_allclose(r.tar, [0, 0.5, 1, 1])
    np.testing.assert_allclose(r.thresholds[1:], [0.2, 0.5, 0.9])
    assert r.auc == pytest.approx(0.875)
    assert r.tar_at_far(0.3) == 0.5  # the tie's point has FAR 1/2 > 0.3


def test_tar_at_far_reads_the_largest_far_not_above_the_target_never_the_nearest():
    # 1000 impostors, 10 genuine pairs:
    #   4 genuine at 0.005                         -> point FAR 0,     TAR 0.4
    #   8 impostors at 0.01 .. 0.08                -> FAR 0.001 .. 0.008, TAR 0.4
    #   2 genuine at 0.2                           -> FAR 0.008,       TAR 0.6
    #   4 genuine and 3 impostors tied at 0.5      -> FAR 0.011,       TAR 1.0
    #   989 impostors at 10                        -> FAR 1,           TAR 1.0
    # For FAR 1e-2 the nearest point is FAR 0.011 (|0.001| away, TAR 1.0) but it exceeds the
    # target: the answer is the FAR 0.008 point, TAR 0.6. For FAR 1e-3: TAR 0.4.
    d = np.r_[[0.005] * 4, np.arange(1, 9) / 100, [0.2] * 2, [0.5] * 7, [10.0] * 989]
    same = np.r_[[T] * 4, [F] * 8, [T] * 2, [T] * 4, [F] * 3, [F] * 989]
    r = verification(d, same)
    nearest = int(np.argmin(np.abs(r.far - 1e-2)))
    assert r.far[nearest] == pytest.approx(0.011) and r.tar[nearest] == 1.0  # the trap exists
    assert r.tar_at == {1e-3: pytest.approx(0.4), 1e-2: pytest.approx(0.6)}
    assert tar_at_far(r.far, r.tar, 0.011) == 1.0  # reachable exactly at its own FAR


@pytest.mark.parametrize("seed", range(5))
def test_tar_at_far_is_the_best_threshold_whose_far_does_not_exceed_the_target(seed):
    rng = np.random.default_rng(seed)
    d = np.round(rng.normal(size=400), 1)  # rounded: many ties
    same = rng.random(400) < 0.3
    d[same] -= 0.8
    r = verification(d, same)
    for target in (0.0, 0.01, 0.05, 0.1, 0.37, 1.0):
        # brute force over every candidate threshold (every distance, and accepting nothing)
        best = 0.0
        for thr in np.r_[-np.inf, d]:
            far = (d[~same] <= thr).mean()
            if far <= target:
                best = max(best, (d[same] <= thr).mean())
        assert r.tar_at_far(target) == pytest.approx(best)


@pytest.mark.parametrize("seed", range(4))
def test_roc_points_are_the_rates_at_their_thresholds(seed):
    rng = np.random.default_rng(100 + seed)
    d = np.round(rng.random(300), 2)
    same = rng.random(300) < 0.5
    r = verification(d, same)
    for far, tar, thr in zip(r.far, r.tar, r.thresholds):
        assert far == pytest.approx((d[~same] <= thr).mean())
        assert tar == pytest.approx((d[same] <= thr).mean())


@pytest.mark.parametrize("seed,n,ties", [(0, 50, False), (1, 500, False), (2, 500, True), (3, 2000, True), (4, 37, True)])
def test_auc_matches_roc_auc_score(seed, n, ties):
    rng = np.random.default_rng(seed)
    same = rng.random(n) < rng.uniform(0.1, 0.9)
    same[:2] = [True, False]
    d = rng.normal(size=n) + np.where(same, -rng.uniform(0, 2), 0.0)
    if ties:
        d = np.round(d, 1)
    r = verification(d, same)
    assert r.auc == pytest.approx(roc_auc_score(same, -d), abs=1e-12)


def test_perfect_separation():
    rng = np.random.default_rng(0)
    gen, imp = rng.uniform(0, 1, 30), rng.uniform(1.5, 3, 300)
    d, same = np.r_[gen, imp], np.r_[[T] * 30, [F] * 300]
    r = verification(d, same)
    assert r.auc == 1.0
    assert r.tar_at == {1e-3: 1.0, 1e-2: 1.0}
    assert all(r.tar_at_far(f) == 1.0 for f in (0.0, 1e-6, 0.5, 1.0))


def test_worst_order_gives_auc_zero_and_tar_zero_at_low_far():
    r = verification([1.0, 2.0, 3.0, 4.0], [F, F, T, T])
    assert r.auc == 0.0 and r.tar_at_far(0.49) == 0.0


@pytest.mark.parametrize("same,kind", [([T, T, T], "3 genuine and 0 impostor"), ([F, F, F], "0 genuine and 3 impostor")])
def test_one_class_only_is_refused(same, kind):
    with pytest.raises(ValueError, match=f"needs both genuine.*found {kind} pairs"):
        verification([0.1, 0.2, 0.3], same)


def test_bad_input_is_refused_naming_the_parameter():
    with pytest.raises(ValueError, match="3 distances and 2 labels"):
        verification([0.1, 0.2, 0.3], [T, F])
    with pytest.raises(ValueError, match="distances is empty"):
        verification([], [])
    with pytest.raises(ValueError, match=r"distances must be finite; found 1 NaN.*index 1"):
        verification([0.1, np.nan, 0.3], [T, F, T])
    with pytest.raises(ValueError, match="1 infinite"):
        verification([0.1, np.inf, 0.3], [T, F, T])
    with pytest.raises(ValueError, match="distances must be 1-D"):
        verification(np.zeros((2, 2)), [T, F, T, F])
    with pytest.raises(ValueError, match="same_identity must be booleans"):
        verification([0.1, 0.2], [0.5, 1.0])
    with pytest.raises(ValueError, match="same_identity must be booleans"):
        verification([0.1, 0.2], [1, 2])
    assert verification([0.1, 0.2], [1, 0]).auc == 1.0  # 0/1 integers are fine


def test_tar_at_far_refuses_bad_input():
    with pytest.raises(ValueError, match="target must be a false-accept rate in \\[0, 1\\]; got 1.5"):
        tar_at_far([0, 1], [0, 1], 1.5)
    with pytest.raises(ValueError, match="far must be non-decreasing.*far\\[1\\] = 0.5 > far\\[2\\] = 0.2"):
        tar_at_far([0, 0.5, 0.2], [0, 0.5, 1], 0.3)
    with pytest.raises(ValueError, match="equal length"):
        tar_at_far([0, 1], [0], 0.3)
    assert tar_at_far([0.2, 1.0], [0.5, 1.0], 0.1) == 0.0  # no point qualifies: accept nothing

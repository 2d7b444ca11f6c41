"""rank(): CMC and mAP against hand-worked cases and a slow per-query reference."""
import numpy as np
import pytest
import torch

from ppcl.evaluate import rank


def test_hand_worked_single_query():
    # Gallery order by distance: g0 (wrong), g1 (right), g2 (wrong), g3 (right).
    d = np.array([[0.1, 0.2, 0.3, 0.4]])
    out = rank(d, [7], [1, 7, 2, 7], max_rank=4)
    assert out["cmc"].tolist() == [0.0, 1.0, 1.0, 1.0]
    assert out["mAP"] == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_hand_worked_two_queries_cmc_average():
    d = np.array([[0.1, 0.5, 0.9], [0.9, 0.5, 0.1]])
    out = rank(d, [1, 1], [1, 2, 3], max_rank=3)
    # Query 0 finds its match first; query 1 last.
    assert out["cmc"].tolist() == [0.5, 0.5, 1.0]
    assert out["mAP"] == pytest.approx((1 + 1 / 3) / 2)


def test_camera_filtering_only_when_camids_given():
    # The nearest true match shares the query's camera: Market's rule removes it.
    d = np.array([[0.1, 0.2, 0.3]])
    no_cam = rank(d, [5], [5, 9, 5], max_rank=3)
    assert no_cam["rank1"] == 1.0 and no_cam["mAP"] == pytest.approx((1 + 2 / 3) / 2)
    cam = rank(d, [5], [5, 9, 5], q_camids=[1], g_camids=[1, 2, 2], max_rank=3)
    # g0 is removed; remaining order: g1 (wrong), g2 (right).
    assert cam["cmc"].tolist()[:2] == [0.0, 1.0] and cam["mAP"] == pytest.approx(0.5)
    # Same-camera images of *other* identities stay in the gallery.
    cam2 = rank(d, [5], [9, 5, 5], q_camids=[1], g_camids=[1, 2, 2], max_rank=3)
    assert cam2["rank1"] == 0.0


def test_queries_without_valid_match_are_skipped_and_all_filtered_is_an_error():
    d = np.array([[0.1, 0.2], [0.3, 0.4]])
    out = rank(d, [1, 3], [1, 2])
    assert out["num_valid_queries"] == 1 and out["num_queries"] == 2
    with pytest.raises(ValueError, match="no query has a valid true match"):
        rank(d, [1, 1], [1, 1], q_camids=[0, 0], g_camids=[0, 0])


def test_ties_count_against_the_match():
    d = np.array([[0.5, 0.5]])
    assert rank(d, [1], [2, 1], max_rank=2)["rank1"] == 0.0
    assert rank(d, [1], [1, 2], max_rank=2)["rank1"] == 0.0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="shape"):
        rank(np.zeros((2, 3)), [1, 2], [1, 2])
    with pytest.raises(ValueError, match="both"):
        rank(np.zeros((1, 1)), [1], [1], q_camids=[1])


def _slow_reference(d, qp, gp, qc=None, gc=None, max_rank=10):
    """A plain per-query loop with a full sort (torchreid's shape of computation)."""
    cmcs, aps = [], []
    for i in range(len(qp)):
        order = np.argsort(d[i], kind="stable")
        keep = np.ones(len(gp), bool) if qc is None else ~((gp[order] == qp[i]) & (gc[order] == qc[i]))
        m = (gp[order] == qp[i])[keep]
        if not m.any():
            continue
        c = m.cumsum()
        c[c > 1] = 1
        cmcs.append(c[:max_rank])
        hits = np.flatnonzero(m)
        aps.append(np.mean([(k + 1) / (r + 1) for k, r in enumerate(hits)]))
    return np.mean(cmcs, 0), float(np.mean(aps))


@pytest.mark.parametrize("cams", [False, True])
def test_matches_a_slow_reference_on_random_data(cams):
    rng = np.random.default_rng(0)
    q, g = 60, 300
    qp, gp = rng.integers(0, 20, q), rng.integers(0, 20, g)
    qc, gc = (rng.integers(0, 6, q), rng.integers(0, 6, g)) if cams else (None, None)
    d = rng.random((q, g)).astype(np.float32)
    cmc_ref, map_ref = _slow_reference(d, qp, gp, qc, gc)
    out = rank(torch.from_numpy(d), qp, gp, qc, gc, chunk=7)
    assert np.allclose(out["cmc"], cmc_ref) and out["mAP"] == pytest.approx(map_ref, rel=1e-5)

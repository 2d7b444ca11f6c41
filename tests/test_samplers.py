"""PK sampler: P identities x K images per batch, reproducible, disjoint across ranks."""
import pytest

from ppcl.data.samplers import PKSampler


def _pids():
    # 10 identities with 2..9 images each; identity 9 has a single image.
    pids = []
    for pid in range(9):
        pids += [pid] * (2 + pid % 8)
    return pids + [9]


def test_every_batch_is_p_identities_of_k_images():
    pids = _pids()
    s = PKSampler(pids, p=4, k=2, seed=1)
    batches = list(s)
    assert len(batches) == len(s) > 3
    for b in batches:
        assert len(b) == 8
        ids = [pids[i] for i in b]
        assert len(set(ids)) == 4
        assert all(ids.count(i) == 2 for i in set(ids))


def test_seed_and_epoch_control_the_order():
    pids = _pids()
    a, b = PKSampler(pids, 4, 2, seed=1), PKSampler(pids, 4, 2, seed=1)
    assert list(a) == list(b)
    b.set_epoch(1)
    assert list(a) != list(b)


def test_ranks_split_the_same_batches_disjointly():
    pids = _pids()
    full = list(PKSampler(pids, 2, 2, seed=3))
    r0 = list(PKSampler(pids, 2, 2, seed=3, rank=0, world_size=2))
    r1 = list(PKSampler(pids, 2, 2, seed=3, rank=1, world_size=2))
    assert len(r0) == len(r1) == len(full) // 2
    assert r0 == full[0 : 2 * len(r0) : 2] and r1 == full[1 : 2 * len(r1) : 2]


def test_too_few_identities_is_refused():
    with pytest.raises(ValueError, match="at least 4 identities"):
        PKSampler([0, 0, 1, 1], p=4, k=2)

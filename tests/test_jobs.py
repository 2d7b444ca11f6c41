"""Trainings side by side (ppcl.pipeline.jobs, ppcl.pipeline.training.train_variants): the same models as one at a
time on the same threads, results in the caller's order, a failing job named, bad counts refused."""
import math
import shutil

import pytest
import torch

from ppcl.pipeline.jobs import side_by_side, threads_per_job
from ppcl.pipeline.training import train_variants
from ppcl.pipeline.run import setup


def test_threads_are_shared_among_the_jobs_and_never_zero():
    assert [threads_per_job(j, 8) for j in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    with pytest.raises(ValueError, match="jobs: expected 1 or more"):
        threads_per_job(0, 2)


def test_results_come_back_in_the_order_of_the_jobs_whatever_runs_first():
    jobs = [1.0, 16.0, 4.0, 9.0]
    out = side_by_side(math.sqrt, jobs, workers=2, threads=1, cost=lambda j: j, progress=False)
    assert out == [1.0, 4.0, 2.0, 3.0]


def test_a_failing_job_is_named():
    with pytest.raises(RuntimeError, match=r"the job -1.0 failed: ValueError"):
        side_by_side(math.sqrt, [4.0, -1.0], workers=2, threads=1, progress=False)
    with pytest.raises(ValueError, match="workers: expected 1 or more"):
        side_by_side(math.sqrt, [4.0], workers=0, threads=1)


def test_a_worker_that_would_start_its_own_workers_is_told_why(monkeypatch):
    import ppcl.pipeline.jobs as jobs

    monkeypatch.setattr(jobs.mp, "parent_process", lambda: object())  # as in a script without a __main__ guard
    with pytest.raises(RuntimeError, match="if __name__ == "):
        side_by_side(math.sqrt, [4.0], workers=1, threads=1, progress=False)


def test_train_jobs_below_one_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"train_jobs: expected 1 .* found 0"):
        setup("smoke", {"train_jobs": 0}, out_dir=tmp_path, progress=False, style=False)


def test_models_trained_side_by_side_are_the_models_one_thread_trains_one_at_a_time(tmp_path):
    """Two workers of one thread each, then the same two models one at a time in this process on
    one thread: every weight equal bit for bit (the float order is the thread count's, not the
    process's), and the histories too."""
    jobs = [("resize", 0), ("+R", 1)]
    shared = setup("smoke", {}, out_dir=tmp_path / "o", progress=False, style=False).cache  # its data generated once
    stores = {}
    for name, n in (("side", 2), ("one", 1)):  # each its own empty model store beside the shared data
        cache = tmp_path / name
        cache.mkdir()
        for entry in shared.iterdir():
            if entry.name != "models":
                (cache / entry.name).symlink_to(entry)
        stores[name] = setup("smoke", {"train_jobs": n}, cache_dir=cache, out_dir=tmp_path / f"run-{name}",
                             progress=False, style=False)
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # every training on one thread in both stores (the workers' GLRecs and models, and here)
    try:
        trained = train_variants(stores["side"], jobs, progress=False)
        assert {p.name.rsplit("-", 1)[0] for p in stores["side"].models.iterdir()} == {"glrec-s0", "glrec-s1", "resize-s0",
                                                                                         "+R-s1"}  # each seed's own GLRec
        again = train_variants(stores["one"], jobs, progress=False)
    finally:
        torch.set_num_threads(before)
    for (m_a, h_a), (m_b, h_b) in zip(trained, again):
        a, b = m_a.state_dict(), m_b.state_dict()
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:3]
        assert [e["val_rank1"] for e in h_a.epochs if "val_rank1" in e] == [e["val_rank1"] for e in h_b.epochs if "val_rank1" in e]

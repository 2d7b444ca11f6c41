"""Notebook 04 reads the ranks notebook 03 scored (``ppcl.pipeline.experiments.benchmarks.scored``): the same weights,
set, method and top-K give the cached ranks; other weights are scored afresh."""
from __future__ import annotations

import numpy as np
import torch

import ppcl.pipeline.experiments.benchmarks as suite
from ppcl.pipeline.experiments.benchmarks import fingerprint, scored
from tests.test_guards import _partial_set, guard_model


def test_ranks_are_read_back_only_for_the_same_weights(tmp_path, monkeypatch):
    (tmp_path / "d").mkdir()
    data = _partial_set(tmp_path / "d")
    model = guard_model().eval()
    first = scored(model, "set", data, ("+R", "+R+L"), None, None, "cpu", cache=tmp_path / "c", reuse=False)
    calls = []
    real = suite.evaluate_partial
    monkeypatch.setattr(suite, "evaluate_partial", lambda *a, **k: calls.append(a) or real(*a, **k))
    again = scored(model, "set", data, ("+R+L",), None, None, "cpu", cache=tmp_path / "c")
    assert calls == []  # read, not scored
    for d in ("query", "gallery"):
        assert again["+R+L"][d]["rank1"] == first["+R+L"][d]["rank1"]
        assert np.array_equal(again["+R+L"][d]["per_query"]["first"], first["+R+L"][d]["per_query"]["first"])
    other = guard_model(seed=1).eval()
    assert fingerprint(other) != fingerprint(model)
    scored(other, "set", data, ("+R+L",), None, None, "cpu", cache=tmp_path / "c")
    assert len(calls) == 1  # other weights: scored afresh
    scored(model, "set", data, ("+R+box",), None, None, "cpu", cache=tmp_path / "c")
    assert len(calls) == 2  # a method not scored before
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    scored(model, "set", data, ("+R+L",), None, None, "cpu", cache=tmp_path / "c")
    assert len(calls) == 3  # changed weights


def test_ranks_within_folds_are_not_read_for_one_gallery(tmp_path, monkeypatch):
    import dataclasses

    (tmp_path / "d").mkdir()
    data = _partial_set(tmp_path / "d")
    model = guard_model().eval()
    scored(model, "set", data, ("+R",), None, None, "cpu", cache=tmp_path / "c", reuse=False)
    folds = {p: i % 2 for i, p in enumerate(sorted({r.pid for r in data.gallery}))}
    folded = dataclasses.replace(data, info={**data.info, "folds": folds})
    calls = []
    real = suite.evaluate_partial
    monkeypatch.setattr(suite, "evaluate_partial", lambda *a, **k: calls.append(a) or real(*a, **k))
    scored(model, "set", folded, ("+R",), None, None, "cpu", cache=tmp_path / "c")
    assert len(calls) == 1  # scored in its folds, not read from the one-gallery ranks
    scored(model, "set", folded, ("+R",), None, None, "cpu", cache=tmp_path / "c")
    assert len(calls) == 1  # and then read back

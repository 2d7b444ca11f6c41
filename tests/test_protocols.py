"""Partial-REID / Partial-iLIDS protocols: no camera filtering can ever remove a true match."""
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from ppcl.data.partial_ilids import load_partial_ilids
from ppcl.data.partial_reid import load_partial_reid
from ppcl.evaluate import rank
from ppcl.evaluate.protocols import evaluate_partial, partial_rank, require_no_cameras
from tests.fixtures import build_partial_ilids, build_partial_reid
from tests.test_ppcl import tiny_ppcl


def _perfect(data):
    q = np.array([r.pid for r in data.query])
    g = np.array([r.pid for r in data.gallery])
    return torch.from_numpy((q[:, None] != g[None, :]).astype(np.float32))


@pytest.mark.parametrize("build,load", [(build_partial_reid, load_partial_reid), (build_partial_ilids, load_partial_ilids)])
def test_a_perfect_distance_scores_100_in_both_directions(tmp_path, build, load):
    data = load(build(tmp_path).root)
    assert not data.has_cameras and all(r.camid is None for r in (*data.query, *data.gallery))
    d = _perfect(data)
    for direction in ("query", "gallery"):
        out = partial_rank(d, data.query, data.gallery, direction)
        assert out["rank1"] == 1.0 and out["mAP"] == 1.0
        n = len(data.query) if direction == "query" else len(data.gallery)
        assert out["num_valid_queries"] == out["num_queries"] == n


def test_the_peers_camera_bugs_would_lose_matches_and_are_refused(tmp_path):
    data = load_partial_reid(build_partial_reid(tmp_path).root)
    index = lambda r: int(re.match(r"\d+_(\d+)", Path(r.path).name).group(1))  # noqa: E731
    qp, gp = [r.pid for r in data.query], [r.pid for r in data.gallery]
    qc, gc = [index(r) for r in data.query], [index(r) for r in data.gallery]
    # Each partial image is nearest to the whole-body image with its own index.
    d = torch.full((len(qp), len(gp)), 0.25)  # other identities
    for i, (p, c) in enumerate(zip(qp, qc)):
        for j, (p2, c2) in enumerate(zip(gp, gc)):
            if p == p2:
                d[i, j] = 0.0 if c == c2 else 0.5
    ours = partial_rank(d, data.query, data.gallery, "query")
    assert ours["rank1"] == 1.0
    # fast-reid's reading (image index as camera) filters exactly those true matches away ...
    assert rank(d, qp, gp, qc, gc)["rank1"] == 0.0
    # ... and one shared camera for everything filters every true match away.
    with pytest.raises(ValueError, match="no query has a valid true match"):
        rank(d, qp, gp, [0] * len(qp), [0] * len(gp))
    # The kit's protocol refuses records that carry any camera id.
    tainted = dataclasses.replace(data, query=[dataclasses.replace(r, camid=c) for r, c in zip(data.query, qc)])
    with pytest.raises(ValueError, match="without a camera id"):
        require_no_cameras(tainted)
    with pytest.raises(ValueError, match="without a camera id"):
        evaluate_partial(tiny_ppcl(), tainted, methods=("resize",))


def test_evaluate_partial_runs_every_method_in_both_directions(tmp_path):
    data = load_partial_reid(build_partial_reid(tmp_path).root)
    out = evaluate_partial(tiny_ppcl(), data, fuse=0.5)
    assert set(out) == {"pad", "resize", "+R", "+R+box", "+R+L", "+R+L+G"}
    region, d0 = out["+R+L"]["distmat"], out["+R"]["distmat"]
    assert torch.allclose(out["+R+L+G"]["distmat"], region + 0.5 * d0)  # CRLoc's distances reused, + w * d0
    for m, res in out.items():
        assert res["distmat"].shape == (len(data.query), len(data.gallery))
        assert res["query"]["num_valid_queries"] == len(data.query)
        assert res["gallery"]["num_valid_queries"] == len(data.gallery)


def test_the_fused_method_needs_a_weight(tmp_path):
    data = load_partial_reid(build_partial_reid(tmp_path).root)
    with pytest.raises(ValueError, match="fusion weight"):
        evaluate_partial(tiny_ppcl(), data, methods=("+R+L+G",))


# --- larger draws scored in folds of the real set's size ------------------------------------------


def _folded_case(seed: int = 0):
    """Six identities, two partial and two holistic images each, in folds of two; random distances."""
    from ppcl.data.common import Record

    pids = [p for p in range(1, 7) for _ in range(2)]
    partial = [Record(f"p{i}.jpg", p, None) for i, p in enumerate(pids)]
    holistic = [Record(f"h{i}.jpg", p, None) for i, p in enumerate(pids)]
    d = torch.rand(len(partial), len(holistic), generator=torch.Generator().manual_seed(seed))
    return d, partial, holistic, {p: (p - 1) // 2 for p in range(1, 7)}


@pytest.mark.parametrize("direction", ["query", "gallery"])
def test_folds_rank_each_query_in_its_own_fold_exactly_as_the_folds_scored_apart(direction):
    d, partial, holistic, folds = _folded_case()
    pooled = partial_rank(d, partial, holistic, direction, folds)
    firsts, aps = [], []
    for f in range(3):  # each fold as a set of its own
        pi = [i for i, r in enumerate(partial) if folds[r.pid] == f]
        hi = [j for j, r in enumerate(holistic) if folds[r.pid] == f]
        alone = partial_rank(d[pi][:, hi], [partial[i] for i in pi], [holistic[j] for j in hi], direction)
        firsts += alone["per_query"]["first"].tolist()
        aps += alone["per_query"]["ap"].tolist()
    assert pooled["per_query"]["first"].tolist() == firsts
    assert np.allclose(pooled["per_query"]["ap"], aps) and np.isclose(pooled["mAP"], np.mean(aps))
    assert np.isclose(pooled["rank1"], np.mean(np.array(firsts) == 0))
    assert pooled["num_valid_queries"] == len(partial if direction == "query" else holistic)


def test_an_impostor_of_another_fold_cannot_take_rank_1():
    d, partial, holistic, folds = _folded_case()
    same = torch.tensor([[p.pid == h.pid for h in holistic] for p in partial])
    d = torch.where(same, 1.0 + d, torch.full_like(d, 2.0))  # every genuine pair nearer than any impostor ...
    d[:, 0] = 0.0  # ... but identity 1's first holistic image (fold 0) is everyone's nearest
    plain = partial_rank(d, partial, holistic, "query")
    assert np.isclose(plain["rank1"], 2 / 12)  # only identity 1's own queries are right
    assert np.isclose(partial_rank(d, partial, holistic, "query", folds)["rank1"], 10 / 12)  # identity 2 (fold 0) wrong


def test_identity_folds_cut_the_draw_into_real_size_folds():
    from ppcl.data.sources import identity_folds

    f = identity_folds(list(range(10, 605)), 119)  # the synthetic Partial-iLIDS draw: 595 people, real set 119
    assert sorted(set(f.values())) == [0, 1, 2, 3, 4] and all(list(f.values()).count(k) == 119 for k in range(5))
    assert list(f.values()) == sorted(f.values())  # consecutive: a larger draw's first folds are a smaller draw's
    g = identity_folds(list(range(12)), 5)  # round(12 / 5) = 2 folds of 6
    assert [list(g.values()).count(k) for k in (0, 1)] == [6, 6]
    assert set(identity_folds([1, 2], 119).values()) == {0}  # smaller than the real set: one gallery
    with pytest.raises(ValueError, match="fold_ids"):
        identity_folds([1, 2], 0)


def test_a_folded_set_refuses_a_top_k_over_the_whole_draw(tmp_path):
    data = load_partial_reid(build_partial_reid(tmp_path).root)
    folds = {p: i % 2 for i, p in enumerate(sorted({r.pid for r in data.gallery}))}
    folded = dataclasses.replace(data, info={**data.info, "folds": folds})
    with pytest.raises(ValueError, match="topk"):
        evaluate_partial(tiny_ppcl(), folded, methods=("+R+L",), topk=1)
    out = evaluate_partial(tiny_ppcl(), folded, methods=("+R",))
    assert out["+R"]["query"]["num_valid_queries"] == len(data.query)


@pytest.mark.parametrize("method", ["+R+L", "+R+box"])
def test_a_folded_draw_scores_only_its_folds_pairs_and_ranks_as_the_full_matrix(tmp_path, method):
    """CRLoc over each fold's pairs only (the cost grows with the folds, not the square of the draw): the
    scored pairs equal the full matrix's, and the ranks in folds are the full matrix's ranks in folds."""
    from ppcl.evaluate.engine import distance_matrix
    from ppcl.evaluate.protocols import encode_records

    data = load_partial_reid(build_partial_reid(tmp_path).root)
    model = tiny_ppcl()
    pids = sorted({r.pid for r in data.query})
    folds = {p: i % 2 for i, p in enumerate(pids)}
    part, whole = (encode_records(model, recs, "+R") for recs in (data.query, data.gallery))
    groups = (torch.tensor([folds[r.pid] for r in data.query]), torch.tensor([folds[r.pid] for r in data.gallery]))
    full = distance_matrix(model, part, whole, method)
    boxes: dict = {}
    grouped = distance_matrix(model, part, whole, method, groups=groups, boxes=boxes)
    same = groups[0][:, None] == groups[1][None, :]
    assert torch.allclose(grouped[same], full[same], atol=1e-6) and torch.isinf(grouped[~same]).all()
    assert torch.isnan(boxes["boxes"][~same]).all() and not torch.isnan(boxes["boxes"][same]).any()
    for direction in ("query", "gallery"):
        a = partial_rank(grouped, data.query, data.gallery, direction, folds)
        b = partial_rank(full, data.query, data.gallery, direction, folds)
        assert a["rank1"] == b["rank1"] and np.isclose(a["mAP"], b["mAP"])
        assert np.array_equal(a["per_query"]["first"], b["per_query"]["first"])

"""The validation split: several partial queries per held-out identity; selection by it."""
from collections import Counter

import pytest
import torch

from ppcl.data.common import Record
from ppcl.evaluate.validation import validation_set
from ppcl.pipeline.training import best_epoch
from ppcl.train import History

from tests.fixtures import write_jpeg


def _records(tmp_path, counts: dict[int, int]) -> list[Record]:
    out = []
    for pid, n in counts.items():
        for i in range(n):
            out.append(Record(str(write_jpeg(tmp_path / f"{pid:04d}_{i}.jpg", pid * 7 + i)), pid, None))
    return out


def test_each_identity_gives_queries_and_keeps_a_gallery_image(tmp_path):
    recs = _records(tmp_path, {1: 5, 2: 3, 3: 2, 4: 1})
    val = validation_set(recs, (16, 8), seed=0, queries_per_id=3)
    q, g = Counter(val["q_pids"]), Counter(val["g_pids"])
    assert q == {1: 3, 2: 2, 3: 1}  # min(3, n - 1); the single-image identity gives none
    assert g == {1: 2, 2: 1, 3: 1, 4: 1}
    assert val["query"].shape == (6, 3, 16, 8) and val["gallery"].shape == (5, 3, 16, 8)
    assert val["t"].shape == (6, 4) and (val["t"][:, :2].prod(1) < 0.81).all()  # every query is a partial crop (area <= 0.8)


def test_validation_split_is_repeatable_and_seeded(tmp_path):
    recs = _records(tmp_path, {1: 6, 2: 6, 3: 6})
    a = validation_set(recs, (16, 8), seed=1, queries_per_id=2)
    b = validation_set(recs, (16, 8), seed=1, queries_per_id=2)
    c = validation_set(recs, (16, 8), seed=2, queries_per_id=2)
    assert (a["query"] == b["query"]).all() and (a["t"] == b["t"]).all()
    assert not (a["t"] == c["t"]).all()


def test_validation_refuses_bad_requests(tmp_path):
    with pytest.raises(ValueError, match="queries_per_id"):
        validation_set(_records(tmp_path, {1: 3}), (16, 8), queries_per_id=0)
    with pytest.raises(ValueError, match="two or more images"):
        validation_set(_records(tmp_path, {1: 1, 2: 1}), (16, 8))


def _hist(*rows) -> History:
    return History(epochs=[{"epoch": i, "val_rank1": r1, "val_mAP": m} for i, (r1, m) in enumerate(rows)])


def test_best_epoch_is_the_first_with_the_best_rank1_as_the_callback_saves():
    h = _hist((0.5, 0.4), (0.7, 0.5), (0.7, 0.6), (0.6, 0.9), (0.7, 0.6))
    assert best_epoch(h)["epoch"] == 1  # a later tie with a higher mAP does not replace the saved weights
    with pytest.raises(ValueError, match="no validation rows"):
        best_epoch(History(epochs=[{"epoch": 0}]))


def test_locator_agreement_pairs_each_query_with_its_identity(tmp_path):
    from tests.test_ppcl import tiny_ppcl
    from ppcl.evaluate.validation import locator_agreement
    from ppcl.geometry import box_iou, t_to_box

    val = validation_set(_records(tmp_path, {1: 3, 2: 3, 3: 2}), (32, 16), seed=0, queries_per_id=2)
    a = locator_agreement(tiny_ppcl(), val)
    n = len(val["q_pids"])
    assert a["crloc"].shape == a["glrec"].shape == a["true"].shape == (n, 4)
    assert torch.equal(a["true"], val["t"])
    assert torch.allclose(a["iou_crloc"], box_iou(t_to_box(a["crloc"]), t_to_box(val["t"])))
    assert ((a["iou_glrec"] >= 0) & (a["iou_glrec"] <= 1)).all() and -1 <= a["corr_y"] <= 1


def test_fusion_weight_is_chosen_on_validation_and_ties_go_to_the_paper(tmp_path):
    from tests.test_ppcl import tiny_ppcl
    from ppcl.evaluate.engine import distance_matrix, encode, fuse_distances
    from ppcl.evaluate.rank import rank
    from ppcl.evaluate.validation import fusion_weight

    val = validation_set(_records(tmp_path, {1: 3, 2: 3, 3: 3, 4: 2}), (32, 16), seed=0, queries_per_id=2)
    m = tiny_ppcl()
    w, rows = fusion_weight(m, val, weights=(2.0, 0.0, 1.0))
    assert [r["weight"] for r in rows] == [0.0, 1.0, 2.0]
    q, g = encode(m, val["query"], "+R"), encode(m, val["gallery"], "+R")
    for r in rows:  # each row is the rank of the fused matrix at that weight
        d = fuse_distances(distance_matrix(m, q, g, "+R+L"), distance_matrix(m, q, g, "+R"), r["weight"])
        assert r["rank1"] == rank(d, val["q_pids"], val["g_pids"])["rank1"]
    best = max(r["rank1"] for r in rows)
    assert w == min(r["weight"] for r in rows if r["rank1"] == best and r["mAP"] == max(x["mAP"] for x in rows if x["rank1"] == best))
    with pytest.raises(ValueError, match="weights"):
        fusion_weight(m, val, weights=(-1.0,))

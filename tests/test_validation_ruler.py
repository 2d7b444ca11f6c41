"""The ruler on validation: queries cut around the body (as the synthetic test sets are), and the
row that checks CRLoc's box against the localisation issue's targets, on hand-worked boxes."""
import pytest
import torch

from ppcl.data.bodies import Body
from ppcl.data.common import Record
from ppcl.data.partial import BODY_HALF_WIDTH
from ppcl.evaluate.validation import validation_localisation, validation_set


def _records(tmp_path, n_ids=3, per_id=3):
    from PIL import Image

    recs = []
    for pid in range(n_ids):
        for i in range(per_id):
            path = tmp_path / f"{pid:04d}_c1s1_{i:06d}_00.jpg"
            Image.new("RGB", (32, 64), (40 * pid, 10 * i, 90)).save(path)
            recs.append(Record(str(path), pid, 1))
    return recs


def test_body_crops_stay_around_the_body_and_keep_the_same_queries(tmp_path):
    recs = _records(tmp_path)
    body = Body(cx=0.5, top=0.3, width_scale=1.0, ph=0.5)  # a small person low in the frame
    bodies = {r.path: body for r in recs}
    frame = validation_set(recs, (32, 16), seed=3, queries_per_id=2)
    cut = validation_set(recs, (32, 16), seed=3, queries_per_id=2, bodies=bodies)
    assert (frame["crops"], cut["crops"]) == ("frame", "body")
    assert frame["q_paths"] == cut["q_paths"] and frame["g_paths"] == cut["g_paths"]
    assert cut["query"].shape == frame["query"].shape
    t = cut["t"]
    x0, x1 = (t[:, 2] - t[:, 0] + 1) / 2, (t[:, 2] + t[:, 0] + 1) / 2
    y0, y1 = (t[:, 3] - t[:, 1] + 1) / 2, (t[:, 3] + t[:, 1] + 1) / 2
    margin = 0.05
    half = BODY_HALF_WIDTH * body.width_scale
    assert (x0 >= body.cx - half * (1 + 2 * margin) - 1e-6).all() and (x1 <= body.cx + half * (1 + 2 * margin) + 1e-6).all()
    assert (y0 >= body.top - margin * body.ph - 1e-6).all() and (y1 <= body.top + body.ph * (1 + margin) + 1e-6).all()
    assert (t[:, 0] * t[:, 1]).max() < (frame["t"][:, 0] * frame["t"][:, 1]).max()  # a person 0.3 x 0.5 of the frame


def test_a_query_without_a_body_frame_is_named(tmp_path):
    recs = _records(tmp_path)
    with pytest.raises(ValueError, match="bodies: expected a body frame for every validation query; found none for 3"):
        validation_set(recs, (32, 16), seed=0, queries_per_id=1, bodies={recs[0].path: Body(0.5, 0.1, 1.0, 0.8)})


def test_the_validation_ruler_row_on_hand_worked_boxes():
    true = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])  # the centre quarter of the map
    crloc = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.5, 1.0, 0.0, 0.0]])  # exact; twice as tall (IoU 1/2)
    glrec = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])  # the whole map (IoU 1/4)
    agree = {"true": true, "crloc": crloc, "glrec": glrec, "truth": "body frames",
             "iou_crloc": torch.tensor([1.0, 0.5]), "iou_glrec": torch.tensor([0.25, 0.25]), "iou_whole": torch.tensor([0.25, 0.25])}
    row = validation_localisation(agree, seed=2, crops="body")
    assert row["pairs"] == 2 and row["seed"] == 2 and row["crops"] == "body"
    assert row["iou_margin"] == pytest.approx(0.75 - 0.25)
    assert row["area_true"] == pytest.approx(0.25) and row["area_crloc"] == pytest.approx(0.375)
    assert row["area_ratio"] == pytest.approx(1.5) and row["margin_ok"] and not row["area_ok"]
    agree["crloc"] = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.5, 0.6, 0.0, 0.0]])  # area 0.25 and 0.30: ratio 1.1
    agree["iou_crloc"] = torch.tensor([0.28, 0.28])  # placed no better than the fixed box + 0.05
    row = validation_localisation(agree, seed=2, crops="body")
    assert row["area_ok"] and not row["margin_ok"]

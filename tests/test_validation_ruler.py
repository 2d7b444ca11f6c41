"""The ruler on validation: queries cut around the body (as the synthetic test sets are), and the
row that checks CRLoc's box against the localisation issue's targets, on hand-worked boxes."""
import pytest
import torch

from ppcl.data.bodies import Body
from ppcl.data.common import Record
from ppcl.data.partial import BODY_HALF_WIDTH
from ppcl.evaluate.engine import load_images
from ppcl.evaluate.validation import validation_localisation, validation_set
from ppcl.geometry import crop


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


def test_view_crops_lie_inside_the_narrowed_image_and_keep_the_same_queries(tmp_path):
    """Validation queries cut as the training views are: inside the image narrowed about its centre
    to a width in ``view_width``, each the crop of its own region ``t`` of the whole image."""
    recs = _records(tmp_path, n_ids=6, per_id=4)
    frame = validation_set(recs, (32, 16), seed=5, queries_per_id=3)
    view = validation_set(recs, (32, 16), seed=5, queries_per_id=3, view_width=(0.4, 0.5))
    again = validation_set(recs, (32, 16), seed=5, queries_per_id=3, view_width=(0.4, 0.5))
    assert (frame["crops"], view["crops"]) == ("frame", "view")
    assert frame["q_paths"] == view["q_paths"] and frame["g_paths"] == view["g_paths"]
    assert torch.equal(view["t"], again["t"]) and torch.equal(view["query"], again["query"])
    t = view["t"]
    x0, x1 = t[:, 2] - t[:, 0], t[:, 2] + t[:, 0]  # in [-1, 1]: the narrowed image is at most half as wide
    assert (x0 >= -0.5 - 1e-6).all() and (x1 <= 0.5 + 1e-6).all()
    assert (t[:, 0] < frame["t"][:, 0] + 1e-6).all() and (t[:, 0] <= 0.5 + 1e-6).all()  # narrower than the frame's crops
    assert (t[:, 1] >= 0.3 - 1e-6).all()  # the height is the frame crop's (area 0.3-0.8 of the narrowed image)
    by_path = {r.path: r for r in recs}
    x = load_images([by_path[p] for p in view["q_paths"]], (32, 16))
    assert torch.allclose(view["query"], crop(x, t, (32, 16)))  # each query is its region t of its whole image
    assert view["query"].shape == frame["query"].shape
    full = validation_set(recs, (32, 16), seed=5, queries_per_id=3, view_width=(1.0, 1.0))
    assert torch.equal(full["t"], frame["t"]) and torch.equal(full["query"], frame["query"])  # (1, 1) is the frame cut, bit for bit
    with pytest.raises(ValueError, match=r"view_width: expected a width fraction range .* found \(0.0, 0.5\)"):
        validation_set(recs, (32, 16), seed=5, view_width=(0.0, 0.5))


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

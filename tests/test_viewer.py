"""The correspondence viewer (notebook 06) driven without a browser, on the smoke profile.

Setting a control's ``value`` runs the viewer's ``observe`` callbacks at once, so each test
changes a control and reads what the viewer shows (indices, true-match marks, PNG panels).
"""
import dataclasses
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ppcl.evaluate.engine import crloc_pair_distance, distance_matrix, encode, global_distance, load_images
from ppcl.io import read_checkpoint
from ppcl.pipeline.run import setup
from ppcl.pipeline.viewer import viewer_data, viewer_data_from_folder
from ppcl.viz.viewer import CorrespondenceViewer
from ppcl.viz.viewer_data import DATASETS, ViewerData, read_cache

SETS = tuple(DATASETS)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return setup("smoke", out_dir=tmp_path_factory.mktemp("viewer_run"), style=False, progress=False)


@pytest.fixture(scope="module")
def views(run):
    return {ds: viewer_data(run, ds) for ds in SETS}


@pytest.fixture()
def viewer(views):
    return CorrespondenceViewer(views)


def png_size(b: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(b)).size


def expected_marks(d: ViewerData, qi: int, shown: list[int], direction: str) -> list[bool]:
    q, g = (d.partial, d.holistic) if direction == "query" else (d.holistic, d.partial)
    return [g[j].pid == q[qi].pid for j in shown]


def test_the_viewer_shows_what_the_data_says(viewer, views):
    d = views["partial_reid"]
    assert viewer.dataset == "partial_reid" and viewer.direction == "query" and viewer.query_index == 0
    assert set(viewer.png) == {"query", "results", "pair"}
    assert all(b.startswith(b"\x89PNG") for b in viewer.png.values())
    assert all(viewer.images[k].value == viewer.png[k] for k in viewer.png)  # the widgets hold the panels
    assert viewer.true_match == expected_marks(d, 0, viewer.shown, "query")
    assert viewer.drawn["true_frames"] == sum(viewer.true_match)
    assert 'class="ppcl-viewer-state"' in viewer.status.value
    assert f'data-shown="{",".join(map(str, viewer.shown))}"' in viewer.status.value


def test_changing_the_query_changes_the_images_and_the_true_match_marks(viewer, views):
    d = views["partial_reid"]
    before = dict(viewer.png), list(viewer.shown), list(viewer.true_match), viewer.status.value
    k = len(viewer.shown)
    # a query whose shown true-match marks differ from query 0's (the smoke set has several)
    other = next(q for q in range(1, len(d.partial))
                 if expected_marks(d, q, d.ranking(q, "query")[:k].tolist(), "query") != before[2])
    viewer.controls["query"].value = other
    assert viewer.query_index == other
    assert viewer.png["query"] != before[0]["query"] and viewer.png["results"] != before[0]["results"]
    assert viewer.true_match == expected_marks(d, other, viewer.shown, "query") != before[2]
    assert viewer.status.value != before[3] and f'data-query="{other}"' in viewer.status.value
    assert viewer.first_match_rank == {"+R": d.first_match_rank(other, "query", "+R"),
                                       "PPCL": d.first_match_rank(other, "query", "ppcl")}
    viewer.controls["query"].value = 0
    assert viewer.png == before[0] and viewer.shown == before[1]  # the same query draws the same panels


def test_the_search_box_filters_the_picker(viewer, views):
    names = views["partial_reid"].partial_names
    text = names[3].rsplit("/", 1)[-1][:5]  # e.g. "004_0"
    viewer.controls["search"].value = text
    labels = [label for label, _ in viewer.controls["query"].options]
    assert labels == [n for n in names if text.lower() in n.lower()] and 0 < len(labels) < len(names)
    assert viewer.controls["query"].value in [i for _, i in viewer.controls["query"].options]
    assert viewer.query_index == viewer.controls["query"].value  # the view follows the picker
    viewer.controls["search"].value = "no-such-file"
    assert viewer.controls["query"].options == () and "no file name contains" in viewer.status.value
    viewer.controls["search"].value = ""
    assert len(viewer.controls["query"].options) == len(names)


def test_the_rank_slider_sets_how_many_results_are_shown(viewer):
    viewer.controls["rank"].value = 2
    assert len(viewer.shown) == len(viewer.true_match) == 2
    narrow = png_size(viewer.png["results"])[0]
    viewer.controls["pair"].value = 2
    viewer.controls["rank"].value = 7
    assert len(viewer.shown) == 7 and viewer.controls["pair"].max == 7
    assert png_size(viewer.png["results"])[0] > narrow
    viewer.controls["rank"].value = 1
    assert len(viewer.shown) == 1 and viewer.controls["pair"].value == 1 and viewer.pair_index == 0


def test_the_direction_toggle_swaps_the_roles(viewer, views):
    d = views["partial_reid"]
    viewer.controls["direction"].value = "gallery"
    assert [label for label, _ in viewer.controls["query"].options] == d.holistic_names
    qi = viewer.query_index
    assert all(0 <= j < len(d.partial) for j in viewer.shown)  # partial images are the gallery
    assert viewer.true_match == expected_marks(d, qi, viewer.shown, "gallery")
    col = d.dist["ppcl"][:, qi].numpy()  # Table 3: the (partial, holistic) matrix transposed
    assert viewer.shown == np.argsort(col, kind="stable")[: len(viewer.shown)].tolist()
    pairs = d.pairs(qi, viewer.shown, "gallery")
    assert pairs["holistic"] == [qi] * len(viewer.shown) and pairs["partial"] == viewer.shown  # the partial side anchors
    viewer.controls["direction"].value = "query"
    assert [label for label, _ in viewer.controls["query"].options] == d.partial_names


def test_the_toggles_remove_the_boxes_and_the_heatmap(viewer):
    on = dict(viewer.png)
    assert viewer.drawn["glrec_boxes"] > 0 and viewer.drawn["crloc_boxes"] > 0 and viewer.drawn["heatmap"]
    viewer.controls["heatmap"].value = False
    assert not viewer.drawn["heatmap"] and viewer.png["pair"] != on["pair"] and viewer.png["results"] == on["results"]
    assert viewer.drawn["true_regions"] > 0  # the synthetic sets' ground truth beside CRLoc's box
    viewer.controls["boxes"].value = False
    assert viewer.drawn["glrec_boxes"] == viewer.drawn["crloc_boxes"] == viewer.drawn["true_regions"] == 0
    assert viewer.png["results"] != on["results"] and viewer.png["query"] != on["query"]
    viewer.controls["boxes"].value = viewer.controls["heatmap"].value = True
    assert viewer.png == on


@pytest.mark.parametrize("direction", ["query", "gallery"])
def test_the_shown_order_is_the_argsort_of_the_ppcl_distance_row(viewer, views, direction):
    viewer.controls["rank"].value = 6
    for ds in SETS:
        d = views[ds]
        n_q = len(d.records(direction)[0])
        for q in range(0, n_q, 2):
            viewer.select(dataset=ds, direction=direction, query=q)
            row = d.distances("ppcl", direction)[q].numpy()
            k = min(6, len(row))
            assert viewer.shown == np.argsort(row, kind="stable")[:k].tolist()
            assert viewer.distances["PPCL"] == pytest.approx(row[viewer.shown].tolist())
            assert viewer.distances["+R"] == pytest.approx(d.distances("+R", direction)[q].numpy()[viewer.shown].tolist())


def test_the_matrices_and_boxes_are_the_evaluations(views):
    """The cached matrices are evaluate_partial's (+R on the +R model, +R+L on the PPCL model), and
    the boxes and heatmap the viewer draws are CRLoc's for those pairs."""
    d = views["partial_reid"]
    ppcl, plus_r = d.models["ppcl"], d.models["+R"]
    size = ppcl.input_size
    enc = {m: (encode(mod, load_images(d.partial, size), "+R"), encode(mod, load_images(d.holistic, size), "+R"))
           for m, mod in (("+R", plus_r), ("ppcl", ppcl))}
    assert torch.allclose(d.dist["+R"], global_distance(*enc["+R"]), atol=1e-5)
    assert torch.allclose(d.dist["ppcl"], distance_matrix(ppcl, *enc["ppcl"], "+R+L", anchor="query"), atol=1e-5)
    shown = d.ranking(2, "query")[:4].tolist()
    pairs = d.pairs(2, shown, "query")
    dist, boxes = crloc_pair_distance(ppcl, *d.encoded["ppcl"], torch.tensor([[2, j] for j in shown]), return_boxes=True)
    assert torch.allclose(pairs["boxes"], boxes, atol=1e-5)
    assert torch.allclose(dist, d.dist["ppcl"][2, shown], atol=1e-5)
    for side, recs in (("partial", d.partial[:4]), ("holistic", d.holistic[:4])):  # the pictures are GLRec's x^r
        r = ppcl.glrec.rectify(load_images(recs, size), out_size=size)
        for i in range(len(recs)):
            assert torch.allclose(d.rectified(side, i)["x_r"], r["x_r"][i], atol=1e-5)
            assert torch.allclose(d.rectified(side, i)["t"], r["t"][i], atol=1e-5)
    # the dashed green region is the true corresponding region of each pair, in the frame CRLoc's box is drawn in
    from ppcl.evaluate.localisation import true_regions
    from ppcl.geometry import compose_t
    want = torch.stack([true_regions([d.bodies[d.partial[2].path]], [d.bodies[d.holistic[j].path]])[0, 0] for j in shown])
    assert torch.allclose(pairs["true"], compose_t(d.encoded["ppcl"][1].t[shown], want), atol=1e-6)
    heat = pairs["corr"][0].mean(0)
    assert heat.shape == d.encoded["ppcl"][1].maps.shape[-2:] and float(heat.sum()) == pytest.approx(1.0, abs=1e-4)


def test_a_second_open_reads_the_cache(run, views):
    d = views["partial_reid"]
    path = run.out / "features" / "partial_reid-s0.pt"
    assert d.cache_path == path and path.is_file()
    read_checkpoint(path, required=("format", "encoded", "dist"))  # loads without pickle
    again = viewer_data(run, "partial_reid")
    assert again.from_cache and torch.equal(again.dist["ppcl"], d.dist["ppcl"])
    assert torch.equal(again.encoded["ppcl"][0].maps, d.encoded["ppcl"][0].maps)


class _Payload:
    """Unpickling this would create ``marker``: the crafted cache must be refused before that."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_crafted_or_foreign_cache_is_refused_without_being_executed(run, views, tmp_path):
    run2 = dataclasses.replace(run, out=tmp_path / "run", memo=run.memo)  # another run folder, the same models
    path = run2.out / "features" / "partial_ilids-s0.pt"
    path.parent.mkdir(parents=True)
    marker = tmp_path / "executed"
    good = read_checkpoint(views["partial_ilids"].cache_path, required=())
    torch.save({**good, "encoded": _Payload(marker)}, path)  # a valid-looking cache that needs pickle
    with pytest.raises(ValueError, match="needs pickle") as e:
        viewer_data(run2, "partial_ilids")
    assert str(path) in str(e.value) and not marker.exists()
    expected = {k: good[k] for k in ("dataset", "seed", "keys", "topk", "partial_paths", "holistic_paths",
                                      "partial_pids", "holistic_pids")}
    path.write_bytes(pickle.dumps({"format": "ppcl-viewer-features"}))  # not a torch.save archive
    with pytest.raises(ValueError, match="expected a ppcl checkpoint") as e:
        read_cache(path, expected)
    assert str(path) in str(e.value)
    torch.save({"arch": {}, "model": {}}, path)  # a model checkpoint, not a viewer cache
    with pytest.raises(ValueError, match="expected a viewer feature cache") as e:
        viewer_data(run2, "partial_ilids")
    assert str(path) in str(e.value)
    torch.save({**good, "dist": {"+R": torch.zeros(2, 2)}}, path)  # the right header, malformed content
    with pytest.raises(ValueError, match="malformed") as e:
        read_cache(path, expected)
    assert str(path) in str(e.value)
    torch.save({**good, "keys": {"+R": "other", "ppcl": "models"}}, path)  # another run's models: recomputed
    fresh = viewer_data(run2, "partial_ilids")
    assert not fresh.from_cache and torch.allclose(fresh.dist["ppcl"], views["partial_ilids"].dist["ppcl"], atol=1e-6)
    assert read_checkpoint(path, required=())["keys"] == good["keys"] == fresh.keys


@pytest.fixture(scope="module")
def finished_folder(tmp_path_factory):
    """A run folder as `python -m ppcl.pipeline.reproduce --profile smoke --only 01,02,03` leaves it (the parts
    the viewer reads: run.json and the checkpoints of notebook 03's +R and PPCL models)."""
    from ppcl.io import write_json
    from ppcl.pipeline.training import train_variant

    folder = tmp_path_factory.mktemp("finished")
    run = setup("smoke", out_dir=folder, style=False, progress=False)
    for v in ("+R", "ppcl"):
        train_variant(run, v, run.profile.seed, progress=False)
    write_json(folder / "run.json", {"parameters": {"profile": "smoke", "overrides": {}, "data_root": "", "cache_dir": ""},
                                      "notebooks": {"03_ppcl_training.ipynb": {"status": "done"}}})
    return folder


def test_from_folder_loads_a_finished_run_without_training(finished_folder, views, monkeypatch):
    import ppcl.algorithm
    import ppcl.pretrain
    import ppcl.pipeline.training
    import ppcl.train

    def no_training(*a, **k):
        raise AssertionError("the viewer must not train")

    for mod, name in ((ppcl.pipeline.training, "train_variant"), (ppcl.algorithm, "train_ppcl"), (ppcl.train, "fit"),
                      (ppcl.pretrain, "pretrain_glrec"), (ppcl.pipeline.training, "train_glrec")):
        monkeypatch.setattr(mod, name, no_training)
    d = viewer_data_from_folder(finished_folder, dataset="partial_reid")
    assert d.cache_path == finished_folder.resolve() / "features" / "partial_reid-s0.pt" and not d.from_cache
    assert "run folder" in d.source
    assert torch.allclose(d.dist["ppcl"], views["partial_reid"].dist["ppcl"], atol=1e-6)  # the same models
    assert viewer_data_from_folder(finished_folder, dataset="partial_reid").from_cache
    viewer = CorrespondenceViewer([d])
    assert viewer.shown == d.ranking(0, "query")[: len(viewer.shown)].tolist()


def test_from_folder_names_what_is_missing(finished_folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="run.json"):
        viewer_data_from_folder(tmp_path, dataset="partial_reid")
    (tmp_path / "run.json").write_text(json.dumps({"parameters": {"profile": "smoke", "overrides": {}, "data_root": "",
                                                                  "cache_dir": ""}}))
    with pytest.raises(FileNotFoundError, match="models.json"):
        viewer_data_from_folder(tmp_path, dataset="partial_reid")
    with pytest.raises(ValueError, match="dataset: expected one of"):
        viewer_data_from_folder(finished_folder, dataset="market1501")


# ---------------------------------------------------------------------- your own images


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """A folder of six holistic images (48x96, not the model's 32x64), a partial query cut from
    image 002 and a checkpoint saved from a smoke-sized PPCL (no identities anywhere)."""
    from tests.test_match import crop_query, save, smoke_model, striped_gallery

    root = tmp_path_factory.mktemp("own")
    gallery = striped_gallery(root / "my gallery")
    query = crop_query(gallery, 2, (0, 0, 48, 40), root / "query.png")
    return gallery, query, save(smoke_model(), root / "ppcl-s0.pt")


def test_the_viewer_opens_a_users_folder_without_ground_truth(own):
    import warnings

    from ppcl.evaluate.match import match
    from ppcl.pipeline.viewer import viewer_data_from_images

    gallery, query, ckpt = own
    d = viewer_data_from_images(gallery, query, ckpt, device="cpu")
    assert d.dataset == "folder" and not d.ground_truth and not d.has("+R") and d.directions == ("query",)
    assert d.label == "your images (my gallery)" and d.dist["ppcl"].shape == (1, 6) and d.cache_path is None
    assert any("resized to 32x64" in n for n in d.notes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ranked = match(query, gallery, ckpt, top=0, progress=False)  # the command's ranking: the same distances
    by_path = {m.path: m.distance for m in ranked.matches}
    assert d.dist["ppcl"][0].tolist() == pytest.approx([by_path[r.path] for r in d.holistic], abs=1e-6)
    viewer = CorrespondenceViewer([d])
    assert [v for _, v in viewer.controls["direction"].options] == ["query"]
    assert [label for label, _ in viewer.controls["query"].options] == [f"{query.parent.name}/query.png"]
    assert viewer.shown == d.ranking(0, "query")[: len(viewer.shown)].tolist() and len(viewer.shown) == 5
    assert Path(d.holistic[viewer.shown[0]].path).name == "002.png"  # the query's source first
    assert viewer.true_match == [False] * 5 and viewer.drawn["true_frames"] == 0 and viewer.drawn["true_regions"] == 0
    assert viewer.drawn["crloc_boxes"] > 0 and viewer.drawn["glrec_boxes"] > 0 and viewer.drawn["heatmap"]
    assert set(viewer.distances) == {"PPCL"} and viewer.first_match_rank == {"PPCL": None}
    status = viewer.status.value
    assert 'data-ground-truth="0"' in status and 'data-true="0,0,0,0,0"' in status and "no true-match marks" in status
    assert "resized" in status and "+R" not in status
    viewer.controls["rank"].value = 6
    assert len(viewer.shown) == 6 and viewer.controls["rank"].max == 6  # the whole gallery, no more
    viewer.controls["heatmap"].value = False
    assert not viewer.drawn["heatmap"]


def test_a_users_folder_beside_the_kits_sets_has_one_direction(own, views):
    from ppcl.pipeline.viewer import viewer_data_from_images

    gallery, query, ckpt = own
    viewer = CorrespondenceViewer({**views, "folder": viewer_data_from_images(gallery, query.parent, ckpt, device="cpu")})
    assert viewer.controls["dataset"].options == (("Partial-REID", "partial_reid"), ("Partial-iLIDS", "partial_ilids"),
                                                  ("your images (my gallery)", "folder"))
    viewer.controls["direction"].value = "gallery"
    viewer.controls["dataset"].value = "folder"
    assert viewer.direction == "query" and [v for _, v in viewer.controls["direction"].options] == ["query"]
    assert viewer.query_names() == [f"{query.parent.name}/query.png"]  # a query folder: its images (the one query)
    assert 'data-ground-truth="0"' in viewer.status.value
    viewer.controls["dataset"].value = "partial_reid"
    assert [v for _, v in viewer.controls["direction"].options] == ["query", "gallery"]
    assert 'data-ground-truth="1"' in viewer.status.value and viewer.drawn["true_frames"] == sum(viewer.true_match)


def test_a_users_folder_is_refused_naming_what_is_wrong(own, tmp_path):
    from ppcl.pipeline.viewer import viewer_data_from_images

    gallery, query, ckpt = own
    with pytest.raises(ValueError, match="query_image: expected a path"):
        viewer_data_from_images(gallery, "", ckpt)
    text = tmp_path / "q.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="expected a readable") as e:
        viewer_data_from_images(gallery, text, ckpt)
    assert str(text) in str(e.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="expected a folder of gallery images") as e:
        viewer_data_from_images(tmp_path / "empty", query, ckpt)
    assert str(tmp_path / "empty") in str(e.value)
    with pytest.raises(FileNotFoundError, match="expected a trained PPCL model's checkpoint"):
        viewer_data_from_images(gallery, query, tmp_path / "none.pt")
    with pytest.raises(ValueError, match="ground_truth=False"):
        ViewerData.build("folder", 0, {"ppcl": None}, {}, [], [])

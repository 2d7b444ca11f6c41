"""The ruler for any region-matching method (``ppcl.evaluate.ruler``): the interface, the frames,
the kit's three entries against notebook 03's ruler, and every refusal."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ppcl.evaluate.compare import differences
from ppcl.evaluate.engine import region_descriptor
from ppcl.evaluate.localisation import (
    REGIONS,
    localisation_summary,
    ruler,
    ruler_over_seeds,
    to_image,
    to_rectified,
)
from ppcl.evaluate.protocols import encode_records, evaluate_partial
from ppcl.evaluate.ruler import (
    CRLOC,
    FIXED,
    REFERENCES,
    TRUE,
    WHOLE,
    Pairs,
    RulerSet,
    measure,
    measure_over_seeds,
    measure_rows,
    method_pairs,
    ruler_table,
)
from ppcl.geometry import box_iou, t_to_box
from tests.test_guards import _partial_set, guard_model
from tests.test_localisation import _bodies

UPPER = torch.tensor([1.0, 0.5, 0.0, -0.5])  # the upper half of a reference


def upper_half(pairs: Pairs) -> torch.Tensor:
    return UPPER.expand(len(pairs), 4)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny partial set with random body frames and a model whose GLRec gives every image,
    holistic ones too, its own non-identity layout box (so the two frames differ)."""
    data = _partial_set(tmp_path_factory.mktemp("ruler"))
    rng = np.random.default_rng(1)
    recs = [*data.query, *data.gallery]
    bodies = {r.path: b for r, b in zip(recs, _bodies(rng, len(recs)))}
    model = guard_model().eval()
    return data, bodies, model


def test_frames_round_trip_and_keep_iou():
    g = torch.Generator().manual_seed(0)
    s = 0.2 + 0.8 * torch.rand(50, 2, generator=g)
    box = torch.cat([s, (2 * torch.rand(50, 2, generator=g) - 1) * (1 - s)], 1)
    t = torch.cat([0.3 + 0.7 * torch.rand(50, 2, generator=g), 0.2 * torch.randn(50, 2, generator=g)], 1)
    assert torch.allclose(to_image(to_rectified(box, t), t), box, atol=1e-6)
    other = box.flip(0)
    iou_image = box_iou(t_to_box(box), t_to_box(other))
    iou_rect = box_iou(t_to_box(to_rectified(box, t)), t_to_box(to_rectified(other, t)))
    assert torch.allclose(iou_image, iou_rect, atol=1e-5)  # IoU is the same in both frames


@torch.no_grad()
def test_the_kit_entries_through_the_interface_are_the_ruler(tiny):
    data, bodies, model = tiny
    assert not torch.allclose(encode_records(model, data.gallery, "+R").t, torch.tensor([1.0, 1.0, 0.0, 0.0]))
    old = ruler(model, data, bodies)
    new = measure(None, model, data, bodies)
    assert list(new) == [CRLOC, FIXED, WHOLE, TRUE]
    for region in ("crloc", "fixed", "whole", "true"):
        a, b = old[region], new[REGIONS[region]]
        for direction in ("query", "gallery"):
            assert a[direction]["rank1"] == b[direction]["rank1"] and a[direction]["mAP"] == pytest.approx(b[direction]["mAP"])
        assert torch.allclose(a["iou"], b["iou"], atol=1e-5) and torch.allclose(a["area"], b["area"], atol=1e-5)
    assert torch.allclose(new[TRUE]["area"], old["true_area"])


@torch.no_grad()
def test_a_box_is_cut_where_the_scorers_map_has_it(tiny):
    """A user's box (the upper half of the reference image) against a slow per-pair reference: the box
    mapped into each reference's rectified frame, cut, pooled, compared with the anchor region."""
    data, bodies, model = tiny
    out = measure({"upper half": upper_half}, model, data, bodies)["upper half"]
    part, whole = encode_records(model, data.query, "+R"), encode_records(model, data.gallery, "+R")
    for i in range(len(part)):
        anchor = region_descriptor(model, part.maps[i : i + 1], part.t[i : i + 1])
        region = region_descriptor(model, whole.maps, to_rectified(UPPER.expand(len(whole), 4), whole.t))
        assert torch.allclose(out["distances"][i], 1 - (region @ anchor[0]), atol=1e-5)
    genuine = torch.tensor([[q.pid == g.pid for g in data.gallery] for q in data.query])
    assert torch.allclose(out["area"], torch.full((int(genuine.sum()),), 0.5))  # half of each reference image
    p_b = [bodies[r.path] for r in data.query]
    g_b = [bodies[r.path] for r in data.gallery]
    from ppcl.evaluate.localisation import true_regions

    truth = true_regions(p_b, g_b, model.crloc.cfg.min_scale)[genuine]
    assert torch.allclose(out["iou"], box_iou(t_to_box(UPPER), t_to_box(truth)), atol=1e-6)


@torch.no_grad()
def test_the_whole_reference_is_the_plus_r_comparison(tiny):
    data, bodies, model = tiny
    d = measure(None, model, data, bodies)[WHOLE]["distances"]
    part, whole = encode_records(model, data.query, "+R"), encode_records(model, data.gallery, "+R")
    assert torch.allclose(d, 1 - part.desc @ whole.desc.T, atol=1e-5)


@torch.no_grad()
def test_distance_methods_use_their_own_distance(tiny):
    data, bodies, model = tiny
    pids_p = torch.tensor([r.pid for r in data.query])
    pids_g = torch.tensor([r.pid for r in data.gallery])
    crloc_d = {}

    class OwnCRLoc:  # CRLoc's own +R+L distance, as a distance method
        def prepare(self, images: RulerSet):
            part, whole = images.encoded
            from ppcl.evaluate.pairwise import all_pairs

            crloc_d["d"] = all_pairs(images.scorer, part.maps, part.t, whole.maps, "crloc")

        def __call__(self, pairs):
            return crloc_d["d"][pairs.partial_index, pairs.holistic_index]

    oracle = lambda pairs: (pids_p[pairs.partial_index] != pids_g[pairs.holistic_index]).float()  # noqa: E731
    out = measure({"oracle": oracle, "own CRLoc": OwnCRLoc()}, model, data, bodies)
    assert out["oracle"]["kind"] == "distance" and out["oracle"]["query"]["rank1"] == 1.0
    assert "iou" not in out["oracle"] and "area" not in out["oracle"]
    for direction in ("query", "gallery"):
        assert out["own CRLoc"][direction]["rank1"] == out[CRLOC][direction]["rank1"]
    assert torch.allclose(out["own CRLoc"]["distances"], out[CRLOC]["distances"], atol=1e-5)
    rows = measure_rows(out, "tiny", 0)
    oracle_rows = [r for r in rows if r["region"] == "oracle"]
    assert len(oracle_rows) == 2 and all(np.isnan(r["iou"]) and r["kind"] == "distance" for r in oracle_rows)


@torch.no_grad()
def test_batches_hold_the_pairs_they_name_and_do_not_change_the_answer(tiny):
    data, bodies, model = tiny
    seen, prepared = [], []

    class Checker:
        def prepare(self, images: RulerSet):
            prepared.append(len(images.partial))
            self.images = images

        def __call__(self, pairs):
            assert torch.equal(pairs.partial, self.images.partial[pairs.partial_index])
            assert torch.equal(pairs.holistic, self.images.holistic[pairs.holistic_index])
            assert pairs.size == model.input_size
            seen.extend(zip(pairs.partial_index.tolist(), pairs.holistic_index.tolist()))
            return pairs.holistic[:, 0].mean((1, 2)) - pairs.partial[:, 0].mean((1, 2))  # any distance of the images

    one = measure({"check": Checker()}, model, data, bodies, batch_size=3, with_kit=False)
    assert prepared == [len(data.query)] and TRUE in one and CRLOC not in one
    assert sorted(seen) == [(i, j) for i in range(len(data.query)) for j in range(len(data.gallery))]
    many = measure({"check": Checker()}, model, data, bodies, batch_size=1000, with_kit=False)
    assert torch.equal(one["check"]["distances"], many["check"]["distances"])


@torch.no_grad()
def test_refusals_name_the_method_and_what_was_found(tiny):
    data, bodies, model = tiny

    def bad(out):
        return lambda pairs: out(len(pairs))

    cases = {
        "shape": (bad(lambda n: torch.zeros(n, 3)), ValueError, r"expected \(\d+, 4\) boxes or \(\d+,\) distances"),
        "nan": (bad(lambda n: torch.full((n,), float("nan"))), ValueError, "expected finite distances"),
        "scale": (bad(lambda n: torch.zeros(n, 4)), ValueError, "sx, sy > 0"),
        "type": (bad(lambda n: [0.0] * n), TypeError, "expected a Tensor"),
    }
    for name, (method, err, msg) in cases.items():
        with pytest.raises(err, match=msg) as e:
            measure({name: method}, model, data, bodies, with_kit=False)
        assert repr(name) in str(e.value)
    flip = iter(range(10**6))
    mixed = lambda pairs: upper_half(pairs) if next(flip) == 0 else torch.zeros(len(pairs))  # noqa: E731
    with pytest.raises(ValueError, match="same kind of answer"):
        measure({"mixed": mixed}, model, data, bodies, batch_size=4, with_kit=False)
    with pytest.raises(ValueError, match="names other than the kit's entries"):
        measure({CRLOC: upper_half}, model, data, bodies)
    with pytest.raises(TypeError, match="expected a callable"):
        measure({"not callable": 3}, model, data, bodies)
    with pytest.raises(ValueError, match="batch_size"):
        measure({"u": upper_half}, model, data, bodies, batch_size=0)


def test_method_pairs_compare_each_method_with_the_three_references():
    pairs = method_pairs([CRLOC, FIXED, WHOLE, TRUE, "upper half", "upper half"])
    assert pairs == [(m, r) for m in (CRLOC, "upper half") for r in REFERENCES]


# ---------------------------------------------------------------------- notebook 03 on the smoke profile


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    from ppcl.data.bodies import load_bodies
    from ppcl.pipeline.run import setup
    from ppcl.pipeline.training import train_variant

    run = setup("smoke", out_dir=tmp_path_factory.mktemp("ruler_run"), style=False, progress=False)
    seeds = list(run.profile.seeds)
    models = {(v, s): train_variant(run, v, s, progress=False)[0] for v in ("ppcl", "+R") for s in seeds}
    return run.data("partial_reid", "partial_ilids"), load_bodies(run.root), seeds, models


@torch.no_grad()
def test_the_kit_entries_read_the_same_as_notebook_03s_ruler_rows(smoke):
    data, bodies, seeds, models = smoke
    raw = {s: {(ds, "ppcl"): evaluate_partial(models[("ppcl", s)], d, ("+R", "+R+box", "+R+L")) for ds, d in data.items()}
           for s in seeds}  # as notebook 03 passes score_seeds' output: encodings, distances and boxes reused
    labels = {"partial_reid": "Partial-REID", "partial_ilids": "Partial-iLIDS"}
    l_rows, l_per_query = ruler_over_seeds(models, data, seeds, bodies, raw=raw, labels=labels, progress=False)
    old = localisation_summary([r for r in l_rows if r["network"] == "PPCL"])
    rows, per_query = measure_over_seeds(None, {s: models[("ppcl", s)] for s in seeds}, data, bodies, labels=labels,
                                         progress=False)
    new, diff = ruler_table(rows, per_query, n_boot=2000)
    keys = ["dataset", "direction", "region"]
    both = old.merge(new, on=keys, suffixes=("_nb03", "_ruler"), validate="one_to_one")
    assert len(both) == len(old) == len(new) == 2 * 2 * 4 and (both.kind == "box").all()
    for col in ("rank1_mean", "rank1_std", "iou_mean", "area_mean"):
        assert np.allclose(both[f"{col}_nb03"], both[f"{col}_ruler"], atol=1e-6), col
    assert (both.seeds_nb03 == both.seeds_ruler).all()
    # the intervals: notebook 03's differences of CRLoc against the three references, from its own per-query ranks
    ppcl = {(ds, d, m.rsplit(", ", 1)[0]): v for (ds, d, m), v in l_per_query.items() if m.endswith(", PPCL")}
    want = differences(ppcl, method_pairs([CRLOC]), n_boot=2000)
    cols = ["rank1_diff_mean", "ci_low", "ci_high", "ci_query_low", "ci_query_high"]
    assert len(diff) == len(want) == 12 and np.allclose(diff[cols].to_numpy(), want[cols].to_numpy(), atol=1e-6)
    # notebook 03's encodings handed over instead of encoding again: the same rows
    reused, _ = measure_over_seeds(None, {s: models[("ppcl", s)] for s in seeds}, data, bodies, labels=labels,
                                   encoded=lambda s, ds: raw[s][(ds, "ppcl")]["+R+L"]["encoded"], progress=False)
    assert [(r["region"], r["rank1"], r["mAP"]) for r in reused] == [(r["region"], r["rank1"], r["mAP"]) for r in rows]

"""The bookkeeping behind the README's tables, tested as invariants on seeded random inputs:

* the validation split: no identity is in both training and validation; every record lands on
  exactly one side; ``n_val_ids`` identities are held out; training labels are 0..N-1 in order;
* the model store's key: every input that changes a model changes its key (GLRec's recipe and
  config, the seed, the data, the code, the domain; for PPCL the GLRec it builds on, the variant's
  losses and the schedule too); the code hash covers every module that shapes what is trained;
* Table 1b's axes: each (query ratio, gallery ratio) cell is computed with the queries cropped at
  the query ratio and the gallery at the gallery ratio;
* the Pad baseline: a partial image is padded on the axis where it is short, centred, and only
  the partial side is padded.
"""
from __future__ import annotations

import ast
import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ppcl.pipeline.training as recipes
from ppcl.pipeline import store
from ppcl.data.common import Record, ReIDData
from ppcl.data.splits import split_train_val
from ppcl.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ppcl.evaluate import protocols, simulated
from ppcl.pipeline.experiments import ablations as ablation
from ppcl.evaluate.engine import Encoded, pil_to_tensor
from ppcl.pipeline.profiles import GLRecRecipe
from ppcl.models.glrec import GLRecConfig
from ppcl.pipeline.run import setup

PKG = store.PACKAGE


# ---- the validation split --------------------------------------------------------------------
def _records(rng: np.random.Generator) -> list[Record]:
    n_ids = int(rng.integers(2, 40))
    pids = rng.choice(np.arange(1, 2000), n_ids, replace=False)  # sparse, unordered original ids
    recs = [Record(f"/d/{p:04d}_{i}.jpg", int(p), int(rng.integers(1, 7))) for p in pids for i in range(int(rng.integers(1, 6)))]
    return [recs[i] for i in rng.permutation(len(recs))]


def test_the_validation_split_never_puts_an_identity_on_both_sides():
    rng = np.random.default_rng(0)
    differs = 0
    for case in range(300):
        recs = _records(rng)
        ids = sorted({r.pid for r in recs})
        n_val, seed = int(rng.integers(0, len(ids))), int(rng.integers(0, 1000))
        train, val = split_train_val(recs, n_val, seed)
        original, cams = {r.path: r.pid for r in recs}, {r.path: r.camid for r in recs}
        t_ids, v_ids = {original[r.path] for r in train}, {r.pid for r in val}
        assert not t_ids & v_ids, f"case {case}: identities {sorted(t_ids & v_ids)} in training and validation"
        assert len(v_ids) == n_val and t_ids | v_ids == set(ids), f"case {case}: {len(v_ids)} held out, asked {n_val}"
        assert sorted(r.path for r in train + val) == sorted(original), f"case {case}: a record lost or doubled"
        assert all(r.pid == original[r.path] for r in val), f"case {case}: validation labels changed"
        labels = {original[r.path]: r.pid for r in train}
        assert [labels[p] for p in sorted(labels)] == list(range(len(labels))), f"case {case}: labels not 0..N-1 in order"
        assert all(labels[original[r.path]] == r.pid and r.camid == cams[r.path] for r in train)
        again = split_train_val(recs, n_val, seed)
        assert again == (train, val), f"case {case}: the same seed gave another split"
        if 0 < n_val < len(ids) - 1:
            differs += {r.pid for r in split_train_val(recs, n_val, seed + 1)[1]} != v_ids
    assert differs > 50  # the seed does decide the split


@pytest.mark.parametrize("domain", ["reid", "face"])
def test_a_runs_validation_queries_and_gallery_come_only_from_held_out_identities(tmp_path, domain):
    run = setup("smoke", {}, out_dir=tmp_path / "run", progress=False, style=False)
    original = {r.path: r.pid for r in recipes.training_records(run, domain)}
    for seed in (0, 1):
        train, val = recipes.train_split(run, seed, domain)
        held = {r.pid for r in val}
        assert held and not {original[r.path] for r in train} & held
        v = recipes.validation_for(run, seed, domain)
        assert {original[p] for p in v["q_paths"] + v["g_paths"]} <= held, f"seed {seed}: a training identity in validation"
        assert set(v["q_paths"]).isdisjoint(v["g_paths"])


def test_validation_queries_are_cut_as_the_recipe_says(tmp_path):
    """``val_view_width``: the queries that select models are cut in the narrowed image (smoke: as its
    training views) or, at (1, 1), across the frame, with the same queries and gallery either way."""
    view = recipes.validation_for(_run(tmp_path), 0)
    frame = recipes.validation_for(_run(tmp_path, {"ppcl": {"val_view_width": [1.0, 1.0]}}), 0)
    assert (view["crops"], frame["crops"]) == ("view", "frame")
    assert view["q_paths"] == frame["q_paths"] and view["g_paths"] == frame["g_paths"]
    assert (view["t"][:, 0] < frame["t"][:, 0]).all()  # the same draws, cut in an image 0.4-0.7 as wide
    assert recipes.validation_for(_run(tmp_path), 0, "face")["crops"] == "frame"  # the faces' recipe cuts in the frame


# ---- the model store's key -------------------------------------------------------------------
GLREC_CHANGES = {  # one valid change per GLRecRecipe field (and GLRecConfig's, under model)
    "model.depth": "resnet18",
    "model.width": 12,
    "model.input_size": [48, 24],
    "model.min_scale": 0.1,
    "imagenet": True,
    "weights": "elsewhere/resnet10.pt",
    "epochs": 2,
    "batch_size": 12,
    "lr": 5e-4,
    "weight_decay": 1e-4,
    "partial_share": 0.7,
    "area": [0.4, 0.8],
    "workers": 1,
    "gate_threshold": 0.3,
}


def _nest(dotted: str, value) -> dict:
    *parents, leaf = dotted.split(".")
    out: dict = {leaf: value}
    for p in reversed(parents):
        out = {p: out}
    return out


def _run(tmp_path, overrides: dict | None = None):
    return setup("smoke", overrides or {}, out_dir=tmp_path / "run", progress=False, style=False)


def test_every_glrec_field_is_classified():
    fields = {f.name for f in dataclasses.fields(GLRecRecipe)} - {"model"}
    fields |= {f"model.{f.name}" for f in dataclasses.fields(GLRecConfig)}
    assert fields == set(GLREC_CHANGES), "a new GLRec field: add a change to GLREC_CHANGES (and to GLRec's key)"


@pytest.mark.parametrize("section, domain", [("glrec", "reid"), ("faces.glrec", "face")])
def test_every_input_of_a_glrec_changes_its_key(tmp_path, monkeypatch, section, domain):
    base = recipes.glrec_key(_run(tmp_path), 0, domain)
    assert recipes.glrec_key(_run(tmp_path), 0, domain) == base  # the same inputs: the same model
    smoke = _run(tmp_path).profile
    recipe = smoke.glrec if domain == "reid" else smoke.faces.glrec
    missed = []
    for dotted, value in GLREC_CHANGES.items():
        if dotted == "model.input_size" and domain == "face":
            value = [24, 24]
        current = recipe
        for part in dotted.split("."):
            current = getattr(current, part)
        assert current != (tuple(value) if isinstance(value, list) else value), f"{dotted}: not a change"
        over = _nest(section + "." + dotted, value)
        if recipes.glrec_key(_run(tmp_path, over), 0, domain) == base:
            missed.append(dotted)
    assert not missed, f"GLRec fields that do not change its key: {missed}"
    assert recipes.glrec_key(_run(tmp_path), 7, domain) != base, "the seed: every seed trains its own GLRec"
    other = "face" if domain == "reid" else "reid"
    assert recipes.glrec_key(_run(tmp_path), 0, other) != base, "the domain"
    real_records = recipes.training_records
    monkeypatch.setattr(recipes, "training_records", lambda run, d="reid": real_records(run, d)[:-1])
    assert recipes.glrec_key(_run(tmp_path), 0, domain) != base, "the training data"
    monkeypatch.setattr(recipes, "training_records", real_records)
    monkeypatch.setattr(recipes, "code_version", lambda: "another-code")
    assert recipes.glrec_key(_run(tmp_path), 0, domain) != base, "the training code"


class _Key(Exception):
    pass


def _ppcl_key(monkeypatch, run, variant: str, seed: int, domain: str = "reid", **kw) -> str:
    real = recipes.model_key

    def capture(**parts):
        key = real(**parts)
        if parts.get("what") in ("ppcl", "face-ppcl"):
            raise _Key(key)
        return key

    monkeypatch.setattr(recipes, "model_key", capture)
    try:
        with pytest.raises(_Key) as k:
            recipes.train_variant(run, variant, seed, progress=False, domain=domain, **kw)
    finally:
        monkeypatch.setattr(recipes, "model_key", real)
    return str(k.value)


@pytest.mark.parametrize("domain", ["reid", "face"])
def test_every_input_of_a_ppcl_model_changes_its_key(tmp_path, monkeypatch, domain):
    lam = {} if domain == "face" else {"lam_cyc": 1.0, "lam_tri": 1.0}
    key = lambda run, variant="ppcl", seed=0, **kw: _ppcl_key(monkeypatch, run, variant, seed, domain, **{**lam, **kw})  # noqa: E731
    run = _run(tmp_path)
    base = key(run)
    assert key(_run(tmp_path)) == base
    glrec_section = "glrec" if domain == "reid" else "faces.glrec"
    changed = {
        "the seed": key(run, seed=1),
        "the variant (its partial input)": key(run, variant="resize"),
        "the schedule (epochs)": key(run, epochs=3),
        "the GLRec it builds on (its recipe)": key(_run(tmp_path, _nest(f"{glrec_section}.lr", 5e-4))),
        "the domain": _ppcl_key(monkeypatch, run, "ppcl", 0, "face" if domain == "reid" else "reid",
                                **({"lam_cyc": 1.0, "lam_tri": 1.0} if domain == "face" else {})),
    }
    if domain == "reid":
        changed["the losses (λ)"] = key(run, lam_cyc=2.0)
    real_split = recipes.train_split  # the seed alone (not the split it draws) must change the key too
    monkeypatch.setattr(recipes, "train_split", lambda run, seed, domain="reid": real_split(run, 0, domain))
    changed["the seed, with the same split"] = key(run, seed=1)
    monkeypatch.setattr(recipes, "train_split", real_split)
    real_glrec = recipes.glrec_key  # another GLRec under the same seed (e.g. other GLRec code): another model
    monkeypatch.setattr(recipes, "glrec_key", lambda run, seed, domain="reid": real_glrec(run, seed, domain) + "+other")
    changed["the GLRec it builds on (its key)"] = key(run)
    monkeypatch.setattr(recipes, "glrec_key", real_glrec)
    # a seed is one replicate of the whole method: its model depends on its own seed, not on the profile's first one
    assert key(_run(tmp_path, {"seed": 3})) == base
    real_identity = recipes.data_identity
    monkeypatch.setattr(recipes, "data_identity", lambda root, records: real_identity(root, records) + "+other")
    changed["the training data"] = key(run)
    monkeypatch.setattr(recipes, "data_identity", real_identity)
    monkeypatch.setattr(recipes, "code_version", lambda: "another-code")
    changed["the training code"] = key(run)
    same = [what for what, k in changed.items() if k == base]
    assert not same, f"inputs that do not change the PPCL model's key: {same}"


def test_editing_any_module_a_training_imports_changes_the_code_hash(tmp_path, monkeypatch):
    """The store's code version hashes every module reachable by imports from the training code, so
    an edit to any of them (a loss, a crop, the validation that selects epochs) retrains."""
    copy = tmp_path / "ppcl"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(store, "PACKAGE", copy)
    store.training_modules.cache_clear()
    base = store.code_version()
    modules = store.training_modules()
    assert {"ppcl.data.partial", "ppcl.losses", "ppcl.models.crloc", "ppcl.data.datasets", "ppcl.evaluate.validation",
            "ppcl.algorithm", "ppcl.pipeline.training"} <= set(modules)
    missed = []
    for name in modules:
        f = copy.parent.joinpath(*name.split("."))
        f = f / "__init__.py" if f.is_dir() else f.with_suffix(".py")
        text = f.read_text()
        f.write_text(text + "\n# an edit\n")
        if store.code_version() == base:
            missed.append(name)
        f.write_text(text)
    assert store.code_version() == base
    store.training_modules.cache_clear()
    assert not missed, f"modules whose edits keep the model store's code hash (a stale model would be reused): {missed}"


def test_a_module_left_out_of_the_imports_the_hash_follows_is_found(tmp_path, monkeypatch):
    """A module a training imports in a way the import walk cannot see would be left out of the hash:
    plant one (an import through importlib) and check that the walk misses it, so the runtime check in
    tests/test_model_store.py is what catches such a module."""
    copy = tmp_path / "ppcl"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "hidden.py").write_text('"""A module imported by name at run time."""\n')
    f = copy / "losses.py"
    f.write_text(f.read_text() + "\nimport importlib\n_hidden = importlib.import_module('ppcl.hidden')\n")
    monkeypatch.setattr(store, "PACKAGE", copy)
    store.training_modules.cache_clear()
    assert "ppcl.hidden" not in store.training_modules()
    store.training_modules.cache_clear()


def test_other_training_images_with_the_same_counts_change_the_key(tmp_path, monkeypatch):
    run = _run(tmp_path)
    base = _ppcl_key(monkeypatch, run, "+R", 0)
    real = recipes.training_records

    def relabelled(run, domain="reid"):
        recs = real(run, domain)
        ids = sorted({r.pid for r in recs})
        swap = {a: b for a, b in zip(ids, ids[1:] + ids[:1])}
        return [Record(r.path, swap[r.pid], r.camid) for r in recs]

    monkeypatch.setattr(recipes, "training_records", relabelled)
    assert _ppcl_key(monkeypatch, _run(tmp_path), "+R", 0) != base


# ---- Table 1b's axes ----------------------------------------------------------------------------
def _market(nq: int = 3, ng: int = 5) -> ReIDData:
    q = [Record(f"/q/{i}.jpg", i % 2, 1) for i in range(nq)]
    g = [Record(f"/g/{i}.jpg", i % 2, 2) for i in range(ng)]
    return ReIDData("market", Path("/m"), [], q, g, has_cameras=True)


def _code(rq: float, rg: float) -> float:
    return 1000 * rq + rg  # a rank-1 that tells the two ratios apart


def test_table1b_labels_each_cell_with_the_ratios_it_was_computed_at(monkeypatch):
    calls = []

    def fake_eval(model, method, query, gallery, query_ratio, gallery_ratio=1.0, seed=0, topk=20, gallery_images=None,
                  device="cpu", encoded_gallery=None):
        eg = encoded_gallery if encoded_gallery is not None else {"ratio": gallery_ratio, "seed": seed}
        calls.append((query_ratio, gallery_ratio, eg["ratio"]))
        return {"rank1": _code(query_ratio, eg["ratio"]) / 100, "encoded_gallery": eg,
                "query_partial": torch.ones(len(query), dtype=torch.bool)}

    class FakeModel:
        input_size = (8, 4)

    monkeypatch.setattr(ablation, "simulated_partial_eval", fake_eval)
    monkeypatch.setattr(ablation, "load_images", lambda recs, size: torch.zeros(len(recs), 3, *size))
    monkeypatch.setattr(ablation, "encode", lambda model, x, method, device="cpu": Encoded(
        torch.zeros(len(x), 1, 1, 1), torch.zeros(len(x), 4), torch.zeros(len(x)), torch.zeros(len(x), 1)))
    rng = np.random.default_rng(0)
    for case in range(10):
        ratios = sorted(rng.choice([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], int(rng.integers(2, 6)), replace=False).tolist())
        calls.clear()
        grid, gate = ablation.table1b({0: FakeModel(), 1: FakeModel()}, _market(), ratios, topk=5)
        assert len(grid) == 2 * len(ratios) ** 2
        for row in grid.itertuples():
            assert row.rank1 == pytest.approx(_code(row.query_ratio, row.gallery_ratio)), (
                f"case {case}: the cell labelled query {row.query_ratio}, gallery {row.gallery_ratio} was computed "
                f"at {divmod(row.rank1, 1000)}")
        assert all(rg == used for _, rg, used in calls), f"case {case}: a gallery encoded at one ratio reused at another"
        assert set(gate.ratio) == set(ratios) | {1.0}


def test_a_simulated_cell_crops_queries_at_the_query_ratio_and_the_gallery_at_the_gallery_ratio(monkeypatch):
    cropped = []
    real_crop = simulated.crop_at_ratio

    def spy(images, ratio, seed=0, sides=simulated.SIDES):
        cropped.append((len(images), ratio))
        return real_crop(images, ratio, seed, sides)

    class FakeModel:
        input_size = (8, 4)

    monkeypatch.setattr(simulated, "crop_at_ratio", spy)
    monkeypatch.setattr(simulated, "load_images", lambda recs, size: torch.rand(len(recs), 3, *size))
    monkeypatch.setattr(simulated, "encode", lambda model, x, method, device="cpu": Encoded(
        torch.zeros(len(x), 1, 1, 1), torch.zeros(len(x), 4), None, torch.zeros(len(x), 1)))
    monkeypatch.setattr(simulated, "distance_matrix", lambda model, q, g, *a, **k: torch.rand(len(q), len(g)))
    monkeypatch.setattr(simulated, "market_rank", lambda d, q, g: {"rank1": 0.0, "shape": tuple(d.shape)})
    data = _market(nq=3, ng=5)
    for rq, rg in [(0.2, 0.8), (0.8, 0.2), (0.5, 1.0), (1.0, 0.3)]:
        cropped.clear()
        out = simulated.simulated_partial_eval(FakeModel(), "+R+L", data.query, data.gallery, rq, rg, seed=4)
        assert sorted(cropped) == sorted([(3, rq), (5, rg)]), f"query {rq}, gallery {rg}: crops {cropped}"
        assert out["shape"] == (3, 5)


def test_figure5_keeps_the_gallery_holistic_and_labels_the_query_ratio(monkeypatch):
    seen = []

    def fake_eval(model, method, query, gallery, query_ratio, gallery_ratio=1.0, seed=0, topk=20, device="cpu",
                  encoded_gallery=None, **kw):
        seen.append(gallery_ratio)
        return {"rank1": query_ratio, "mAP": 0.0, "encoded_gallery": "g", "query_partial": None}

    monkeypatch.setattr(ablation, "simulated_partial_eval", fake_eval)
    models = {(m.variant, 0): object() for m in ablation.FIGURE5}
    df = ablation.figure5(models, _market(), [0], [0.3, 0.7])
    assert set(seen) == {1.0} and (df.rank1 == 100 * df.ratio).all()


# ---- the Pad baseline ---------------------------------------------------------------------------
def _content_extent(x: torch.Tensor) -> tuple[tuple[int, int], tuple[int, int]]:
    """Rows and columns (first, last) where the output is not the zero padding."""
    nonzero = x.abs().amax(0) > 0.5
    rows, cols = nonzero.any(1).nonzero().squeeze(1), nonzero.any(0).nonzero().squeeze(1)
    return (int(rows[0]), int(rows[-1])), (int(cols[0]), int(cols[-1]))


def test_pad_pads_a_partial_image_on_the_axis_where_it_is_short_and_centres_it():
    rng = np.random.default_rng(1)
    white = (1 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)  # far from the zero padding
    assert white.min() > 2
    for case in range(60):
        th, tw = [(64, 32), (128, 64), (48, 48), (32, 64)][case % 4]
        h, w = int(rng.integers(6, 200)), int(rng.integers(6, 200))
        if abs(h / w - th / tw) < 0.15 * th / tw:
            continue  # near the target aspect: too little padding to see
        x = pil_to_tensor(Image.new("RGB", (w, h), (255, 255, 255)), (th, tw), mode="pad")
        assert x.shape == (3, th, tw)
        (r0, r1), (c0, c1) = _content_extent(x)
        if h / w > th / tw:  # too tall: pad the width, keep every row
            assert (r0, r1) == (0, th - 1), f"case {case}: {h}x{w} into {th}x{tw}: rows {r0}..{r1} (the height was padded)"
            frac = (w / h) * (th / tw)
            assert abs((c1 - c0 + 1) / tw - frac) <= 2 / tw + 0.02, f"case {case}: {h}x{w}: content width {c1 - c0 + 1}, expected {frac * tw:.1f}"
            tol = 1 + tw / round(h * tw / th)  # an odd padding's extra pixel, scaled to the output
            assert abs(c0 - (tw - 1 - c1)) <= tol, f"case {case}: {h}x{w}: not centred ({c0}, {tw - 1 - c1})"
        else:  # too wide: pad the height
            assert (c0, c1) == (0, tw - 1), f"case {case}: {h}x{w} into {th}x{tw}: cols {c0}..{c1} (the width was padded)"
            frac = (h / w) * (tw / th)
            assert abs((r1 - r0 + 1) / th - frac) <= 2 / th + 0.02, f"case {case}: {h}x{w}: content height {r1 - r0 + 1}, expected {frac * th:.1f}"
            tol = 1 + th / round(w * th / tw)
            assert abs(r0 - (th - 1 - r1)) <= tol, f"case {case}: {h}x{w}: not centred ({r0}, {th - 1 - r1})"
        assert (x[:, (r0 + r1) // 2, (c0 + c1) // 2] > 1).all(), f"case {case}: the middle of the content is padding"


def test_pad_is_applied_to_the_partial_side_only(monkeypatch):
    modes = []

    def fake_load(records, size, mode="resize"):
        modes.append((records[0].path.split("/")[1], mode))
        return torch.zeros(len(records), 3, *size)

    class FakeModel:
        input_size = (8, 4)

    monkeypatch.setattr(protocols, "load_images", fake_load)
    monkeypatch.setattr(protocols, "encode", lambda model, x, method, **kw: Encoded(
        torch.zeros(len(x), 1, 1, 1), torch.zeros(len(x), 4), None, torch.nn.functional.normalize(torch.rand(len(x), 3), dim=1)))
    data = ReIDData("p", Path("/p"), [], [Record("/partial/0.jpg", 0), Record("/partial/1.jpg", 1)],
                    [Record("/whole/0.jpg", 0), Record("/whole/1.jpg", 1)], has_cameras=False)
    protocols.evaluate_partial(FakeModel(), data, methods=("pad", "resize"))
    assert modes == [("partial", "pad"), ("whole", "resize"), ("partial", "resize"), ("whole", "resize")], modes


# ---- Table 1c's choice: the grid's validation hits decide, by the profile's rule -----------------
def _grid_run(rule: str):
    from types import SimpleNamespace

    from ppcl.pipeline.profiles import load_profile
    return SimpleNamespace(profile=load_profile("smoke", {"ablation": {"lambda_rule": rule}}), memo={},
                           device=torch.device("cpu"))


def _stub_grid(monkeypatch, hits: dict):
    """``lambda_grid`` with each cell's validation hits given: no training, no images."""
    from types import SimpleNamespace

    def train_variants(run, cells, progress=True):
        out = []
        for c in cells:
            h = hits[(c["lam_cyc"], c["lam_tri"])]
            hist = SimpleNamespace(epochs=[{"epoch": 0, "val_rank1": float(np.mean(h)), "val_mAP": 0.5}])
            out.append(((c["lam_cyc"], c["lam_tri"]), hist))  # the "model" names its cell
        return out

    def validate(model, val, methods, device="cpu"):
        first = np.where(hits[model] > 0, 0, 5)
        return {"+R+L": {"per_query": {"query": np.arange(len(first)), "first": first, "ap": first * 0.0}}}

    monkeypatch.setattr(recipes, "train_variants", train_variants)
    monkeypatch.setattr(recipes, "validation_for", lambda run, seed: {})
    monkeypatch.setattr(recipes, "validate", validate)


def test_lambda_grid_keeps_the_paper_cell_unless_a_lead_is_clear(monkeypatch):
    q = np.arange(120)
    paper = (q < 42).astype(float)
    hits = {(1.0, 1.0): (q < 40).astype(float), (1.0, 10.0): (q < 30).astype(float), (10.0, 1.0): paper,
            (10.0, 10.0): ((q >= 12) & (q < 63)).astype(float)}  # 42.5 vs 35.0, disagreeing on 33 queries
    _stub_grid(monkeypatch, hits)
    chosen, table = recipes.lambda_grid(_grid_run("clear"), progress=False)
    assert chosen == (10.0, 1.0) and table.chosen.tolist() == [False, False, True, False]
    assert list(table.columns) == ["lam_cyc", "lam_tri", "val_rank1", "val_mAP", "kept_epoch", "vs_recipe_rank1",
                                   "vs_recipe_low", "vs_recipe_high", "basis", "chosen"]
    row = table.set_index(["lam_cyc", "lam_tri"]).loc[(10.0, 10.0)]
    assert row.vs_recipe_rank1 == pytest.approx(100 * 9 / 120) and row.vs_recipe_low < 0 < row.vs_recipe_high
    assert table.basis.str.startswith("queries only (one seed)").all()
    assert recipes.lambda_grid(_grid_run("best"), progress=False)[0] == (10.0, 10.0)  # the old rule: the top rank-1
    hits[(1.0, 10.0)] = ((q >= 10) & (q < 110)).astype(float)  # 83.3 against 35.0: clear
    assert recipes.lambda_grid(_grid_run("clear"), progress=False)[0] == (1.0, 10.0)

"""The model store reuses a trained model only for the same parameters: every recipe field that
changes what is trained, or which epoch is kept, changes the model's key (a field left out would
let a notebook silently load a model trained with other values)."""
import dataclasses

import pytest

import ppcl.pipeline.training as recipes
from ppcl.pipeline.profiles import PPCLRecipe
from ppcl.pipeline.run import setup

# One changed (valid) value per field of the PPCL recipe; each must change the key.
CHANGES = {
    "backbone": {"width": 12},
    "crloc": {"channels": [8, 8, 4]},
    "imagenet": True,
    "weights": "elsewhere/resnet10.pt",
    "epochs": 2,
    "p": 3,
    "k": 3,
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "warmup_epochs": 1,
    "erase": 0.5,
    "workers": 2,
    "n_val_ids": 4,
    "validate_from": 0.5,
    "val_queries_per_id": 1,
    "val_view_width": [0.5, 0.9],
    "beta": 0.4,
    "alpha": 0.2,
    "triplet_margin": 0.2,
    "label_smoothing": 0.1,
    "area": [0.4, 0.8],
    "sides": ["top", "bottom"],
    "grid": 10,
    "train_glrec": True,
    "triplet_trains_F": False,
    "region_id": False,
    "crloc_trains_F": True,
    "negatives": "same-size",
    "known_pairs": False,
    "lam_loc": 1.0,
    "known_region_id": True,
    "view_width": [0.5, 0.9],
}
EVALUATION_ONLY = {"topk": 5, "fuse_weights": [0.0, 1.0]}  # used after training, never by it: same key
SET_BY_THE_VARIANT = {"lam_cyc", "lam_tri", "partial_input"}  # given explicitly below, or fixed by "ppcl"


class _Key(Exception):
    pass


def _ppcl_key(monkeypatch, tmp_path, changes: dict) -> str:
    real = recipes.model_key

    def capture(**parts):
        key = real(**parts)
        if parts.get("what") == "ppcl":
            raise _Key(key)
        return key

    monkeypatch.setattr(recipes, "model_key", capture)
    run = setup("smoke", {"ppcl": changes}, out_dir=tmp_path / "run", progress=False, style=False)
    with pytest.raises(_Key) as k:
        recipes.train_variant(run, "ppcl", run.profile.seed, progress=False, lam_cyc=1.0, lam_tri=1.0)
    return str(k.value)


def test_every_recipe_field_is_classified():
    fields = {f.name for f in dataclasses.fields(PPCLRecipe)}
    assert fields == set(CHANGES) | set(EVALUATION_ONLY) | SET_BY_THE_VARIANT, (
        "a new PPCLRecipe field: add it to CHANGES (and to the model's key) or to EVALUATION_ONLY")


def test_each_training_field_changes_the_models_key_and_evaluation_fields_do_not(monkeypatch, tmp_path):
    base = _ppcl_key(monkeypatch, tmp_path, {})
    assert _ppcl_key(monkeypatch, tmp_path, {}) == base  # the same parameters: the same model
    smoke = setup("smoke", {}, out_dir=tmp_path / "run", progress=False, style=False).profile.ppcl
    unchanged = [f for f, v in CHANGES.items()
                 if not isinstance(v, dict) and getattr(smoke, f) == (tuple(v) if isinstance(v, list) else v)]
    assert not unchanged, f"CHANGES must differ from the smoke profile's values: {unchanged}"
    missed = [f for f, v in CHANGES.items() if _ppcl_key(monkeypatch, tmp_path, {f: v}) == base]
    assert not missed, f"fields that do not change the model's key: {missed}"
    for f, v in EVALUATION_ONLY.items():
        assert _ppcl_key(monkeypatch, tmp_path, {f: v}) == base, f


_CALLED = r'''
import json, sys
from ppcl.pipeline.run import setup
from ppcl.pipeline import training
run = setup("smoke", {}, out_dir=sys.argv[1], cache_dir=sys.argv[2], progress=False, style=False)
run.data("market1501")
called = set()
def profile(frame, event, arg):
    if event == "call":
        name = frame.f_globals.get("__name__", "")
        if name.startswith("ppcl"):
            called.add(name)
sys.setprofile(profile)
training.train_variant(run, "ppcl", run.profile.seed, progress=False)
sys.setprofile(None)
print(json.dumps(sorted(called)))
'''


def test_every_module_whose_code_runs_in_a_training_is_in_the_code_hash(tmp_path):
    """The store's code version follows imports from the training code (ppcl.pipeline.store); this
    trains GLRec and a PPCL model and checks that every package module whose functions ran meanwhile
    is among the hashed ones, so a training module the import walk missed fails here. The one
    exemption is the caller's Run (its folders and its data cache: the data is in the key)."""
    import json
    import subprocess
    import sys

    from ppcl.pipeline.store import training_modules

    r = subprocess.run([sys.executable, "-c", _CALLED, str(tmp_path / "run"), str(tmp_path / "cache")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    called = set(json.loads(r.stdout.strip().splitlines()[-1]))
    assert {"ppcl.algorithm", "ppcl.losses", "ppcl.pretrain", "ppcl.models.crloc"} <= called
    left_out = called - set(training_modules()) - {"ppcl.pipeline.run"}
    assert not left_out, f"modules that ran in a training but are not hashed into the model store's key: {sorted(left_out)}"

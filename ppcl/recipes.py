"""Training recipes the notebooks share, and the store that keeps what they trained.

Every trained model is keyed by everything that determines it: the recipe (a profile's
``glrec`` or ``ppcl`` table with the variant's changes), the seed, the data, the GLRec it
builds on, and the kit's own training code. ``<cache>/models/<name>-<key>/`` holds
``train.pt`` (written every epoch: an interrupted training resumes) and, for PPCL variants,
``best.pt`` (the best validation epoch). A later cell, notebook or run that asks for the same
model loads it instead of training it again; the run folder gets a hard link (or a copy) of
each model it used under ``checkpoints/`` and their keys in ``checkpoints/models.json``.

**Variants** (Table 1a) are Algorithm 1 with given constraint weights and partial-input recipe
(:mod:`ppcl.algorithm`), all with the same data, seed, GLRec and budget:

========== ================================================================================
resize     the Resize baseline: partial views resized, no CRLoc (Pad is evaluated on it)
+R         GLRec's rectified views, no CRLoc (the +R control, trained as its own model)
triplet    +R+L with PP-Triplet only (λ_cyc = 0)
cycle      +R+L with PP-Cycle only (λ_tri = 0)
ppcl       both constraints (the profile's λ_cyc, λ_tri)
========== ================================================================================

Each is kept at its best epoch on a validation split of the training identities, drawn with
the variant's seed; no choice is made on a test set.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from .algorithm import PPCLLossConfig, train_ppcl
from .config import to_dict
from .data.common import Record
from .data.splits import split_train_val
from .evaluate.validation import validate, validation_set
from .io import load_checkpoint, read_checkpoint, save_checkpoint, write_json
from .models import GLRec, build_ppcl
from .models.ppcl import PPCL
from .pretrain import pretrain_glrec
from .profiles import GLRecRecipe, PPCLRecipe
from .train import History, set_seed

VARIANTS: dict[str, dict] = {
    "resize": {"lam_cyc": 0.0, "lam_tri": 0.0, "partial_input": "resize"},
    "+R": {"lam_cyc": 0.0, "lam_tri": 0.0, "partial_input": "rectify"},
    "triplet": {"lam_cyc": 0.0, "partial_input": "rectify"},
    "cycle": {"lam_tri": 0.0, "partial_input": "rectify"},
    "ppcl": {"partial_input": "rectify"},
}

_TRAINING_CODE = ("algorithm.py", "losses.py", "geometry.py", "pretrain.py", "recipes.py", "train.py", "models",
                  "data/partial.py", "data/samplers.py", "data/transforms.py", "data/datasets.py", "data/splits.py",
                  "evaluate/engine.py", "evaluate/rank.py", "evaluate/validation.py")


def code_version() -> str:
    """A hash of the kit's training code: a model trained by other code is never reused."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha1()
    for item in _TRAINING_CODE:
        for f in sorted((root / item).rglob("*.py")) if (root / item).is_dir() else [root / item]:
            h.update(f.relative_to(root).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def model_key(**parts) -> str:
    """A short stable hash of ``parts`` (plain values, dicts and dataclasses)."""
    blob = json.dumps(to_dict(parts), sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def data_identity(root: Path, records: Sequence[Record]) -> str:
    """Names the training data: the synthetic set's folder (which carries its config's hash),
    or the real root with its size."""
    return f"{Path(root).resolve()}:{len(records)}:{len({r.pid for r in records})}"


def link_into(src: Path, dst: Path) -> Path:
    """``dst`` as a hard link to ``src`` (a copy where links are impossible), replaced atomically."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    if tmp.exists():
        tmp.unlink()
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)
    os.replace(tmp, dst)
    return dst


def _record(run, name: str, key: str, path: Path, info: dict) -> None:
    """Link ``path`` into the run folder and note it in ``checkpoints/models.json``."""
    link_into(path, run.checkpoints / f"{name}.pt")
    index_path = run.checkpoints / "models.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    index[name] = {"key": key, "store": str(path), **info}
    write_json(index_path, index, sort_keys=True)


def check_batch(name: str, value: int, available: int, what: str) -> None:
    """Refuse a profile value the data cannot satisfy, naming it (e.g. a batch above the set)."""
    if value > available:
        raise ValueError(f"{name} = {value}: the data holds only {available} {what}; lower {name} (e.g. --set {name}={available})")


def glrec_key(run) -> str:
    """The store key of the run's GLRec: its recipe, the profile's seed, the data, the code."""
    train = run.data("market1501")["market1501"].train
    return model_key(what="glrec", recipe=run.profile.glrec, seed=run.profile.seed, data=data_identity(run.root, train),
                     code=code_version())


def train_glrec(run, progress: bool = True) -> tuple[GLRec, History]:
    """GLRec pretrained on the Market-style training images (notebook 02), trained once per
    recipe, seed and data; returned on the CPU in eval mode."""
    recipe: GLRecRecipe = run.profile.glrec
    train = run.data("market1501")["market1501"].train
    check_batch("glrec.batch_size", recipe.batch_size, len(train), "training images")
    key = glrec_key(run)
    folder = run.models / f"glrec-{key}"
    set_seed(run.profile.seed)
    model = GLRec(recipe.model, imagenet=recipe.imagenet, weights=recipe.weights)
    history = pretrain_glrec(model, train, recipe.epochs, folder / "train.pt", batch_size=recipe.batch_size, lr=recipe.lr,
                             weight_decay=recipe.weight_decay, partial_share=recipe.partial_share, area=recipe.area,
                             seed=run.profile.seed, device=run.device, progress=progress)
    _record(run, "glrec", key, folder / "train.pt", {"seed": run.profile.seed})
    return model.to("cpu").eval(), history


def glrec_for(run) -> GLRec:
    """The run's GLRec (trained by notebook 02, or now if it is missing)."""
    return train_glrec(run, progress=False)[0]


def train_split(run, seed: int) -> tuple[list[Record], list[Record]]:
    """The training identities without the ``n_val_ids`` held out for validation with ``seed``."""
    recipe: PPCLRecipe = run.profile.ppcl
    train = run.data("market1501")["market1501"].train
    n_ids = len({r.pid for r in train})
    if recipe.n_val_ids >= n_ids:
        raise ValueError(f"ppcl.n_val_ids = {recipe.n_val_ids}: the training set holds only {n_ids} identities; "
                         f"hold out fewer (e.g. --set ppcl.n_val_ids={max(1, n_ids // 10)})")
    return split_train_val(train, recipe.n_val_ids, seed=seed)


def validation_for(run, seed: int) -> dict:
    """The validation split of ``seed``: simulated partial queries of held-out training ids."""
    recipe: PPCLRecipe = run.profile.ppcl
    _, val = train_split(run, seed)
    return validation_set(val, recipe.backbone.input_size, seed=seed, area=recipe.area,
                          queries_per_id=recipe.val_queries_per_id)


def validation_callback(model: PPCL, val: dict, method: str, best_path: Path | None = None, device="cpu"):
    """An ``on_epoch_end`` for :func:`ppcl.train.fit`: rank-1 / mAP of ``method`` on a validation
    split, saving the best epoch's weights to ``best_path`` (ties keep the earlier epoch).
    Model selection never looks at a test set."""
    best = {"rank1": -1.0}
    if best_path is not None and Path(best_path).is_file():  # a resumed run keeps the best epoch it had
        best["rank1"] = float(read_checkpoint(best_path).get("val_rank1", -1.0))

    def on_epoch_end(epoch: int) -> dict:
        r = validate(model, val, (method,), device=device)[method]
        model.train()
        if best_path is not None and r["rank1"] > best["rank1"]:
            best["rank1"] = r["rank1"]
            save_checkpoint({"arch": model.arch(), "model": model.state_dict(), "epoch": epoch, "val_rank1": r["rank1"]},
                            best_path)
        return {"val_rank1": r["rank1"], "val_mAP": r["mAP"]}

    return on_epoch_end


def variant_loss(recipe: PPCLRecipe, variant: str, lambdas: tuple[float, float] | None = None, **changes) -> PPCLLossConfig:
    """The loss config of ``variant``: the recipe's, with the chosen ``lambdas`` (λ_cyc, λ_tri)
    where the variant keeps them, the variant's own settings, then ``changes``."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {list(VARIANTS)}; found {variant!r}")
    lam = {} if lambdas is None else {"lam_cyc": lambdas[0], "lam_tri": lambdas[1]}
    return recipe.loss(**{**lam, **VARIANTS[variant], **changes})


def lambda_grid(run, progress: bool = True):
    """Table 1c: PPCL trained at every (λ_cyc, λ_tri) of the profile's grid on its first seed,
    each scored by +R+L rank-1 on that seed's **validation** split (its kept epoch). Returns
    ``(chosen (λ_cyc, λ_tri), DataFrame)``; ties go to the paper's (10, 1) when it is among
    them, else to the first cell in grid order. Computed once per run."""
    import pandas as pd

    if "lambda_grid" in run.memo:
        return run.memo["lambda_grid"]
    ab, seed = run.profile.ablation, run.profile.seed
    rows = []
    for lc in ab.lam_cyc:
        for lt in ab.lam_tri:
            _, h = train_variant(run, "ppcl", seed, progress=progress, lam_cyc=lc, lam_tri=lt)
            e = best_epoch(h)
            rows.append({"lam_cyc": lc, "lam_tri": lt, "val_rank1": 100 * e["val_rank1"], "val_mAP": 100 * e["val_mAP"],
                         "kept_epoch": e["epoch"] + 1})
    df = pd.DataFrame(rows)
    top = df[df.val_rank1 == df.val_rank1.max()]
    paper = top[(top.lam_cyc == 10.0) & (top.lam_tri == 1.0)]
    best = (paper if len(paper) else top).iloc[0]
    run.memo["lambda_grid"] = ((float(best.lam_cyc), float(best.lam_tri)), df.assign(chosen=lambda f: (f.lam_cyc == best.lam_cyc) & (f.lam_tri == best.lam_tri)))
    return run.memo["lambda_grid"]


def chosen_lambdas(run, progress: bool = True) -> tuple[float, float]:
    """(λ_cyc, λ_tri) for every PPCL model of the run: the cell of :func:`lambda_grid` chosen on
    validation when ``ablation.choose_lambdas``, else the recipe's."""
    if run.profile.ablation.choose_lambdas:
        return lambda_grid(run, progress)[0]
    return run.profile.ppcl.lam_cyc, run.profile.ppcl.lam_tri


def train_variant(run, variant: str, seed: int, progress: bool = True, **changes) -> tuple[PPCL, History]:
    """Variant ``variant`` of PPCL (see :data:`VARIANTS`), trained with ``seed`` (initialisation,
    validation split, sampling and crops) or loaded from the store; ``changes`` adjust its
    loss config (e.g. ``lam_cyc=1.0`` for a cell of Table 1c). Returned on the CPU, in eval mode,
    at its best validation epoch."""
    recipe: PPCLRecipe = run.profile.ppcl
    explicit = {"lam_cyc", "lam_tri"} <= set(changes) or variant in ("resize", "+R")
    loss_cfg = variant_loss(recipe, variant, None if explicit else chosen_lambdas(run, progress), **changes)
    train, _ = train_split(run, seed)
    check_batch("ppcl.p", recipe.p, len({r.pid for r in train}), "training identities (after the validation split)")
    glrec = glrec_for(run)
    training = {f: getattr(recipe, f) for f in ("backbone", "crloc", "imagenet", "weights", "epochs", "p", "k", "lr",
                                                 "weight_decay", "warmup_epochs", "erase", "n_val_ids", "val_queries_per_id")}
    key = model_key(what="ppcl", training=training, loss=loss_cfg, seed=seed, glrec=glrec_key(run),
                    data=data_identity(run.root, train), code=code_version())
    label = variant if not changes else f"{variant}-" + "-".join(f"{k}{v}" for k, v in sorted(changes.items()))
    folder = run.models / f"{variant}-s{seed}-{key}"  # the key alone names the model: one folder per parameter set
    set_seed(seed)
    backbone = {**to_dict(recipe.backbone), "num_classes": len({r.pid for r in train})}
    model = build_ppcl({}, backbone, to_dict(recipe.crloc), glrec_model=glrec)
    if recipe.imagenet:
        from .models.resnet import load_imagenet_weights

        load_imagenet_weights(model.backbone.trunk, recipe.backbone.depth, recipe.weights)
    val = validation_for(run, seed)
    method = "+R+L" if (loss_cfg.lam_cyc or loss_cfg.lam_tri) else ("resize" if loss_cfg.partial_input == "resize" else "+R")
    best = folder / "best.pt"
    history = train_ppcl(model, train, recipe.epochs, folder / "train.pt", p=recipe.p, k=recipe.k, lr=recipe.lr,
                         weight_decay=recipe.weight_decay, warmup_epochs=recipe.warmup_epochs, loss_cfg=loss_cfg, seed=seed,
                         erase=recipe.erase, device=run.device, progress=progress,
                         on_epoch_end=validation_callback(model, val, method, best, run.device))
    if best.is_file():
        load_checkpoint(best, model)
    _record(run, f"{label}-s{seed}", key, best if best.is_file() else folder / "train.pt",
            {"variant": variant, "seed": seed, "changes": changes, "selected_by": method})
    return model.to("cpu").eval(), history


def best_epoch(history: History) -> dict:
    """The first epoch row with the highest validation rank-1: the rule
    :func:`validation_callback` saves ``best.pt`` by, so this is the epoch whose weights
    :func:`train_variant` returns."""
    rows = [e for e in history.epochs if "val_rank1" in e and not math.isnan(e["val_rank1"])]
    if not rows:
        raise ValueError("the history has no validation rows (was it trained with a validation callback?)")
    return max(rows, key=lambda e: (e["val_rank1"], -e["epoch"]))


def load_variant(path: str | Path) -> PPCL:
    """A trained variant from a run folder's ``checkpoints/<name>.pt`` (no pickle)."""
    from .models import ppcl_from_checkpoint

    return ppcl_from_checkpoint(path)



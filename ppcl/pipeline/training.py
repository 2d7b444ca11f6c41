"""What each model of the kit trains, and on what: GLRec, the variants of Table 1a, faces.

Every model is trained once and kept in the model store (:mod:`ppcl.pipeline.store`) under a key of
its recipe (a profile's ``glrec`` or ``ppcl`` table with the variant's changes), seed, data, the
GLRec it builds on and the training code; a later cell, notebook or run loads it instead.

**Variants** (Table 1a) are Algorithm 1 with given constraint weights and partial-input recipe
(:mod:`ppcl.algorithm`), all with the same data, seed, GLRec and budget:

========== ================================================================================
holistic   the paper's Resize baseline as it reads ("directly resized and fed into the
           backbone"): F trained on holistic images only; partial images resized (or padded)
           only at test time
resize     the kit's Resize baseline: partial views resized in training too, no CRLoc (Pad is
           evaluated on it)
+R         GLRec's rectified views, no CRLoc (the +R control, trained as its own model)
triplet    +R+L with PP-Triplet only (λ_cyc = 0)
cycle      +R+L with PP-Cycle only (λ_tri = 0)
ppcl       both constraints (the λ_cyc, λ_tri of Table 1c's choice, :func:`lambda_grid`)
========== ================================================================================

Each is kept at its best validation epoch (training identities; never a test set).

**Domains.** ``train_glrec``, ``train_split``, ``validation_for`` and ``train_variant`` take
``domain="reid"`` (the default: Market-style training images, the profile's ``glrec`` and
``ppcl`` recipes) or ``domain="face"`` (§5: CASIA-WebFace-layout images, the profile's
``faces`` recipe, ``faces.glrec``, the face backbone), through one loop, validation and store;
face models are named apart (``face-glrec-<key>``, ``face-<variant>-s<seed>-<key>``) and use the
``faces`` recipe's own (λ_cyc, λ_tri) (Table 1c's grid is not re-run on faces).
"""
from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..algorithm import PPCLLossConfig, train_ppcl
from ..config import to_dict
from ..data.common import Record
from ..data.splits import split_train_val
from ..evaluate.compare import choose_cell, hits_at
from ..evaluate.validation import validate, validation_set
from ..io import load_checkpoint, read_checkpoint, save_checkpoint
from ..models import GLRec, build_ppcl
from ..models.ppcl import PPCL
from ..pretrain import pretrain_glrec
from ..train import History, set_seed
from .jobs import side_by_side, threads_per_job
from .profiles import FaceRecipe, GLRecRecipe, PPCLRecipe
from .store import code_version, data_identity, model_key, record_model

DOMAINS = ("reid", "face")

VARIANTS: dict[str, dict] = {
    "holistic": {"lam_cyc": 0.0, "lam_tri": 0.0, "partial_input": None},
    "resize": {"lam_cyc": 0.0, "lam_tri": 0.0, "partial_input": "resize"},
    "+R": {"lam_cyc": 0.0, "lam_tri": 0.0, "partial_input": "rectify"},
    "triplet": {"lam_cyc": 0.0, "partial_input": "rectify"},
    "cycle": {"lam_tri": 0.0, "partial_input": "rectify"},
    "ppcl": {"partial_input": "rectify"},
}


def check_batch(name: str, value: int, available: int, what: str) -> None:
    """Refuse a profile value the data cannot satisfy, naming it (e.g. a batch above the set)."""
    if value > available:
        raise ValueError(f"{name} = {value}: the data holds only {available} {what}; lower {name} (e.g. --set {name}={available})")


def _check_domain(domain: str) -> None:
    if domain not in DOMAINS:
        raise ValueError(f"domain: expected one of {list(DOMAINS)}; found {domain!r}")


def training_records(run, domain: str = "reid") -> list[Record]:
    """The training images of ``domain``: Market-style ``train`` (re-ID) or every
    CASIA-WebFace-layout image (faces)."""
    _check_domain(domain)
    if domain == "face":
        return list(run.data("casia_webface")["casia_webface"].records)
    return run.data("market1501")["market1501"].train


def recipes_for(run, domain: str = "reid") -> tuple[GLRecRecipe, PPCLRecipe | FaceRecipe, str]:
    """``(GLRec recipe, PPCL recipe, the profile section naming them)`` of ``domain``."""
    _check_domain(domain)
    if domain == "face":
        return run.profile.faces.glrec, run.profile.faces, "faces"
    return run.profile.glrec, run.profile.ppcl, "ppcl"


def _glrec_prefix(domain: str) -> str:
    return "faces.glrec" if domain == "face" else "glrec"


def _name(domain: str, name: str) -> str:
    """A store / run-folder name: re-ID models keep their names, face models are prefixed."""
    return f"face-{name}" if domain == "face" else name


def glrec_key(run, seed: int, domain: str = "reid") -> str:
    """The store key of seed ``seed``'s GLRec: its recipe, the seed, the data, the code. Every seed
    trains its own GLRec (and chooses its own gate threshold): seeds are independent replicates."""
    recipe, _, _ = recipes_for(run, domain)
    train = training_records(run, domain)
    return model_key(what=_name(domain, "glrec"), recipe=recipe, seed=seed, data=data_identity(run.root, train),
                     code=code_version())


def _glrec_folder(run, seed: int, domain: str) -> tuple[str, Path]:
    key = glrec_key(run, seed, domain)
    return key, run.models / f"{_name(domain, 'glrec')}-s{seed}-{key}"


def train_glrec(run, seed: int | None = None, progress: bool = True, domain: str = "reid") -> tuple[GLRec, History]:
    """Seed ``seed``'s GLRec (default: the profile's first seed), pretrained on the domain's training
    images (notebook 02 for re-ID, 05 for faces) and its gate threshold chosen (:func:`choose_gate`),
    both on the run's device, once: the store keeps the model, its threshold and the gate table
    (``glrec.pt``), and a later call loads them. Returned on the CPU in eval mode."""
    recipe, _, _ = recipes_for(run, domain)
    seed = run.profile.seed if seed is None else int(seed)
    train = training_records(run, domain)
    check_batch(f"{_glrec_prefix(domain)}.batch_size", recipe.batch_size, len(train), "training images")
    key, folder = _glrec_folder(run, seed, domain)
    final = folder / "glrec.pt"  # the trained GLRec with its chosen threshold and gate table (train.pt: the training state)
    set_seed(seed)
    model = GLRec(recipe.model, imagenet=recipe.imagenet and not final.is_file(), weights=recipe.weights)
    history = pretrain_glrec(model, train, recipe.epochs, folder / "train.pt", batch_size=recipe.batch_size, lr=recipe.lr,
                             weight_decay=recipe.weight_decay, partial_share=recipe.partial_share, area=recipe.area,
                             seed=seed, num_workers=recipe.workers, device=run.device, progress=progress)
    if final.is_file():
        saved = load_checkpoint(final, model)
        table = saved["gate_table"]
    else:
        table = choose_gate(model.to(run.device), recipe, train, seed)
        save_checkpoint({"arch": model.arch(), "model": model.state_dict(), "threshold": float(model.threshold),
                         "gate_table": table}, final)
    model = model.to("cpu")
    record_model(run, f"{_name(domain, 'glrec')}-s{seed}", key, final, {"seed": seed, "threshold": float(model.threshold)})
    return model.eval(), history


def gate_table(run, seed: int | None = None, domain: str = "reid") -> list[dict]:
    """The gate table seed ``seed``'s GLRec was given its threshold by (:func:`choose_gate`), from the store."""
    from ..io import read_checkpoint as read

    seed = run.profile.seed if seed is None else int(seed)
    _, folder = _glrec_folder(run, seed, domain)
    if not (folder / "glrec.pt").is_file():
        train_glrec(run, seed, progress=False, domain=domain)
    return read(folder / "glrec.pt")["gate_table"]


GATE_VALIDATION_IMAGES = 1000  # training images cut (or not) afresh to choose G's threshold


def gate_validation(recipe: GLRecRecipe, records: Sequence[Record], seed: int) -> dict:
    """The crops G's threshold is chosen on: up to :data:`GATE_VALIDATION_IMAGES` training images
    (drawn with ``seed``), half of them cut with the recipe's area range by a fresh draw (not the
    pretraining's), at GLRec's input size: ``{"x_p", "is_partial", "t"}``."""
    import numpy as np
    import torch

    from ..data.partial import simulate_partial_batch
    from ..evaluate.engine import load_images

    rng = np.random.default_rng(seed + 7)
    pick = rng.choice(len(records), size=min(GATE_VALIDATION_IMAGES, len(records)), replace=False)
    x = load_images([records[i] for i in sorted(pick)], recipe.model.input_size)
    x_p, t, is_p, _ = simulate_partial_batch(x, torch.Generator().manual_seed(seed + 7), 0.5, recipe.area)
    return {"x_p": x_p, "is_partial": is_p, "t": t}


def choose_gate(model: GLRec, recipe: GLRecRecipe, records: Sequence[Record], seed: int) -> list[dict]:
    """G's threshold: the recipe's ``gate_threshold`` when set (> 0), else the best balanced accuracy
    on :func:`gate_validation`'s crops (:meth:`ppcl.models.GLRec.choose_threshold`), computed on the
    model's device. Returns every candidate's row of :meth:`ppcl.models.GLRec.gate_table` on those
    crops, the one in use marked ``chosen`` (a fixed threshold is added to the candidates)."""
    import torch

    from ..models.glrec import GATE_GRID

    val = gate_validation(recipe, records, seed)
    fixed = float(recipe.gate_threshold)
    with torch.no_grad():
        if fixed > 0:
            rows = model.gate_table(val["x_p"], val["is_partial"], tuple(sorted({*GATE_GRID, fixed})))
            model.threshold.fill_(fixed)
        else:
            rows = model.choose_threshold(val["x_p"], val["is_partial"])
    in_use = float(model.threshold)  # a float32 buffer: 0.35 reads back as 0.3499999940...
    return [{**r, "chosen": abs(r["threshold"] - in_use) < 1e-6} for r in rows]


def glrec_for(run, seed: int, domain: str = "reid") -> GLRec:
    """Seed ``seed``'s GLRec of ``domain`` (trained by notebook 02 / 05, or now if it is missing):
    loaded once per run, a fresh copy for each caller (a PPCL model holds its own)."""
    import copy

    memo = ("glrec", domain, int(seed))
    if memo not in run.memo:
        run.memo[memo] = train_glrec(run, seed, progress=False, domain=domain)[0]
    return copy.deepcopy(run.memo[memo])


def train_split(run, seed: int, domain: str = "reid") -> tuple[list[Record], list[Record]]:
    """The training identities without the ``n_val_ids`` held out for validation with ``seed``."""
    _, recipe, section = recipes_for(run, domain)
    train = training_records(run, domain)
    n_ids = len({r.pid for r in train})
    if recipe.n_val_ids >= n_ids:
        key = f"{section}.n_val_ids"
        if n_ids < 2:
            raise ValueError(f"{key} = {recipe.n_val_ids}: the training set holds only {n_ids} identities, none to spare "
                             f"for validation; the data needs two or more training identities")
        raise ValueError(f"{key} = {recipe.n_val_ids}: the training set holds only {n_ids} identities; "
                         f"hold out fewer (e.g. --set {key}={max(1, n_ids // 10)})")
    return split_train_val(train, recipe.n_val_ids, seed=seed)


def check_validation_queries(val: Sequence[Record], train: Sequence[Record], section: str, n_val_ids: int, seed: int) -> None:
    """Refuse a validation split without a query (no held-out identity with two or more images),
    naming ``<section>.n_val_ids``; ``train`` is the rest of the training set."""
    per_id: dict[int, int] = {}
    for r in val:
        per_id[r.pid] = per_id.get(r.pid, 0) + 1
    if any(n >= 2 for n in per_id.values()):
        return
    key = f"{section}.n_val_ids"
    rest: dict[int, int] = {}
    for r in train:
        rest[r.pid] = rest.get(r.pid, 0) + 1
    if not any(n >= 2 for n in rest.values()):
        raise ValueError(f"{key} = {n_val_ids}: no training identity has two or more images, so no validation split "
                         "can hold a query; the data needs identities with several images")
    more = min(len({r.pid for r in train}) + n_val_ids - 1, max(2 * n_val_ids, n_val_ids + 10))
    raise ValueError(f"{key} = {n_val_ids}: none of the {len(per_id)} identities held out for validation (seed {seed}) "
                     f"has two or more images, so validation has no query; hold out more (e.g. --set {key}={more})")


def validation_for(run, seed: int, domain: str = "reid", bodies: dict | None = None) -> dict:
    """The validation split of ``seed``: simulated partial queries of held-out training ids
    (Market-style persons, or CASIA-style faces), cut as the recipe's ``val_view_width`` says (in
    the frame, or in the image narrowed about its centre as the training views: what selects
    models), or around the body with ``bodies`` (:func:`ppcl.data.bodies.load_bodies`: the ruler
    on validation)."""
    _, recipe, section = recipes_for(run, domain)
    train, val = train_split(run, seed, domain)
    check_validation_queries(val, train, section, recipe.n_val_ids, seed)
    return validation_set(val, recipe.backbone.input_size, seed=seed, area=recipe.area,
                          queries_per_id=recipe.val_queries_per_id, bodies=bodies, view_width=recipe.val_view_width)


def validation_callback(model: PPCL, val: dict, method: str, best_path: Path | None = None, device="cpu", first: int = 0):
    """An ``on_epoch_end`` for :func:`ppcl.train.fit`: rank-1 / mAP of ``method`` on a validation
    split from epoch ``first`` on (0-based; earlier epochs are not candidates and cost nothing),
    saving the best epoch's weights to ``best_path`` (ties keep the earlier epoch). Model
    selection never looks at a test set."""
    best = {"rank1": -1.0}
    if best_path is not None and Path(best_path).is_file():  # a resumed run keeps the best epoch it had
        best["rank1"] = float(read_checkpoint(best_path).get("val_rank1", -1.0))

    def on_epoch_end(epoch: int) -> dict:
        if epoch < first:
            return {}
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
    """Table 1c: PPCL trained at every (λ_cyc, λ_tri) of the grid on the first seed (for
    ``ablation.grid_epochs`` epochs when set), each scored by +R+L rank-1 on that seed's
    **validation** split (its kept epoch) with its paired interval against the recipe's own cell
    (the paper's (10, 1)); the cell chosen by ``ablation.lambda_rule`` (:func:`choose_cell`).
    Returns ``(chosen (λ_cyc, λ_tri), DataFrame)``. Computed once per run."""
    import pandas as pd

    if "lambda_grid" in run.memo:
        return run.memo["lambda_grid"]
    ab, seed = run.profile.ablation, run.profile.seed
    cells = [{"variant": "ppcl", "seed": seed, "epochs": ab.grid_epochs or None, "lam_cyc": lc, "lam_tri": lt}
             for lc in ab.lam_cyc for lt in ab.lam_tri]
    trained = train_variants(run, cells, progress)  # every cell names its λ: no circle back to the choice
    val, rows, hits = validation_for(run, seed), [], {}
    for cell, (model, h) in zip(cells, trained):
        lam, e = (cell["lam_cyc"], cell["lam_tri"]), best_epoch(h)
        hits[lam] = hits_at(validate(model, val, ("+R+L",), device=run.device)["+R+L"]["per_query"])[None]
        rows.append({"lam_cyc": lam[0], "lam_tri": lam[1], "val_rank1": 100 * e["val_rank1"],
                     "val_mAP": 100 * e["val_mAP"], "kept_epoch": e["epoch"] + 1})
    chosen, vs = choose_cell(hits, (run.profile.ppcl.lam_cyc, run.profile.ppcl.lam_tri), ab.lambda_rule)
    df = pd.DataFrame(rows).assign(**{f"vs_recipe_{k}": [100 * vs[lam][v] for lam in hits]
                                      for k, v in (("rank1", "mean"), ("low", "low"), ("high", "high"))},
                                   basis=[vs[lam]["basis"] for lam in hits], chosen=[lam == chosen for lam in hits])
    run.memo["lambda_grid"] = ((float(chosen[0]), float(chosen[1])), df)
    return run.memo["lambda_grid"]


def chosen_lambdas(run, progress: bool = True) -> tuple[float, float]:
    """(λ_cyc, λ_tri) for every PPCL model of the run: the cell of :func:`lambda_grid` chosen on
    validation when ``ablation.choose_lambdas``, else the recipe's."""
    if run.profile.ablation.choose_lambdas:
        return lambda_grid(run, progress)[0]
    return run.profile.ppcl.lam_cyc, run.profile.ppcl.lam_tri


def _needs_lambdas(variant: str, domain: str, changes: dict) -> bool:
    """Whether the variant takes (λ_cyc, λ_tri) from Table 1c's choice (:func:`chosen_lambdas`)."""
    return not ({"lam_cyc", "lam_tri"} <= set(changes) or variant in ("holistic", "resize", "+R") or domain == "face")


def _variant_plan(run, variant: str, seed: int, domain: str, epochs: int | None, changes: dict,
                  progress: bool = True) -> dict:
    """What determines a variant's model (its recipe, loss, data, GLRec, code) and where the store
    keeps it: ``{"recipe", "section", "loss_cfg", "train", "epochs", "key", "label", "folder"}``."""
    _, recipe, section = recipes_for(run, domain)
    lambdas = chosen_lambdas(run, progress) if _needs_lambdas(variant, domain, changes) else None
    loss_cfg = variant_loss(recipe, variant, lambdas, **changes)
    train, _ = train_split(run, seed, domain)
    check_batch(f"{section}.p", recipe.p, len({r.pid for r in train}), "training identities (after the validation split)")
    epochs = recipe.epochs if epochs is None else epochs
    training = {f: getattr(recipe, f) for f in ("backbone", "crloc", "imagenet", "weights", "p", "k", "lr",
                                                 "weight_decay", "warmup_epochs", "erase", "workers", "n_val_ids",
                                                 "val_queries_per_id", "val_view_width", "validate_from")}
    training["epochs"] = epochs
    key = model_key(what=_name(domain, "ppcl"), training=training, loss=loss_cfg, seed=seed, glrec=glrec_key(run, seed, domain),
                    data=data_identity(run.root, train), code=code_version())
    label = variant if not changes else f"{variant}-" + "-".join(f"{k}{v}" for k, v in sorted(changes.items()))
    if epochs != recipe.epochs:
        label += f"-{epochs}ep"
    return {"recipe": recipe, "section": section, "loss_cfg": loss_cfg, "train": train, "epochs": epochs, "key": key,
            "label": _name(domain, label), "folder": run.models / f"{_name(domain, variant)}-s{seed}-{key}"}


def is_trained(run, variant: str, seed: int, *, domain: str = "reid", epochs: int | None = None, **changes) -> bool:
    """Whether the store holds ``variant``'s model for ``seed`` trained to the end of its schedule
    (:func:`train_variant` would only load it)."""
    plan = _variant_plan(run, variant, seed, domain, epochs, changes)
    ckpt = plan["folder"] / "train.pt"
    return ckpt.is_file() and int(read_checkpoint(ckpt).get("epoch", -1)) + 1 >= plan["epochs"]


def train_variant(run, variant: str, seed: int, progress: bool = True, *, domain: str = "reid",
                  epochs: int | None = None, **changes) -> tuple[PPCL, History]:
    """Variant ``variant`` of PPCL (see :data:`VARIANTS`), trained with ``seed`` (initialisation,
    validation split, sampling and crops) or loaded from the store; ``changes`` adjust its
    loss config (e.g. ``lam_cyc=1.0`` for a cell of Table 1c). ``domain="face"`` trains the face
    backbone on CASIA-style faces with the ``faces`` recipe (see the module docstring).
    ``epochs`` shortens the recipe's schedule (Table 1c's grid may be scored on a shorter one).
    Returned on the CPU, in eval mode, at its best validation epoch."""
    plan = _variant_plan(run, variant, seed, domain, epochs, changes, progress)
    recipe, loss_cfg, train, epochs, folder = plan["recipe"], plan["loss_cfg"], plan["train"], plan["epochs"], plan["folder"]
    glrec = glrec_for(run, seed, domain)
    set_seed(seed)
    backbone = {**to_dict(recipe.backbone), "num_classes": len({r.pid for r in train})}
    if domain == "face":
        backbone["model"] = "FaceBackbone"
    model = build_ppcl({}, backbone, to_dict(recipe.crloc), glrec_model=glrec)
    if recipe.imagenet:
        from ..models.resnet import load_imagenet_weights

        load_imagenet_weights(model.backbone.trunk, recipe.backbone.depth, recipe.weights)
    val = validation_for(run, seed, domain)
    method = "+R+L" if (loss_cfg.lam_cyc or loss_cfg.lam_tri) else ("+R" if loss_cfg.partial_input == "rectify" else "resize")
    best = folder / "best.pt"
    history = train_ppcl(model, train, epochs, folder / "train.pt", p=recipe.p, k=recipe.k, lr=recipe.lr,
                         weight_decay=recipe.weight_decay, warmup_epochs=min(recipe.warmup_epochs, epochs - 1), loss_cfg=loss_cfg,
                         seed=seed, erase=recipe.erase, num_workers=recipe.workers, device=run.device, progress=progress,
                         on_epoch_end=validation_callback(model, val, method, best, run.device,
                                                          first=int(recipe.validate_from * (epochs - 1))))
    if best.is_file():
        load_checkpoint(best, model)
    record_model(run, f"{plan['label']}-s{seed}", plan["key"], best if best.is_file() else folder / "train.pt",
            {"variant": variant, "seed": seed, "changes": changes, "selected_by": method,
             **({"domain": domain} if domain != "reid" else {})})
    return model.to("cpu").eval(), history


def _job_cost(job: dict) -> float:
    """A training's relative cost (step cost on the project's CPU x epochs): the longest go first."""
    step = {"glrec": 0.6, "holistic": 1.0, "resize": 2.0, "+R": 2.3, "triplet": 2.9, "cycle": 2.8, "ppcl": 3.0}
    return step.get(job["variant"], 3.0) * (job.get("epochs") or 100)


def _train_job(job: dict) -> None:
    """One training in a side-by-side worker process (its run writes to a scratch folder): a GLRec
    (``variant = "glrec"``) or :func:`train_variant`."""
    job = dict(job)
    run, variant, seed = job.pop("run"), job.pop("variant"), job.pop("seed")
    if variant == "glrec":
        train_glrec(run, seed, progress=False, domain=job.get("domain", "reid"))
    else:
        train_variant(run, variant, seed, progress=False, **job)


def _glrec_trained(run, seed: int, domain: str) -> bool:
    return (_glrec_folder(run, seed, domain)[1] / "glrec.pt").is_file()


def train_variants(run, jobs: Sequence[tuple[str, int] | dict], progress: bool = True,
                   **common) -> list[tuple[PPCL, History]]:
    """:func:`train_variant` for every ``(variant, seed)`` of ``jobs`` (or a dict of its arguments:
    ``{"variant", "seed", "epochs", ...changes}``; ``variant = "glrec"``: :func:`train_glrec`), with
    ``common`` arguments for all (e.g. ``domain="face"``): ``[(model, history)]`` in the order of ``jobs``.

    On a CPU with ``train_jobs`` > 1 what the store does not hold yet is first trained side by side
    (:func:`ppcl.pipeline.jobs.side_by_side`: ``train_jobs`` processes, the threads shared among them):
    each seed's GLRec first, then the variants on them; then every model is loaded in order. Each
    model is the one :func:`train_variant` trains on that many threads; ``train_jobs = 1`` trains
    them one at a time here."""
    specs = [{**common, **({"variant": j[0], "seed": j[1]} if isinstance(j, tuple) else j)} for j in jobs]
    n = run.profile.train_jobs
    if n > 1 and run.device.type == "cpu":
        if any(_needs_lambdas(s["variant"], s.get("domain", "reid"), s) for s in specs):
            chosen_lambdas(run, progress)  # Table 1c first: the variants below use its cell
        glrecs = sorted({(s["seed"], s.get("domain", "reid")) for s in specs})
        stages = ([{"variant": "glrec", "seed": seed, "domain": d} for seed, d in glrecs if not _glrec_trained(run, seed, d)],
                  [s for s in specs if s["variant"] != "glrec" and not is_trained(run, **s)])
        with tempfile.TemporaryDirectory(prefix="ppcl-jobs-") as scratch:
            memo = {k: v for k, v in run.memo.items() if k == "lambda_grid"}  # the chosen cell travels
            worker_run = replace(run, out=Path(scratch), _loaded={}, memo=memo)
            for todo in stages:
                if len(todo) > 1:
                    side_by_side(_train_job, [{"run": worker_run, **s} for s in todo], workers=min(n, len(todo)),
                                 threads=threads_per_job(n), cost=_job_cost, progress=progress,
                                 name=lambda j: " ".join(f"{k}={v}" for k, v in j.items() if k != "run"))
    out = []
    for s in specs:
        s = dict(s)
        variant, seed = s.pop("variant"), s.pop("seed")
        if variant == "glrec":
            out.append(train_glrec(run, seed, progress=progress, domain=s.get("domain", "reid")))
        else:
            out.append(train_variant(run, variant, seed, progress=progress, **s))
    return out


def notebook_jobs(profile, notebook: str) -> list[dict]:
    """The models notebook ``notebook`` ("02" ... "05") trains under ``profile``, in the order it asks
    for them (what :func:`train_variants` is given; the plan counts the same list): each a dict
    ``{"variant", "seed", "domain", "epochs"?, "lam_cyc"?, "lam_tri"?}``. Every seed trains its own
    GLRec first (``variant = "glrec"``). Notebook 03 trains what Tables 2 and 3 need, before any
    ablation: an interrupted run still has the main tables."""
    seeds, ab = profile.seeds, profile.ablation_seeds
    reid = lambda v, s, **k: {"variant": v, "seed": s, "domain": "reid", **k}  # noqa: E731
    if notebook == "02":
        return [reid("glrec", s) for s in seeds]
    if notebook == "03":
        return [reid(v, s) for s in seeds for v in ("holistic", "resize", "+R", "ppcl") if v != "holistic" or s in ab]
    if notebook == "04":
        grid = [reid("ppcl", profile.seed, epochs=profile.ablation.grid_epochs or None, lam_cyc=lc, lam_tri=lt)
                for lc in profile.ablation.lam_cyc for lt in profile.ablation.lam_tri]
        return grid + [reid(v, s) for s in ab for v in ("triplet", "cycle")]
    if notebook == "05":
        face = lambda v, s: {"variant": v, "seed": s, "domain": "face"}  # noqa: E731
        return [face("glrec", s) for s in profile.face_seeds] + [face(v, s) for s in profile.face_seeds
                                                                 for v in ("resize", "+R", "ppcl")]
    raise ValueError(f"notebook: expected one of ['02', '03', '04', '05'] (those that train); found {notebook!r}")


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
    from ..models import ppcl_from_checkpoint

    return ppcl_from_checkpoint(path)



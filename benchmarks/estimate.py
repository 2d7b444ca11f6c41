"""A profile's wall time per notebook, estimated: the work each notebook does under the profile
(counted from its values and the datasets' sizes) times unit costs measured on this device.

    python benchmarks/run.py --paper --estimate           # the full paper profile on this device
    python benchmarks/run.py --paper --estimate --reps 1 --estimate-batch 0.25   # on a CPU: a quarter of each batch, scaled

What is counted (per notebook, following what each one calls):

* training steps of every model it trains first (02: GLRec; 03: the λ grid of Table 1c when
  ``ablation.choose_lambdas``, then Resize, +R and PPCL on every seed, the grid's chosen cell
  being PPCL's first-seed model when the grid runs the full schedule; 04: PP-Triplet only and
  PP-Cycle only on every seed; 05: the face GLRec and the three face variants on every seed),
  PK batches per epoch counted from each identity's images where the data is at hand (a run's),
  else taken as training images / (P x K) (the published counts give no per-identity numbers);
* each model's validation (every epoch from ``validate_from``): its split's images encoded, and
  CRLoc over every (query, gallery) pair of it for the +R+L variants;
* the test evaluations: images encoded per network and method family, CRLoc and fixed-box pairs
  scored (every pair, or the top-K of the Market-style sets), as notebooks 02-06 run them.

What is not: kernel start-up, data loading and decoding, figures, the ranking itself and anything
the profile's sizes do not determine. The unit costs are measured on untrained networks of the
profile's architectures at its batch sizes (``--estimate-batch`` < 1 measures a fraction of
each training batch and scales the time up linearly). So this is an estimate, a lower bound in
spirit: read it as hours, not minutes.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import torch

from ppcl.config import to_dict


@dataclass(frozen=True)
class Sizes:
    """The datasets' sizes a profile's counts need."""

    market_train: int
    market_train_ids: int
    market_query: int
    market_gallery: int
    preid_query: int
    preid_gallery: int
    pilids_query: int
    pilids_gallery: int
    lfw_ids_2plus: int
    casia_images: int
    casia_ids: int
    market_per_id: tuple[int, ...] = ()  # images per training identity, where known (a run's data)
    casia_per_id: tuple[int, ...] = ()

    @classmethod
    def published(cls) -> "Sizes":
        """The real datasets' published counts (:data:`ppcl.data.readers.PUBLISHED_COUNTS`)."""
        from ppcl.data.readers import PUBLISHED_COUNTS as P

        m, pr, pi = P["market1501"], P["partial_reid"], P["partial_ilids"]
        return cls(m["train_images"], m["train_ids"], m["query_images"], m["gallery_images"], pr["query_images"],
                   pr["gallery_images"], pi["query_images"], pi["gallery_images"], P["lfw"]["ids_with_2_or_more"],
                   P["casia_webface"]["images"], P["casia_webface"]["ids"])


    @classmethod
    def of_run(cls, run) -> "Sizes":
        """The sizes of the datasets a run reads (e.g. the generated synthetic sets)."""
        d = run.data("market1501", "partial_reid", "partial_ilids", "lfw", "casia_webface")
        m, pr, pi = d["market1501"].counts(), d["partial_reid"].counts(), d["partial_ilids"].counts()
        lfw, casia = d["lfw"].counts(), d["casia_webface"].counts()

        def per_id(records) -> tuple[int, ...]:
            return tuple(sorted(Counter(r.pid for r in records).values()))

        return cls(m["train_images"], m["train_ids"], m["query_images"], m["gallery_images"], pr["query_images"],
                   pr["gallery_images"], pi["query_images"], pi["gallery_images"], lfw["ids_with_2_or_more"],
                   casia["images"], casia["ids"], per_id(d["market1501"].train), per_id(d["casia_webface"].records))


@dataclass
class Work:
    """What a notebook computes: training steps, images encoded and pairs scored, by kind."""

    steps: Counter = field(default_factory=Counter)  # "reid:ppcl", "reid:glrec", "face:resize", ...
    images: Counter = field(default_factory=Counter)  # "reid:plain", "reid:rectify", "reid:layout" (GLRec alone), "face:..."
    pairs: Counter = field(default_factory=Counter)  # "reid:crloc", "reid:fixed", "face:crloc", "face:fixed"

    def add(self, other: "Work", times: float = 1.0) -> "Work":
        for mine, theirs in ((self.steps, other.steps), (self.images, other.images), (self.pairs, other.pairs)):
            for k, v in theirs.items():
                mine[k] += v * times
        return self


STEP_KIND = {"resize": "resize", "+R": "+R", "triplet": "ppcl", "cycle": "ppcl", "ppcl": "ppcl"}  # triplet/cycle: at most PPCL's


def pk_batches(images: int, p: int, k: int, per_id: tuple[int, ...] = (), held_out: int = 0) -> int:
    """PK batches in an epoch of :class:`ppcl.data.samplers.PKSampler`. With the images of each
    identity (``per_id``) an identity gives ``max(1, n // k)`` groups of ``k``, ``held_out``
    identities (the validation split) removed in proportion; without, ``images / k`` groups (an
    upper bound).

    >>> pk_batches(12936, 16, 4), pk_batches(40, 2, 4, per_id=(3, 5, 8, 8, 16)), pk_batches(40, 2, 4, (3, 5, 8, 8, 16), 1)
    (202, 5, 4)
    """
    if per_id:
        groups = sum(max(1, n // k) for n in per_id) * (len(per_id) - held_out) / len(per_id)
        return max(1, int(groups // p))
    return max(1, images // (p * k))


def _variant_work(domain: str, variant: str, recipe, epochs: int, train_images: int, images_per_id: float,
                  per_id: tuple[int, ...] = ()) -> Work:
    """Training steps and per-epoch validation of one variant."""
    w = Work()
    n_train = train_images - round(recipe.n_val_ids * images_per_id)
    batches = pk_batches(n_train, recipe.p, recipe.k, per_id, recipe.n_val_ids)
    w.steps[f"{domain}:{STEP_KIND[variant]}"] += epochs * batches
    validated = epochs - int(recipe.validate_from * (epochs - 1))
    val_q = recipe.n_val_ids * min(recipe.val_queries_per_id, max(0, math.floor(images_per_id) - 1))
    val_g = round(recipe.n_val_ids * images_per_id) - val_q
    family = "plain" if variant == "resize" else "rectify"
    w.images[f"{domain}:{family}"] += validated * (val_q + val_g)
    if variant in ("triplet", "cycle", "ppcl"):
        w.pairs[f"{domain}:crloc"] += validated * val_q * val_g
    return w


def _partial_eval(variant: str, q: int, g: int, topk: int | None = None, fixed: bool = False, pad: bool = True) -> Work:
    """One model's methods on a partial set (both directions share one distance matrix): Resize
    (and Pad), or +R, with the fixed box when ``fixed`` and CRLoc for the PPCL-type variants."""
    w = Work()
    pairs = q * (min(topk, g) if topk else g)
    if variant == "resize":
        w.images["reid:plain"] += (2 if pad else 1) * (q + g)
    else:
        w.images["reid:rectify"] += q + g
        if fixed:
            w.pairs["reid:fixed"] += q * g
        if variant != "+R":
            w.pairs["reid:crloc"] += pairs
    return w


def notebook_work(profile, sizes: Sizes) -> dict[str, Work]:
    """The work of each numbered notebook under ``profile`` (see the module docstring)."""
    P, ab, S = profile.ppcl, profile.ablation, profile.seeds
    n = len(S)
    per_id = sizes.market_train / sizes.market_train_ids
    topk = ab.topk or None
    mq, mg = sizes.market_query, sizes.market_gallery
    nb = {k: Work() for k in ("01", "02", "03", "04", "05", "06")}
    # 02: GLRec, then its layouts on simulated crops of the gallery and on Partial-REID.
    nb["02"].steps["reid:glrec"] += profile.glrec.epochs * (sizes.market_train // profile.glrec.batch_size)
    nb["02"].images["reid:layout"] += mg + sizes.preid_query + sizes.preid_gallery
    # 03: the λ grid (Table 1c) on the first seed, the compared models on every seed, then the suite.
    grid_epochs = ab.grid_epochs or P.epochs
    cells = len(ab.lam_cyc) * len(ab.lam_tri) if ab.choose_lambdas else 0
    for _ in range(cells):
        nb["03"].add(_variant_work("reid", "ppcl", P, grid_epochs, sizes.market_train, per_id, sizes.market_per_id))
    shared = 1 if cells and grid_epochs == P.epochs else 0  # PPCL's first-seed model is a cell of the grid
    for v in ("resize", "+R", "ppcl"):
        nb["03"].add(_variant_work("reid", v, P, P.epochs, sizes.market_train, per_id, sizes.market_per_id), n - (shared if v == "ppcl" else 0))
    val = _variant_work("reid", "ppcl", P, 1, sizes.market_train, per_id, sizes.market_per_id)
    val.steps.clear()  # one pass over a validation split: its images and pairs
    nb["03"].add(val, n + 3)  # the fusion weight on every seed; pair distances of three models on the first
    for q, g in ((sizes.preid_query, sizes.preid_gallery), (sizes.pilids_query, sizes.pilids_gallery)):
        for v in ("resize", "+R", "ppcl"):
            nb["03"].add(_partial_eval(v, q, g, P.topk or None, fixed=v != "resize"), n)
    # 04: the single-constraint variants; Table 1a, Figure 5, Table 1b, the holistic check, the timing.
    for v in ("triplet", "cycle"):
        nb["04"].add(_variant_work("reid", v, P, P.epochs, sizes.market_train, per_id, sizes.market_per_id), n)
    pq, pg = sizes.preid_query, sizes.preid_gallery
    for v in ("resize", "+R", "triplet", "cycle", "ppcl"):
        nb["04"].add(_partial_eval(v, pq, pg, fixed=v == "+R"), n)
    r = len(ab.ratios)
    for family, crloc in (("plain", False), ("rectify", True), ("rectify", True), ("rectify", True)):  # Figure 5's 4 methods
        nb["04"].images[f"reid:{family}"] += n * (mg + r * mq)
        nb["04"].pairs["reid:crloc"] += n * r * mq * (min(topk, mg) if topk else mg) * crloc
    gr = len(ab.grid_ratios)
    nb["04"].images["reid:rectify"] += n * (gr * mg + gr * gr * mq + mg)  # Table 1b and the gate on holistic images
    nb["04"].pairs["reid:crloc"] += n * gr * gr * mq * (min(topk, mg) if topk else mg)
    nb["04"].images["reid:plain"] += n * (mq + mg)  # holistic check: Resize, then PPCL
    nb["04"].images["reid:rectify"] += n * (mq + mg)
    nb["04"].pairs["reid:crloc"] += n * mq * (min(topk, mg) if topk else mg)
    for v, k in (("resize", None), ("+R", None), ("ppcl", None), ("ppcl", ab.topk)):  # the timing: 3 repeats
        nb["04"].add(_partial_eval(v, pq, pg, k, pad=False), 3)
    nb["04"].add(_partial_eval("ppcl", pq, pg)).add(_partial_eval("+R", pq, pg))  # Figures 6 and 7
    # 05: faces. GLRec, the three variants per seed, Partial-LFW.
    F = profile.faces
    lfw = F.partial_lfw.n_ids or sizes.lfw_ids_2plus
    nb["05"].steps["face:glrec"] += F.glrec.epochs * (sizes.casia_images // F.glrec.batch_size)
    nb["05"].images["face:layout"] += 2 * lfw
    face_per_id = sizes.casia_images / sizes.casia_ids
    for v in ("resize", "+R", "ppcl"):
        nb["05"].add(_variant_work("face", v, F, F.epochs, sizes.casia_images, face_per_id, sizes.casia_per_id), n)
    nb["05"].images["face:plain"] += n * 2 * lfw
    nb["05"].images["face:rectify"] += n * 2 * 2 * lfw  # +R model and PPCL model
    nb["05"].pairs["face:crloc"] += n * lfw * lfw
    # 06: the viewer on Partial-REID (PPCL and +R).
    nb["06"].add(_partial_eval("ppcl", pq, pg)).add(_partial_eval("+R", pq, pg))
    return nb


def estimate(work: dict[str, Work], costs: dict[str, float]) -> dict[str, dict[str, float]]:
    """Seconds per notebook: ``{nb: {"train", "evaluate", "total"}}`` from unit ``costs`` (seconds
    per step / image / pair of each kind); a kind with no measured cost raises naming it."""
    out = {}
    for name, w in work.items():
        missing = sorted(k for k in (*w.steps, *w.images, *w.pairs) if k not in costs)
        if missing:
            raise ValueError(f"costs: expected a measured cost for {missing}; found {sorted(costs)}")
        train = sum(costs[k] * v for k, v in w.steps.items())
        evaluate = sum(costs[k] * v for k, v in (*w.images.items(), *w.pairs.items()))
        out[name] = {"train": train, "evaluate": evaluate, "total": train + evaluate}
    return out


# ---- unit costs, measured ---------------------------------------------------------------------
def _models(profile):
    """The profile's PPCL networks (untrained) for re-ID and faces, and their GLRecs."""
    from ppcl.models import GLRec, build_ppcl

    torch.manual_seed(0)
    reid = build_ppcl(to_dict(profile.glrec.model), {**to_dict(profile.ppcl.backbone), "num_classes": 751},
                      to_dict(profile.ppcl.crloc))
    face = build_ppcl({}, {**to_dict(profile.faces.backbone), "num_classes": 1000, "model": "FaceBackbone"},
                      to_dict(profile.faces.crloc), glrec_model=GLRec(profile.faces.glrec.model))
    return {"reid": reid, "face": face}


def measure_costs(profile, device, timed, reps: int = 1, batch: float = 1.0, n_images: int = 32,
                  n_pairs: tuple[int, int] = (16, 32)) -> dict[str, float]:
    """Seconds per training step (``<domain>:<resize|+R|ppcl|glrec>``), per image encoded
    (``<domain>:<plain|rectify|layout>``, layout: GLRec alone) and per pair scored (``<domain>:<crloc|fixed>``), each
    with ``timed`` (the benchmark's: one warm-up, then at least ``reps`` runs, the minimum). A
    ``batch`` below 1 measures that fraction of each training batch (P scaled, K kept) and scales
    the time back up."""
    from ppcl.algorithm import PPCLObjective
    from ppcl.evaluate.engine import distance_matrix, encode
    from ppcl.pretrain import glrec_step
    from ppcl.train import StepContext, adam, amp_dtype

    if not 0 < batch <= 1:
        raise ValueError(f"batch: expected a fraction in (0, 1]; found {batch}")
    dtype = amp_dtype(device)
    costs: dict[str, float] = {}
    for domain, model in _models(profile).items():
        recipe, glrec_recipe = (profile.ppcl, profile.glrec) if domain == "reid" else (profile.faces, profile.faces.glrec)
        model = model.to(device).to(memory_format=torch.channels_last)
        p = max(2, round(recipe.p * batch))
        scale = recipe.p * recipe.k / (p * recipe.k)
        g = torch.Generator().manual_seed(0)
        x = torch.randn(p * recipe.k, 3, *model.input_size, generator=g).to(device)
        y = torch.arange(p).repeat_interleave(recipe.k).to(device)
        for kind, changes in (("resize", {"lam_cyc": 0.0, "lam_tri": 0.0, "partial_input": "resize"}),
                              ("+R", {"lam_cyc": 0.0, "lam_tri": 0.0, "partial_input": "rectify"}), ("ppcl", {})):
            model.train()
            for prm in model.glrec.parameters():
                prm.requires_grad_(False)
            obj = PPCLObjective(model, recipe.loss(**changes)).to(device)
            opt = adam([q for q in model.parameters() if q.requires_grad], 1e-4)

            def step():
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    loss = obj(x, y, torch.Generator().manual_seed(0))["loss"]
                opt.zero_grad()
                loss.backward()
                opt.step()

            costs[f"{domain}:{kind}"] = timed(step, device, min_reps=reps, max_reps=reps)["min"] * scale
        glrec = model.glrec.train()
        for prm in glrec.parameters():
            prm.requires_grad_(True)
        gb = max(2, round(glrec_recipe.batch_size * batch))
        xg = torch.randn(gb, 3, *glrec.cfg.input_size, generator=g).to(device)
        gstep, gopt = glrec_step(glrec), adam(glrec.parameters(), 1e-4)

        def glrec_train():
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                loss = gstep((xg,), StepContext(0, 0, device, torch.Generator().manual_seed(0)))["loss"]
            gopt.zero_grad()
            loss.backward()
            gopt.step()

        costs[f"{domain}:glrec"] = timed(glrec_train, device, min_reps=reps, max_reps=reps)["min"] * glrec_recipe.batch_size / gb
        model.eval()
        glrec.eval()
        imgs = torch.randn(n_images, 3, *model.input_size, generator=g)
        with torch.no_grad():
            for family, method in (("plain", "resize"), ("rectify", "+R")):
                costs[f"{domain}:{family}"] = timed(lambda: encode(model, imgs, method, device=device), device,
                                                    min_reps=reps, max_reps=reps)["min"] / n_images
            small = imgs.to(device)
            costs[f"{domain}:layout"] = timed(lambda: glrec.rectify(small, out_size=model.input_size), device,
                                                   min_reps=reps, max_reps=reps)["min"] / n_images
            nq, ng = n_pairs
            q, gal = encode(model, imgs[:nq], "+R", device=device), encode(model, imgs[:ng].flip(0), "+R", device=device)
            for kind, method in (("crloc", "+R+L"), ("fixed", "+R+box")):
                costs[f"{domain}:{kind}"] = timed(lambda: distance_matrix(model, q, gal, method, device=device), device,
                                                  min_reps=reps, max_reps=reps)["min"] / (nq * ng)
        model.to("cpu")
    return costs


def hms(seconds: float) -> str:
    """``seconds`` as h:mm:ss, or whole hours from 100 hours on.

    >>> hms(3725.4), hms(59.6), hms(50_225_188.0)
    ('1:02:05', '0:01:00', '13,951 h')
    """
    s = round(seconds)
    if s >= 100 * 3600:
        return f"{s // 3600:,} h"
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def report(profile_name: str, est: dict[str, dict[str, float]], device_name: str) -> str:
    """The estimate as a Markdown table (h:mm:ss), labelled as an estimate for ``device_name``."""
    total = sum(v["total"] for v in est.values())
    lines = [f"Estimated wall time of the whole {profile_name!r} profile on {device_name} (an estimate: measured unit "
             "costs x the profile's counts; start-up, data loading and figures not counted):", "",
             "| notebook | training | evaluation | total | share |", "|---|---|---|---|---|"]
    for nb, v in est.items():
        share = 100 * v["total"] / total if total else 0.0
        lines.append(f"| {nb} | {hms(v['train'])} | {hms(v['evaluate'])} | {hms(v['total'])} | {share:.0f} % |")
    lines.append(f"| **all** | | | **{hms(total)}** ({total / 86400:.1f} days) | |")
    return "\n".join(lines)

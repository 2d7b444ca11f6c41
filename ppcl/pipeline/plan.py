"""The plan of a run, before anything trains: every data-dependent bound checked, and the bill.

    python -m ppcl.pipeline.reproduce --profile paper --data-root DATA --plan [--gpu H100]

**The bounds** (:func:`check_bounds`; ``reproduce`` runs them before its first notebook, so a value
the data cannot satisfy stops the run in seconds instead of hours in): GLRec's batch against the
training images, each seed's validation split (held-out identities, at least one with a query),
PK sampling's identities after it, Partial-LFW's identities against LFW's people with two or more
images, a Partial-LFW protocol file in the data root against the profile, and the disk the run will
write. Every violation is listed, each naming the setting and a ``--set`` that works.

**The bill** (:func:`bill`): every model each notebook trains (:func:`ppcl.pipeline.training.notebook_jobs`:
variant, seeds, epochs, steps), each notebook's device time on a named GPU, the peak host and
device memory, and the disk. Device time is an **estimate**: the FLOPs of each training step,
validation pass and evaluation, counted on the profile's real networks (``torch.utils.flop_counter``
on the ``meta`` device: no data, no weights, seconds), divided by an effective rate
(:data:`GPUS`). The rates are not the GPUs' peaks: the re-ID step's rate is the one the kit's
benchmark measured for the plain ResNet-50 step (16 x 4 at 256x128, bf16) on an H200, which has
the H100's bf16 peak; evaluation's is the rate measured for encoding there. A device check on the
GPU (``make gpu-check``) measures the real steps; its numbers replace these.
"""
from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..config import to_dict
from ..data.common import Record
from ..data.splits import split_train_val
from .profiles import Profile, set_example
from .training import VARIANTS, notebook_jobs

# Effective rates, TFLOP/s: (training steps, evaluation). Measured on an H200 by the kit's benchmark
# (benchmarks/README.md): the plain re-ID step 1,547 GFLOP in 29 ms (53 TFLOP/s), encoding 600 images
# at 4,864 GFLOP in 0.57 s (8.6 TFLOP/s, fp32 then). Other GPUs scaled by their dense bf16 peak.
GPUS: dict[str, dict] = {
    "H100": {"train": 53.0, "eval": 8.6, "memory_gib": 80, "basis": "the H200's measured rates (the same bf16 peak)"},
    "H200": {"train": 53.0, "eval": 8.6, "memory_gib": 141, "basis": "measured by the kit's benchmark"},
    "A100": {"train": 53.0 * 312 / 989, "eval": 8.6 * 312 / 989, "memory_gib": 80,
             "basis": "the H200's measured rates x 312 / 989 (dense bf16 peaks)"},
}
CHECKPOINT_COPIES = 4  # the store keeps weights + Adam's two moments (train.pt) and the selected weights (best.pt)


@dataclass
class DataSummary:
    """What the bounds and the bill need of the data: the training records and the test sets' sizes."""

    reid_train: list[Record] = field(default_factory=list)
    face_train: list[Record] = field(default_factory=list)
    lfw_eligible: int = 0  # LFW people with two or more images
    test_sets: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (partial / query, holistic / gallery)
    encoded_bytes: dict[str, int] = field(default_factory=dict)  # training files' bytes on disk
    source: str = "data"  # "data" (read from the data root) or "published counts"


def summarize(root: str | Path, verdict_sets: Sequence[str] = ()) -> DataSummary:
    """Read the datasets under ``root`` through the kit's readers (file lists only, no decoding)."""
    from ..data.sources import load_datasets

    names = ("market1501", "partial_reid", "partial_ilids", "lfw", "casia_webface", *verdict_sets)
    data = load_datasets(root, dict.fromkeys(names))
    m, c, lfw = data["market1501"], data["casia_webface"], data["lfw"]
    sizes = {n: (len(d.query), len(d.gallery)) for n, d in data.items() if n in ("market1501", "partial_reid", "partial_ilids",
                                                                                 *verdict_sets)}

    def on_disk(records) -> int:
        return sum(Path(r.path).stat().st_size for r in records)

    return DataSummary(list(m.train), list(c.records), int(lfw.counts()["ids_with_2_or_more"]), sizes,
                       {"market1501": on_disk(m.train), "casia_webface": on_disk(c.records)})


def published_summary() -> DataSummary:
    """The real datasets at their published counts (no data needed), each identity given the mean
    number of images: for a bill before the downloads."""
    from ..data.readers import PUBLISHED_COUNTS as P

    def even(images: int, ids: int) -> list[Record]:
        return [Record(f"{i}", i % ids, None) for i in range(images)]

    m, c = P["market1501"], P["casia_webface"]
    return DataSummary(even(m["train_images"], m["train_ids"]), even(c["images"], c["ids"]), P["lfw"]["ids_with_2_or_more"],
                       {"market1501": (m["query_images"], m["gallery_images"]),
                        "partial_reid": (P["partial_reid"]["query_images"], P["partial_reid"]["gallery_images"]),
                        "partial_ilids": (P["partial_ilids"]["query_images"], P["partial_ilids"]["gallery_images"])},
                       {"market1501": m["train_images"] * 5_000, "casia_webface": c["images"] * 9_000},
                       "published counts")


# ---- the bounds --------------------------------------------------------------------------------
def _fix(key: str, value, why: str, example) -> str:
    return f"{key} = {value}: {why} (e.g. {set_example(key, example)})"


def check_bounds(profile: Profile, data: DataSummary, writes: dict[Path, int] | None = None) -> list[str]:
    """Every data-dependent bound of ``profile`` on ``data``: a list of problems, each naming the
    setting and a ``--set`` that works (empty: the run can start). ``writes`` maps folders to the
    bytes the run will write there (checked against their file systems' free space)."""
    problems = []
    for key, recipe, records in (("glrec", profile.glrec, data.reid_train), ("faces.glrec", profile.faces.glrec, data.face_train)):
        if recipe.batch_size > len(records):
            problems.append(_fix(f"{key}.batch_size", recipe.batch_size, f"the data holds only {len(records)} training images",
                                 max(1, len(records))))
    for section, recipe, records, seeds in (("ppcl", profile.ppcl, data.reid_train, profile.seeds),
                                            ("faces", profile.faces, data.face_train, profile.face_seeds)):
        problems += _split_bounds(section, recipe, records, seeds)
    n_ids = profile.faces.partial_lfw.n_ids
    if n_ids > data.lfw_eligible:
        problems.append(_fix("faces.partial_lfw.n_ids", n_ids, f"LFW holds only {data.lfw_eligible} people with two or more "
                             "images (a Partial-LFW identity needs a partial query and a gallery image)", data.lfw_eligible))
    for folder, need in (writes or {}).items():
        free = _free_bytes(folder)
        if need > free:
            problems.append(f"{folder}: expected {need / 2**30:.1f} GiB free for the run's models and outputs; found "
                            f"{free / 2**30:.1f} GiB (free space, or point --out / --cache-dir elsewhere)")
    return problems


def _split_bounds(section: str, recipe, records: list[Record], seeds: Sequence[int]) -> list[str]:
    """Each seed's validation split and PK sampling on what is left."""
    per_id: dict[int, int] = {}
    for r in records:
        per_id[r.pid] = per_id.get(r.pid, 0) + 1
    n_ids = len(per_id)
    if recipe.n_val_ids >= n_ids:
        return [_fix(f"{section}.n_val_ids", recipe.n_val_ids, f"the training set holds only {n_ids} identities",
                     max(1, n_ids // 10))]
    if recipe.p > n_ids - recipe.n_val_ids:
        return [_fix(f"{section}.p", recipe.p, f"only {n_ids - recipe.n_val_ids} training identities are left after the "
                     f"{recipe.n_val_ids} held out for validation", max(1, n_ids - recipe.n_val_ids))]
    for seed in seeds:
        _, val = split_train_val(records, recipe.n_val_ids, seed=seed)
        held = {r.pid for r in val}
        if not any(per_id[p] >= 2 for p in held):
            more = min(n_ids - 1, max(2 * recipe.n_val_ids, recipe.n_val_ids + 10))
            return [_fix(f"{section}.n_val_ids", recipe.n_val_ids, f"none of the identities held out for validation with "
                         f"seed {seed} has two or more images, so validation has no query", more)]
    return []


def _free_bytes(folder: Path) -> int:
    folder = Path(folder)
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def preflight(profile: Profile, root: Path, out: Path, cache: Path, verdict_sets: Sequence[str] = ()) -> tuple[DataSummary, list[str]]:
    """The data under ``root`` summarised and every bound checked, with the disk the run will write
    (the bill's store and run folder) against the free space where they go."""
    data = summarize(root, verdict_sets)
    need = disk_need(profile, data)
    writes = {Path(cache): need["store"], Path(out): need["run"]} if Path(cache).resolve() != Path(out).resolve() else \
        {Path(out): need["store"] + need["run"]}
    return data, check_bounds(profile, data, writes) + protocol_file_problems(profile, Path(root))


def protocol_file_problems(profile: Profile, root: Path) -> list[str]:
    """A Partial-LFW protocol file in the data root (``data_prep/partial_lfw.py``) that notebook 05
    would refuse (built with other settings, or naming images this LFW lacks): refused now."""
    from ..data.common import DatasetError
    from ..data.partial_lfw import PROTOCOL_FILE
    from ..data.sources import load_datasets
    from .experiments.faces import protocol_from_file

    path = root / PROTOCOL_FILE
    if not path.is_file():
        return []
    cfg = profile.faces.partial_lfw
    try:
        protocol_from_file(path, load_datasets(root, ("lfw",))["lfw"], cfg, profile.seed + cfg.seed_offset, root)
    except (DatasetError, ValueError) as e:
        return [str(e)]
    return []


def disk_need(profile: Profile, data: DataSummary) -> dict[str, int]:
    """Bytes the run writes: ``{"store", "run"}`` (the model store's checkpoints; the run folder),
    from the networks' parameter counts (built on the meta device: no FLOPs counted, a second)."""
    costs = {d: Costs({}, 0.0, 0.0, *_sizes(profile, d)[:1], 0.0, _sizes(profile, d)[1]) for d in ("reid", "face")}
    models = [{"model": f"{'face-' if j['domain'] == 'face' else ''}{j['variant']}"} for nb in ("02", "03", "04", "05")
              for j in notebook_jobs(profile, nb)]
    d = disk(models, costs, data)
    return {"store": int(d["store_gib"] * 2**30), "run": int(d["run_gib"] * 2**30)}


def _sizes(profile: Profile, domain: str) -> tuple[dict[str, int], float]:
    """``({"model", "glrec"}: parameters, one feature map's fp32 bytes)`` of ``domain``'s networks."""
    from ..models import build_ppcl

    face = domain == "face"
    recipe, g = (profile.faces, profile.faces.glrec) if face else (profile.ppcl, profile.glrec)
    backbone = {**to_dict(recipe.backbone), "num_classes": 100, **({"model": "FaceBackbone"} if face else {})}
    with torch.device("meta"):
        model = build_ppcl(to_dict(g.model), backbone, to_dict(recipe.crloc))
        maps = model.backbone(torch.empty(1, 3, *recipe.backbone.input_size))
    return ({"model": sum(p.numel() for p in model.parameters()), "glrec": sum(p.numel() for p in model.glrec.parameters())},
            maps.numel() * 4)


# ---- the bill ----------------------------------------------------------------------------------
@dataclass
class Costs:
    """FLOPs of one training step of each kind, one image encoded, one pair scored; parameters; the
    activations a step keeps for its backward pass (fp32 bytes)."""

    step_gflop: dict[str, float]
    encode_gflop: float
    pair_gflop: float
    params: dict[str, int]
    activation_bytes: float
    map_bytes: float  # one image's feature map, fp32


def count_costs(profile: Profile, domain: str = "reid") -> Costs:
    """:class:`Costs` of ``profile``'s networks of ``domain``, counted on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    from ..algorithm import PPCLObjective
    from ..models import build_ppcl
    from ..models.glrec import GLRec
    from ..pretrain import glrec_step
    from ..train import StepContext

    face = domain == "face"
    recipe, g = (profile.faces, profile.faces.glrec) if face else (profile.ppcl, profile.glrec)
    backbone = {**to_dict(recipe.backbone), "num_classes": 100, **({"model": "FaceBackbone"} if face else {})}
    meta = torch.device("meta")
    with torch.device(meta):
        model = build_ppcl(to_dict(g.model), backbone, to_dict(recipe.crloc))
        glrec = GLRec(g.model)
    b = recipe.p * recipe.k
    x = torch.empty(b, 3, *recipe.backbone.input_size, device=meta)
    pids = torch.arange(recipe.p).repeat_interleave(recipe.k).to(meta)
    gen = torch.Generator().manual_seed(0)
    steps, saved = {}, [0.0]

    def pack(t):
        saved[0] = max(saved[0], 0.0) + t.numel() * t.element_size()
        return t

    for variant, changes in VARIANTS.items():
        objective = PPCLObjective(model, recipe.loss(**changes)).to(meta)
        saved[0] = 0.0
        with FlopCounterMode(display=False) as fc, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            objective(x, pids, gen)["loss"].backward()
        steps[variant] = fc.get_total_flops() / 1e9
        if variant == "ppcl":
            activations = saved[0]
    xg = torch.empty(g.batch_size, 3, *g.model.input_size, device=meta)
    with FlopCounterMode(display=False) as fc:
        glrec_step(glrec)((xg,), StepContext(0, 0, meta, gen))["loss"].backward()
    steps["glrec"] = fc.get_total_flops() / 1e9
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        maps = model.backbone(model.glrec.rectify(x, out_size=model.input_size)["x_r"])
    encode = fc.get_total_flops() / 1e9 / b
    patch = model.crloc.cut(maps, torch.ones(b, 4, device=meta))
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model.crloc(patch, maps)
    pair = fc.get_total_flops() / 1e9 / b
    params = {"model": sum(p.numel() for p in model.parameters()), "glrec": sum(p.numel() for p in glrec.parameters())}
    return Costs(steps, encode, pair, params, activations, maps[0].numel() * 4)


def steps_per_epoch(records: list[Record], p: int, k: int, seed: int = 0) -> int:
    """PK batches of one epoch (:class:`ppcl.data.samplers.PKSampler`'s rule, counted without drawing)."""
    per_id: dict[int, int] = {}
    for r in records:
        per_id[r.pid] = per_id.get(r.pid, 0) + 1
    groups = sorted((max(1, n // k) for n in per_id.values()), reverse=True)
    # batches of p distinct identities while p identities have groups left: at most sum / p, and no
    # more than the groups of all but the p - 1 largest pools allow
    total = sum(groups)
    return int(min(total // p, sum(groups[p - 1:]))) if len(groups) >= p else 0


def _evaluation(profile: Profile, data: DataSummary, notebook: str) -> tuple[float, float]:
    """(images encoded, pairs scored) by ``notebook``'s evaluations (the counts are the kit's
    experiments' loops: each seed's models on each partial set, both directions from one matrix)."""
    sets = {n: s for n, s in data.test_sets.items() if n != "market1501"}
    seeds, ab = len(profile.seeds), len(profile.ablation_seeds)
    if notebook == "03":  # Pad, Resize, +R on three models; +R+L, the fixed boxes and +R+L+G pairs; the ruler
        enc = sum((q + g) * 6 for q, g in sets.values()) * seeds
        pairs = sum(q * g * 4 for q, g in sets.values()) * seeds
        return enc, pairs
    if notebook == "04":  # Figure 5 and Table 1b on the Market-style test split, top-K re-ranking; the λ grid's validation
        q, g = data.test_sets.get("market1501", (0, 0))
        ratios, grid = len(profile.ablation.ratios), len(profile.ablation.grid_ratios)
        enc = ab * (4 * (q * ratios + g) + q * grid + g * grid + 2 * (q + g))
        pairs = ab * q * profile.ablation.topk * (4 * ratios + grid * grid + 1)
        return enc, pairs
    if notebook == "05":
        n = profile.faces.partial_lfw.n_ids or data.lfw_eligible
        return 3 * 2 * n * len(profile.face_seeds), n * n * len(profile.face_seeds)
    return 0.0, 0.0


def bill(profile: Profile, data: DataSummary, gpu: str = "H100") -> dict:
    """The plan's numbers: ``{"models": [...], "notebooks": {nb: {...}}, "memory": {...}, "disk": {...}}``
    (see the module docstring; device hours are estimates)."""
    if gpu not in GPUS:
        raise ValueError(f"gpu: expected one of {list(GPUS)}; found {gpu!r}")
    rate = GPUS[gpu]
    costs = {d: count_costs(profile, d) for d in ("reid", "face")}
    models, notebooks = [], {}
    for nb in ("02", "03", "04", "05"):
        seconds, steps_nb = 0.0, 0
        for job in notebook_jobs(profile, nb):
            d, v = job["domain"], job["variant"]
            c = costs[d]
            recipe = profile.faces if d == "face" else profile.ppcl
            records = data.face_train if d == "face" else data.reid_train
            if v == "glrec":
                g = profile.faces.glrec if d == "face" else profile.glrec
                epochs, per = g.epochs, len(records) // g.batch_size
                val = 0.0
            else:
                epochs = job.get("epochs") or recipe.epochs
                per = steps_per_epoch(records, recipe.p, recipe.k, job["seed"])
                n_val = recipe.n_val_ids * max(1, len(records) // max(1, len({r.pid for r in records})))
                validated = epochs - int(recipe.validate_from * (epochs - 1))
                val = validated * (n_val * c.encode_gflop / rate["eval"] + (recipe.n_val_ids * recipe.val_queries_per_id) * n_val
                                   * c.pair_gflop / rate["eval"]) / 1e3
            s = epochs * per * c.step_gflop[v] / rate["train"] / 1e3 + val
            models.append({"notebook": nb, "model": f"{'face-' if d == 'face' else ''}{v}", "seed": job["seed"],
                           "epochs": epochs, "steps": epochs * per, **({"lam": (job["lam_cyc"], job["lam_tri"])} if "lam_cyc" in job else {}),
                           "hours": s / 3600})
            seconds += s
            steps_nb += epochs * per
        enc, pairs = _evaluation(profile, data, nb)
        c = costs["face" if nb == "05" else "reid"]
        seconds += (enc * c.encode_gflop + pairs * c.pair_gflop) / rate["eval"] / 1e3
        notebooks[nb] = {"models": len(notebook_jobs(profile, nb)), "steps": steps_nb, "hours": seconds / 3600}
    return {"gpu": gpu, "basis": rate["basis"], "models": models, "notebooks": notebooks,
            "memory": memory(profile, data, costs), "disk": disk(models, costs, data)}


def memory(profile: Profile, data: DataSummary, costs: dict[str, Costs]) -> dict:
    """Peak device memory of a training step (weights, gradients and Adam's moments in fp32, the
    activations the backward keeps: fp32 counted, an upper bound under bf16) and host memory of the
    training stores (decoded uint8 at the input size, or the files' bytes when that is too large) and
    of the largest evaluation (Market-1501's gallery maps)."""
    import psutil

    out = {}
    for d, c in costs.items():
        out[f"device_gib_{d}"] = (16 * (c.params["model"]) + c.activation_bytes) / 2**30
    h, w = profile.ppcl.backbone.input_size
    fh, fw = profile.faces.backbone.input_size
    decoded = {"market1501": len(data.reid_train) * 3 * h * w, "casia_webface": len(data.face_train) * 3 * fh * fw}
    avail = psutil.virtual_memory().total
    stores = {n: (b if b <= 0.5 * avail else data.encoded_bytes.get(n, b)) for n, b in decoded.items()}
    out["host_gib_stores"] = {n: b / 2**30 for n, b in stores.items()}
    out["host_store_kind"] = {n: "decoded" if decoded[n] <= 0.5 * avail else "encoded (the files' bytes)" for n in decoded}
    q, g = data.test_sets.get("market1501", (0, 0))
    maps = (q + g) * costs["reid"].map_bytes  # notebook 04 encodes Market-1501's query and gallery at once
    out["host_gib_evaluation"] = maps / 2**30
    return out


def disk(models: list[dict], costs: dict[str, Costs], data: DataSummary) -> dict:
    """The model store's bytes (every model's checkpoints) and the run folder's (figures, tables, caches)."""
    total = 0
    for m in models:
        c = costs["face" if m["model"].startswith("face-") else "reid"]
        n = c.params["glrec"] if m["model"].endswith("glrec") else c.params["model"]
        total += CHECKPOINT_COPIES * 4 * n
    c = costs["reid"]
    viewer = sum(q + g for n, (q, g) in data.test_sets.items() if n in ("partial_reid", "partial_ilids")) * 2 * c.map_bytes
    run = 200 * 2**20 + viewer  # notebooks, figures and tables; the viewer's cached maps (two models of one seed)
    return {"store_gib": total / 2**30, "run_gib": run / 2**30}


def format_plan(profile_name: str, b: dict, data: DataSummary, problems: Sequence[str]) -> str:
    """The plan as Markdown: the bounds' verdict, the notebooks' device hours, memory, disk, the models."""
    lines = [f"# Plan: profile `{profile_name}` ({data.source}), on one {b['gpu']}", ""]
    lines += (["**Bounds: the data cannot satisfy the profile:**", *[f"- {p}" for p in problems], ""] if problems
              else ["Bounds: every data-dependent bound holds.", ""])
    lines += [f"Device hours are an **estimate** (FLOPs counted on the networks / {b['basis']}).", "",
              "| notebook | models | training steps | device hours |", "|---|---|---|---|"]
    for nb, r in b["notebooks"].items():
        lines.append(f"| {nb} | {r['models']} | {r['steps']:,} | {r['hours']:.1f} |")
    total = sum(r["hours"] for r in b["notebooks"].values())
    lines += [f"| all | {sum(r['models'] for r in b['notebooks'].values())} | "
              f"{sum(r['steps'] for r in b['notebooks'].values()):,} | **{total:.1f}** |", ""]
    m, dk = b["memory"], b["disk"]
    lines += [f"Peak device memory of a training step: re-ID {m['device_gib_reid']:.1f} GiB, faces {m['device_gib_face']:.1f} GiB "
              "(fp32 activations counted: an upper bound under bf16).",
              "Host memory: " + ", ".join(f"{n} {v:.1f} GiB ({m['host_store_kind'][n]})" for n, v in m["host_gib_stores"].items())
              + f"; the largest evaluation (Market-1501's maps) {m['host_gib_evaluation']:.1f} GiB.",
              f"Disk: the model store {dk['store_gib']:.1f} GiB, the run folder {dk['run_gib']:.1f} GiB.", ""]
    by = {}
    for r in b["models"]:
        key = (r["notebook"], r["model"], r["epochs"], r.get("lam"))
        by.setdefault(key, []).append(r)
    lines += ["| notebook | model | seeds | epochs | steps each | device hours |", "|---|---|---|---|---|---|"]
    for (nb, model, epochs, lam), rs in by.items():
        name = model + (f" (λ {lam[0]:g}, {lam[1]:g})" if lam else "")
        seeds = ",".join(str(r["seed"]) for r in rs) if len(rs) <= 3 else f"{len(rs)} seeds"
        lines.append(f"| {nb} | {name} | {seeds} | {epochs} | {rs[0]['steps']:,} | {sum(r['hours'] for r in rs):.2f} |")
    return "\n".join(lines) + "\n"


__all__ = ["GPUS", "DataSummary", "bill", "check_bounds", "count_costs", "format_plan", "published_summary", "summarize"]

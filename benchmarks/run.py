"""PPCL's costs against the Resize baseline, measured like for like in one run on one machine.

    python benchmarks/run.py                      # the synthetic profile's networks (a few minutes on 2 CPU cores)
    python benchmarks/run.py --paper              # the paper profile's networks (ResNet-50 at 256x128); a GPU, or minutes on a CPU
    python benchmarks/run.py --run runs/synthetic # + rank-1 of full vs top-K with that run's trained PPCL on its Partial-REID set,
                                                  #   and the main job's wall time per notebook (its run.json)

(a) evaluation of a Partial-REID-sized problem (300 partial x 300 holistic images): Resize, +R,
    +R+L over every pair and +R+L re-ranking the top-K of +R. Every method times the same stages
    (prepare nothing, encode both sides, distances) on the same network, each case warms its own
    shapes first, and each is repeated until the spread is small: min and median are printed.
(s) the +R+L pass split into stages (encoding, correlation, locator convolutions, the cut and
    pooling, the descriptors) with each stage's FLOPs (torch's FlopCounterMode) and achieved
    FLOP/s, so the distance to the FLOP floor is visible.
(b) +R+L top-K as the gallery grows: its time must grow linearly with the gallery.
(c) one PPCL training step (Algorithm 1) against one plain re-ID step on the same batch, with
    the Resize and +R steps between them (where the ratio goes), each with its FLOPs (the ratio
    of FLOPs is the floor no implementation of these networks beats at equal FLOP/s).
(p) a PPCL step in parts (torch.profiler): the step's draws, the partial crops, GLRec, F, CRLoc's
    calls and cuts, PP-Triplet's negatives, the backward pass.
(l) the training loader: an epoch of PK batches with the profile's augmentation as training draws
    them (uint8 store on the device, batched augmentation there), its share of a PPCL step, and
    the per-image loader the kit had before.
(r) ppcl.evaluate.rank at Market size (3,368 x 15,913, cameras on) against a bare argsort of the
    same matrix (any sort-based evaluation costs at least that).

The networks come from the profile (``--profile``, default ``synthetic``; ``--paper`` =
``--profile paper``). Timings are wall clock on whatever else the machine is doing: compare the
ratios of one run, not seconds across runs.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ppcl.algorithm import PPCLObjective
from ppcl.config import to_dict
from ppcl.evaluate.engine import distance_matrix, encode, global_distance
from ppcl.evaluate.pairwise import anchor_patches, region_weights
from ppcl.evaluate.rank import rank
from ppcl.io import write_json
from ppcl.models import build_ppcl
from ppcl.models.backbone import gap
from ppcl.pipeline.profiles import load_profile


def timed(fn, device, min_reps: int = 5, max_reps: int = 15, spread: float = 0.1) -> dict:
    """Warm ``fn`` up once (its own shapes), then repeat until the spread (max - min) / min of the
    last ``min_reps`` runs is below ``spread`` or ``max_reps`` runs: {"min", "median", "runs"}."""
    def once():
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t

    once()
    runs = [once() for _ in range(min_reps)]
    while len(runs) < max_reps and (max(runs[-min_reps:]) - min(runs[-min_reps:])) / min(runs[-min_reps:]) > spread:
        runs.append(once())
    return {"min": min(runs), "median": statistics.median(runs), "runs": len(runs)}


def interleaved(fns: dict, device, reps: int = 8) -> dict:
    """Time several functions in turn (one warm-up each, then ``reps`` rounds, each function
    once a round), so that a load that comes and goes on a shared machine lands on all of them:
    ``{name: {"min", "median", "runs"}}``."""
    def once(fn):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t

    for fn in fns.values():
        once(fn)
    runs = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            runs[k].append(once(fn))
    return {k: {"min": min(v), "median": statistics.median(v), "runs": len(v)} for k, v in runs.items()}


def flops(fn) -> int:
    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


def model_of(profile) -> torch.nn.Module:
    torch.manual_seed(0)
    backbone = {**to_dict(profile.ppcl.backbone), "num_classes": 270}
    return build_ppcl(to_dict(profile.glrec.model), backbone, to_dict(profile.ppcl.crloc)).eval()


@torch.no_grad()
def case_eval(m, device, n_q=300, n_g=300, topk=20, reps=5) -> dict:
    """(a): encode both sides + distances, for each method, same network."""
    size = m.input_size
    g = torch.Generator().manual_seed(0)
    xq, xg = torch.randn(n_q, 3, *size, generator=g), torch.randn(n_g, 3, *size, generator=g)
    m = m.to(device)
    out = {}
    for name, method, k in (("Resize", "resize", None), ("+R", "+R", None), ("+R+L every pair", "+R+L", None),
                            (f"+R+L top-{topk}", "+R+L", topk)):
        def run():
            q = encode(m, xq, method, device=device)
            gl = encode(m, xg, method, device=device)
            distance_matrix(m, q, gl, method, topk=k, device=device)
        out[name] = {**timed(run, device, min_reps=reps, max_reps=3 * reps), "gflop": flops(run) / 1e9}
    return out


@torch.no_grad()
def case_stages(m, device, n_q=300, n_g=300, reps=3) -> dict:
    """(s): the +R+L pass in stages, each timed and FLOP-counted on the same data."""
    size = m.input_size
    g = torch.Generator().manual_seed(0)
    xq, xg = torch.randn(n_q, 3, *size, generator=g).to(device), torch.randn(n_g, 3, *size, generator=g).to(device)
    m = m.to(device)
    q, gl = encode(m, xq, "+R", device=device), encode(m, xg, "+R", device=device)
    patches = anchor_patches(m, q.maps, q.t).to(device)
    refs = gl.maps.to(device)
    a, c, ph, pw = patches.shape
    r, _, h, w = refs.shape
    u, v = ph * pw, h * w
    loc = m.crloc
    qn = F.normalize(patches.flatten(2), dim=1).transpose(1, 2).reshape(a * u, c)
    rn = F.normalize(refs.flatten(2), dim=1).transpose(0, 1).reshape(c, r * v)
    block = max(1, (1 << 24) // (r * u * v))
    state = {}

    def correlation():
        state["corr"] = [((qn[s * u:(s + block) * u] @ rn).view(-1, u, r, v).permute(0, 2, 1, 3) * loc.log_temperature.exp())
                         .softmax(-1).reshape(-1, u, h, w) for s in range(0, a, block)]

    def locator():
        state["boxes"] = torch.cat([loc.locate(cb) for cb in state["corr"]])

    def cut_and_pool():
        wts = region_weights(state["boxes"], (h, w), (ph, pw)).view(a, r, v)
        state["pooled"] = torch.bmm(wts.transpose(0, 1), refs.flatten(2).transpose(1, 2)).transpose(0, 1)

    def descriptors():
        d = F.normalize(m.backbone.embed(state["pooled"].reshape(a * r, c)), dim=-1).view(a, r, -1)
        (d * F.normalize(m.backbone.embed(gap(patches)), dim=-1)[:, None]).sum(-1)

    def encoding():
        encode(m, xq, "+R", device=device), encode(m, xg, "+R", device=device)

    stages = {}
    for name, fn in (("encoding (GLRec + F, both sides)", encoding), ("correlation (Eq. 8)", correlation),
                     ("locator (3 conv + FC)", locator), ("cut and pool", cut_and_pool), ("descriptors, cosine", descriptors)):
        fl = flops(fn)
        t = timed(fn, device, min_reps=reps, max_reps=2 * reps)
        stages[name] = {**t, "gflop": fl / 1e9, "gflop_per_s": fl / 1e9 / t["min"] if fl else None}
    return stages


@torch.no_grad()
def case_gallery(m, device, n_q, sizes, topk=20) -> dict:
    """(b): +R+L top-K distances for n_q queries as the gallery grows (encodings done outside)."""
    size = m.input_size
    g = torch.Generator().manual_seed(1)
    m = m.to(device)
    q = encode(m, torch.randn(n_q, 3, *size, generator=g), "+R", device=device)
    gal = encode(m, torch.randn(max(sizes), 3, *size, generator=g), "+R", device=device)
    out = {}
    for n in sizes:
        sub = type(gal)(gal.maps[:n], gal.t[:n], None, gal.desc[:n])
        out[n] = timed(lambda: distance_matrix(m, q, sub, "+R+L", topk=topk, device=device), device, min_reps=3, max_reps=6)
    return out


STEP_KINDS = {  # (c): the step's variants, each a change of the profile's PPCL loss config
    "plain": {"partial_input": None, "lam_cyc": 0.0, "lam_tri": 0.0, "region_id": False},  # 64 holistic images
    "resize": {"partial_input": "resize", "lam_cyc": 0.0, "lam_tri": 0.0, "region_id": False},  # + the partial views
    "+R": {"partial_input": "rectify", "lam_cyc": 0.0, "lam_tri": 0.0, "region_id": False},  # + GLRec
    "ppcl": {},  # + CRLoc and its losses: the profile's PPCL
}


def step_fn(m, profile, device, kind: str):
    """(c): one training step (forward, backward, update) of ``kind`` (:data:`STEP_KINDS`) on one
    fixed PK batch, as :func:`ppcl.train.fit` runs it: channels-last weights, fused Adam, autocast
    in the dtype fit uses on ``device`` (bf16 on a GPU that has it, fp32 on the CPU)."""
    from ppcl.train import adam, amp_dtype

    recipe = profile.ppcl
    m = m.to(device).train().to(memory_format=torch.channels_last)
    b = recipe.p * recipe.k
    g = torch.Generator().manual_seed(2)
    x = torch.randn(b, 3, *m.input_size, generator=g).to(device)
    y = torch.arange(recipe.p).repeat_interleave(recipe.k).to(device)
    obj = PPCLObjective(m, recipe.loss(**STEP_KINDS[kind])).to(device)
    for p in m.glrec.parameters():
        p.requires_grad_(False)
    params = [p for p in m.parameters() if p.requires_grad]
    opt = adam(params, lr=1e-4)
    dtype = amp_dtype(device)

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = obj(x, y, torch.Generator().manual_seed(0))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def case_step(profile, device, reps: int = 8) -> dict:
    """(c): the plain re-ID step, the Resize and +R steps and the PPCL step (Algorithm 1) on the
    same batch as training runs them, timed in turn, each with its FLOPs: the FLOP ratio to the
    plain step is the ratio no implementation of these networks could beat at equal FLOP/s."""
    fns = {kind: step_fn(model_of(profile), profile, device, kind) for kind in STEP_KINDS}
    out = interleaved(fns, device, reps)
    for kind, fn in fns.items():
        out[kind]["gflop"] = flops(fn) / 1e9
    return out


def case_parts(profile, device, steps: int = 5) -> dict:
    """(p): where a PPCL step's time goes, milliseconds per step: torch.profiler over ``steps``
    steps as fit trains them, with each part of Algorithm 1 marked (the partial crops, GLRec, F
    over [x^r; x], CRLoc's calls, its cuts, PP-Triplet's negatives) and the backward pass apart. The
    marks are wrappers installed on this benchmark's own model and removed after; the profiler's
    own overhead makes every part somewhat slower than unprofiled."""
    import contextlib

    import ppcl.algorithm as alg
    from torch.profiler import ProfilerActivity, profile as torch_profile, record_function

    m = model_of(profile)
    step = step_fn(m, profile, device, "ppcl")

    def marked(fn, label):
        def wrapper(*a, **k):
            with record_function(label):
                return fn(*a, **k)
        return wrapper

    parts = {"the step's draws (one copy)": (alg, "draw_step"), "partial crops (line 5)": (alg, "cut_view"),
             "GLRec rectify (line 6)": (m.glrec, "rectify"),
             "F over [x^r; x] (line 7)": (m.backbone, "forward"), "CRLoc calls (Eqs. 4-5)": (m.crloc, "forward"),
             "CRLoc cuts": (m.crloc, "cut"), "PP-Triplet negatives": (alg, "sample_negative_boxes")}
    with contextlib.ExitStack() as undo:
        for label, (owner, name) in parts.items():
            original = getattr(owner, name)
            setattr(owner, name, marked(original, f"part: {label.split(',')[0]}"))
            if owner is alg:
                undo.callback(setattr, owner, name, original)
            else:  # an instance attribute over the class's method
                undo.callback(delattr, owner, name)
        for _ in range(2):
            step()
        backward = torch.Tensor.backward

        def marked_backward(self, *a, **k):
            with record_function("part: backward"):
                return backward(self, *a, **k)

        torch.Tensor.backward = marked_backward
        undo.callback(setattr, torch.Tensor, "backward", backward)
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        t0 = time.perf_counter()
        with torch_profile(activities=acts) as prof:
            for _ in range(steps):
                with record_function("part: whole step"):
                    step()
            if device.type == "cuda":
                torch.cuda.synchronize()
        wall = (time.perf_counter() - t0) / steps
    out = {e.key[len("part: "):]: e.cpu_time_total / steps / 1000 for e in prof.key_averages() if e.key.startswith("part: ")}
    out["wall per step, profiled"] = 1000 * wall
    return out


def _jpeg_records(folder: Path, n_ids: int, k: int) -> list:
    """``n_ids`` identities of ``k`` random Market-sized (128x64) JPEGs each."""
    import numpy as np
    from PIL import Image

    from ppcl.data.common import Record

    rng = np.random.default_rng(0)
    records = []
    for pid in range(n_ids):
        for i in range(k):
            path = folder / f"{pid:05d}_{i}.jpg"
            Image.fromarray(rng.integers(0, 256, (128, 64, 3), dtype=np.uint8)).save(path)
            records.append(Record(str(path), pid, None))
    return records


def case_loader(profile, device, n_batches=20, prefetch=(0, 2)) -> dict:
    """(l): milliseconds per PK batch over one epoch of ``n_batches``, as training draws them: the
    images decoded once into a uint8 store (on ``device`` when it fits), each batch gathered,
    augmented and normalised there (:class:`ppcl.data.datasets.TrainBatches`), with ``prefetch``
    batches prepared ahead in a thread; beside it the loader the kit had before (torchvision's
    per-image transforms on preloaded PIL images in the main process, then copied to ``device``).
    Also the one-off decoding of the store, per image."""
    import tempfile

    from torch.utils.data import DataLoader

    from ppcl.data.datasets import ImageDataset, ImageStore, TrainBatches
    from ppcl.data.samplers import PKSampler
    from ppcl.data.transforms import Augmentation, reid_train_transform

    r = profile.ppcl
    size = r.backbone.input_size
    out = {}
    with tempfile.TemporaryDirectory() as d:
        records = _jpeg_records(Path(d), n_batches * r.p, r.k)
        pids = [rec.pid for rec in records]
        t0 = time.perf_counter()
        store = ImageStore.from_records(records, size, device)
        out["decode_ms_per_image"] = 1000 * (time.perf_counter() - t0) / len(records)
        for depth in prefetch:
            batches = TrainBatches(store, PKSampler(pids, r.p, r.k, seed=0), Augmentation(erase=r.erase), device,
                                   prefetch=depth)

            def epoch():
                for x, _ in batches:
                    pass
                if device.type == "cuda":
                    torch.cuda.synchronize()

            t = timed(epoch, device, min_reps=3, max_reps=6)
            out[f"store, prefetch {depth}"] = {k: v / n_batches if k != "runs" else v for k, v in t.items()}
        old = ImageDataset(records, reid_train_transform(size, erase=r.erase), preload=True)

        def old_epoch():
            for x, *_ in DataLoader(old, batch_sampler=PKSampler(pids, r.p, r.k, seed=0)):
                x.to(device)
            if device.type == "cuda":
                torch.cuda.synchronize()

        t = timed(old_epoch, device, min_reps=2, max_reps=3)
        out["before: per-image transforms, main process"] = {k: v / n_batches if k != "runs" else v for k, v in t.items()}
    return out


def case_rank(nq=3368, ng=15913) -> dict:
    """(r): rank() at Market size with cameras, against a bare argsort of the same matrix."""
    g = torch.Generator().manual_seed(0)
    qp, gp = torch.randint(0, 751, (nq,), generator=g), torch.randint(0, 751, (ng,), generator=g)
    qc, gc = torch.randint(1, 7, (nq,), generator=g), torch.randint(1, 7, (ng,), generator=g)
    d = torch.rand(nq, ng, generator=g)
    cpu = torch.device("cpu")
    return {"rank": timed(lambda: rank(d, qp, gp, qc, gc), cpu, min_reps=3, max_reps=5),
            "argsort": timed(lambda: torch.argsort(d, dim=1), cpu, min_reps=3, max_reps=5)}


def trained_model(run_folder: Path, seed: int):
    """The PPCL model a finished run trained for ``seed`` (its checkpoints/, no pickle)."""
    from ppcl.models import ppcl_from_checkpoint

    return ppcl_from_checkpoint(Path(run_folder) / "checkpoints" / f"ppcl-s{seed}.pt")


@torch.no_grad()
def case_trained(run_folder: Path, topk: int, device) -> dict:
    """With a finished run: rank-1 on its Partial-REID set of full pairwise vs top-K (PPCL, first seed)."""
    from ppcl.evaluate.protocols import evaluate_partial
    from ppcl.pipeline.run import setup

    state = json.loads((run_folder / "run.json").read_text())["parameters"]
    run = setup(state["profile"], state["overrides"], data_root=state["data_root"], cache_dir=state["cache_dir"],
                out_dir=run_folder, progress=False, style=False)
    seed = run.profile.seed
    model = trained_model(run_folder, seed)
    data = run.data("partial_reid")["partial_reid"]
    full = evaluate_partial(model, data, ("+R+L",), device=device)["+R+L"]["query"]["rank1"]
    top = evaluate_partial(model, data, ("+R+L",), topk=topk, device=device)["+R+L"]["query"]["rank1"]
    return {"full_rank1": 100 * full, "topk_rank1": 100 * top, "seed": seed}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="synthetic", choices=("smoke", "synthetic", "paper"))
    ap.add_argument("--paper", action="store_true", help="the paper profile's networks (= --profile paper)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--topk", type=int, default=20)
    ap.add_argument("--run", type=Path, help="a finished run folder: trained rank-1 (full vs top-K) and the main job's times")
    ap.add_argument("--skip", default="", help="comma-separated cases to skip: a,s,b,c,p,l,r")
    ap.add_argument("--reps", type=int, default=5, help="timed repetitions per case at least (1-2 for the paper networks on a CPU)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    if args.reps < 1:
        ap.error(f"--reps: expected a positive number of repetitions; found {args.reps}")
    name = "paper" if args.paper else args.profile
    profile = load_profile(name)
    device = torch.device(args.device)
    skip = set(args.skip.split(",")) if args.skip else set()
    info = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads",
            "torch": torch.__version__, "profile": name}
    print(f"# PPCL cost benchmark: {info['device']}, torch {info['torch']}, the {name!r} profile's networks\n")
    m = model_of(profile)
    res: dict = {"info": info}
    if "a" not in skip:
        a = res["eval"] = case_eval(m, device, topk=args.topk, reps=args.reps)
        base = a["Resize"]["min"]
        print("(a) evaluation, 300 x 300, encode both sides + distances; every method on the same network")
        print("(FLOP floor: the method's FLOPs over Resize's, the ratio no implementation on this network can beat)")
        print(f"{'method':18s} {'min s':>8s} {'median s':>9s} {'runs':>5s} {'x Resize':>9s} {'GFLOP':>8s} {'floor':>6s}")
        for k, r in a.items():
            print(f"{k:18s} {r['min']:8.2f} {r['median']:9.2f} {r['runs']:5d} {r['min'] / base:9.2f} "
                  f"{r['gflop']:8.1f} {r['gflop'] / a['Resize']['gflop']:6.2f}")
        print()
    if "s" not in skip:
        s = res["stages"] = case_stages(m, device, reps=min(3, args.reps))
        print("(s) the +R+L pass in stages (300 x 300 pairs)")
        print(f"{'stage':34s} {'min s':>8s} {'GFLOP':>8s} {'GFLOP/s':>8s}")
        for k, r in s.items():
            rate = f"{r['gflop_per_s']:8.1f}" if r["gflop_per_s"] else f"{'-':>8s}"
            print(f"{k:34s} {r['min']:8.3f} {r['gflop']:8.2f} {rate}")
        print()
    if "b" not in skip:
        sizes = (1000, 2000, 4000) if name != "paper" else (1000, 2000, 4000, 8000)
        b = res["gallery"] = case_gallery(m, device, 300, sizes, args.topk)
        print(f"(b) +R+L top-{args.topk}, 300 queries, growing gallery (distances only)")
        for n, r in b.items():
            print(f"{n:8d} gallery: {r['min']:7.3f} s  ({1000 * r['min'] / n:.3f} s per 1,000)")
        print()
    if "c" not in skip:
        st = res["step"] = case_step(profile, device, reps=max(3, 2 * args.reps))
        base, base_fl = st["plain"]["min"], st["plain"]["gflop"]
        print(f"(c) one training step, batch {profile.ppcl.p} x {profile.ppcl.k}, as fit trains (min of {st['plain']['runs']} "
              "interleaved runs); the FLOP ratio is the floor at equal FLOP/s")
        for k, v in st.items():
            print(f"  {k:8s} {1000 * v['min']:8.1f} ms  {v['min'] / base:5.2f}x plain   {v['gflop']:8.1f} GFLOP "
                  f"{v['gflop'] / base_fl:5.2f}x plain")
        print(f"  PPCL / plain: {st['ppcl']['min'] / base:.2f}x (FLOPs: {st['ppcl']['gflop'] / base_fl:.2f}x)\n")
    if "p" not in skip:
        pt = res["parts"] = case_parts(profile, device)
        print(f"(p) a PPCL step in parts (torch.profiler, ms per step, host time{' (CUDA kernels run asynchronously)' if device.type == 'cuda' else ''}):")
        for k, v in sorted(pt.items(), key=lambda kv: -kv[1]):
            print(f"  {k:28s} {v:8.1f} ms")
        print()
    if "l" not in skip:
        ld = res["loader"] = case_loader(profile, device)
        step = res.get("step", {}).get("ppcl", {}).get("min")
        print(f"(l) training loader, PK {profile.ppcl.p} x {profile.ppcl.k} at {profile.ppcl.backbone.input_size[0]}x"
              f"{profile.ppcl.backbone.input_size[1]} on {device.type}, one epoch of 20 batches "
              f"(decoding the store once: {ld['decode_ms_per_image']:.2f} ms per image):")
        for k, v in ld.items():
            if isinstance(v, dict):
                share = f", {100 * v['min'] / step:5.1f}% of a PPCL step" if step else ""
                print(f"  {k:44s} {1000 * v['min']:7.2f} ms per batch{share}")
        print()
    if "r" not in skip:
        r = res["rank"] = case_rank()
        print(f"(r) rank() at Market size (3,368 x 15,913, cameras on): {r['rank']['min']:.2f} s; a bare argsort of the "
              f"same matrix {r['argsort']['min']:.2f} s: {r['rank']['min'] / r['argsort']['min']:.2f}x\n")
    if args.run:
        t = res["trained"] = case_trained(args.run, args.topk, device)
        print(f"trained PPCL (seed {t['seed']}) on {args.run}'s Partial-REID set: rank-1 every pair {t['full_rank1']:.1f}, "
              f"top-{args.topk} {t['topk_rank1']:.1f}")
        state = json.loads((args.run / "run.json").read_text())
        nbs = {k: v.get("seconds") for k, v in state.get("notebooks", {}).items()}
        total = sum(v for v in nbs.values() if v)
        res["main_job"] = {"notebooks": nbs, "total": total, "machine": state.get("machine")}
        print(f"the main job ({state['parameters']['profile']}): {total / 60:.1f} min in all")
        for k, v in nbs.items():
            print(f"  {k:34s} {v:7.0f} s  {100 * v / total:5.1f}%")
    if args.json:
        write_json(args.json, res, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())

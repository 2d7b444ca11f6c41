"""PPCL's costs against the Resize baseline, measured in one run on one machine.

    python benchmarks/run.py                 # small defaults: about 3-5 minutes on a 2-core CPU
    python benchmarks/run.py --paper         # the paper's networks and sizes (meant for a GPU)
    python benchmarks/run.py --checkpoint runs/synthetic/checkpoints/ppcl_best.pt --data-root DIR

(a) evaluation of Resize, +R and +R+L (PPCL: full pairwise and top-K re-ranked) on a
    Partial-REID-sized problem (300 partial queries x 300 gallery images), as ratios to Resize;
(b) +R+L with top-K re-ranking as the gallery grows toward Market size (seconds per gallery size);
(c) one PPCL training step (Algorithm 1) against one plain re-ID step on the same batch;
(d) peak memory of each (CUDA: max allocated; CPU: the process's peak RSS growth, measured in a
    fresh subprocess per case).

With ``--checkpoint`` and ``--data-root`` (a Partial-REID-layout set, e.g. the kit's synthetic one)
the Partial-REID problem uses those images and that trained model, so the rank-1 of full pairwise
and top-K can be compared; otherwise random images and an untrained model time the same code.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ppcl.algorithm import PPCLObjective, PPCLLossConfig  # noqa: E402
from ppcl.evaluate.engine import distance_matrix, encode  # noqa: E402
from ppcl.models import build_ppcl, ppcl_from_checkpoint  # noqa: E402

SMALL = {  # the synthetic profile's networks
    "glrec": {"depth": "resnet18", "width": 16, "input_size": [64, 32]},
    "backbone": {"depth": "resnet18", "width": 16, "input_size": [128, 64], "last_stride": 1, "third_stride": 2, "num_classes": 270},
    "crloc": {"patch_size": [4, 2], "channels": [64, 32, 16]},
    "queries_b": 1000, "galleries_b": [1000, 2000, 4000, 8000], "batch": 64,
}
PAPER = {
    "glrec": {"depth": "resnet18", "width": 64, "input_size": [256, 128]},
    "backbone": {"depth": "resnet50", "width": 64, "input_size": [256, 128], "last_stride": 1, "third_stride": 2, "num_classes": 751},
    "crloc": {"patch_size": [8, 4], "channels": [64, 32, 16]},
    "queries_b": 3000, "galleries_b": [2500, 5000, 10000, 20000], "batch": 64,
}


def _model(cfg, checkpoint=None):
    """The benchmark's model: untrained from ``cfg``, or the one a PPCL checkpoint was saved from."""
    torch.manual_seed(0)
    if checkpoint:
        return ppcl_from_checkpoint(checkpoint).eval()
    return build_ppcl(cfg["glrec"], cfg["backbone"], cfg["crloc"]).eval()


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, device):
    _sync(device)
    t = time.perf_counter()
    out = fn()
    _sync(device)
    return out, time.perf_counter() - t


def case_eval(cfg, device, n_q=300, n_g=300, topk=20, checkpoint=None, data_root=None, reps=3):
    """(a): one Partial-REID-sized evaluation per method; returns seconds and rank-1."""
    from ppcl.evaluate.rank import rank

    m = _model(cfg, checkpoint)
    size = tuple(cfg["backbone"]["input_size"])
    if data_root:
        from ppcl.data.partial_reid import load_partial_reid
        from ppcl.evaluate.engine import load_images

        d = load_partial_reid(data_root)
        xq, xg = load_images(d.query, size), load_images(d.gallery, size)
        qp, gp = [r.pid for r in d.query], [r.pid for r in d.gallery]
    else:
        g = torch.Generator().manual_seed(0)
        xq, xg = torch.randn(n_q, 3, *size, generator=g), torch.randn(n_g, 3, *size, generator=g)
        qp, gp = list(range(n_q)), [i % n_q for i in range(n_g)]
    out = {}
    # warm-up
    encode(m, xq[:8], "resize", device=device)
    for name, method, k in (("Resize", "resize", None), ("+R", "+R", None), ("+R+L full", "+R+L", None), (f"+R+L top-{topk}", "+R+L", topk)):
        def run():
            q = encode(m, xq, method, device=device)
            gl = encode(m, xg, method, device=device)
            return distance_matrix(m, q, gl, method, topk=k, device=device)
        runs = [_timed(run, device) for _ in range(reps)]  # best of reps, as timeit does
        dist, sec = runs[0][0], min(s for _, s in runs)
        out[name] = {"seconds": sec, "rank1": 100 * rank(dist, qp, gp)["rank1"]}
    return out


def case_gallery(cfg, device, n_q, n_g, topk=20):
    """(b): +R+L with top-K re-ranking, n_q queries against n_g gallery feature maps
    (encoded once, as the engine caches them; the timing covers encode + distances)."""
    m = _model(cfg)
    size = tuple(cfg["backbone"]["input_size"])
    g = torch.Generator().manual_seed(1)

    def run():
        q = encode(m, torch.randn(n_q, 3, *size, generator=g), "+R", device=device)
        gl = encode(m, torch.randn(n_g, 3, *size, generator=g), "+R", device=device)
        t0 = time.perf_counter()
        distance_matrix(m, q, gl, "+R+L", topk=topk, device=device)
        _sync(device)
        return time.perf_counter() - t0

    dist_s, total = _timed(run, device)
    return {"seconds": total, "distance_seconds": dist_s}


def case_step(cfg, device, batch, plain: bool, reps=5):
    """(c): seconds per training step (forward + backward + update) on one fixed batch."""
    m = _model(cfg).to(device).train()
    size = tuple(cfg["backbone"]["input_size"])
    g = torch.Generator().manual_seed(2)
    x = torch.randn(batch, 3, *size, generator=g).to(device)
    y = torch.arange(batch // 4).repeat_interleave(4).to(device)
    loss_cfg = PPCLLossConfig(partial_input=None, lam_cyc=0, lam_tri=0) if plain else PPCLLossConfig()
    obj = PPCLObjective(m, loss_cfg).to(device)
    for p in m.glrec.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=1e-4)

    def step():
        loss = obj(x, y, torch.Generator().manual_seed(0))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up
    return {"seconds": min(_timed(step, device)[1] for _ in range(reps))}


def _child(fn_name, args, q):
    torch.set_num_threads(torch.get_num_threads())
    device = torch.device(args.pop("device"))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    res = globals()[fn_name](device=device, **args)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    q.put({"result": res, "peak_MiB": peak})


def isolated(fn_name, **args):
    """Run one case in a fresh process so its peak memory is its own."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(fn_name, args, q))
    p.start()
    out = q.get()
    p.join()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paper", action="store_true", help="the paper's networks (ResNet-50 at 256x128) and Market-sized (b)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--checkpoint", help="a trained PPCL checkpoint for (a)")
    ap.add_argument("--data-root", help="a Partial-REID-layout set for (a)")
    ap.add_argument("--topk", type=int, default=20)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    cfg = PAPER if args.paper else SMALL
    dev = args.device
    info = {"device": torch.cuda.get_device_name(0) if dev == "cuda" else f"CPU, {torch.get_num_threads()} threads",
            "torch": torch.__version__, "config": "paper" if args.paper else "small"}
    print(f"# PPCL cost benchmark — {info['device']}, torch {info['torch']}, {info['config']} networks\n")

    a = isolated("case_eval", cfg=cfg, device=dev, topk=args.topk, checkpoint=args.checkpoint, data_root=args.data_root)
    base = a["result"]["Resize"]["seconds"]
    print("(a) evaluation, Partial-REID-sized (300 x 300)" + (" on " + args.data_root if args.data_root else ", random images")
          + ", best of 3; every method on the same network")
    print(f"{'method':16s} {'seconds':>8s} {'x Resize':>9s} {'rank-1':>7s}")
    for name, r in a["result"].items():
        print(f"{name:16s} {r['seconds']:8.2f} {r['seconds'] / base:9.2f} {r['rank1']:7.1f}")
    print(f"peak memory of the run: {a['peak_MiB']:.0f} MiB\n")

    print(f"(b) +R+L with top-{args.topk} re-ranking, {cfg['queries_b']} queries, growing gallery")
    print(f"{'gallery':>8s} {'total s':>8s} {'CRLoc s':>8s} {'CRLoc s / 1k gallery':>21s} {'peak MiB':>9s}")
    b = {}
    for n_g in cfg["galleries_b"]:
        r = isolated("case_gallery", cfg=cfg, device=dev, n_q=cfg["queries_b"], n_g=n_g, topk=args.topk)
        b[n_g] = r
        print(f"{n_g:8d} {r['result']['seconds']:8.1f} {r['result']['distance_seconds']:8.2f} "
              f"{1000 * r['result']['distance_seconds'] / n_g:21.3f} {r['peak_MiB']:9.0f}")
    print()

    plain = isolated("case_step", cfg=cfg, device=dev, batch=cfg["batch"], plain=True)
    full = isolated("case_step", cfg=cfg, device=dev, batch=cfg["batch"], plain=False)
    ps, fs = plain["result"]["seconds"], full["result"]["seconds"]
    print(f"(c) training step, batch {cfg['batch']} (best of 5)")
    print(f"plain re-ID step   {ps:.3f} s  peak {plain['peak_MiB']:.0f} MiB")
    print(f"PPCL step (Alg. 1) {fs:.3f} s  peak {full['peak_MiB']:.0f} MiB   ratio {fs / ps:.2f}x (target <= 2.3x)")
    if args.json:
        args.json.write_text(json.dumps({"info": info, "eval": a, "gallery": b, "step": {"plain": plain, "ppcl": full}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

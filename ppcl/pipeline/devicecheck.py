"""The device check: every numbered notebook under the ``paper`` profile, on a data root laid out
exactly like the real downloads, in a few minutes of one GPU; and the same code path on a CPU.

    python -m ppcl.pipeline.devicecheck                         # on a GPU (make gpu-check): the paper's networks
    python -m ppcl.pipeline.devicecheck --shrink --out DIR      # anywhere: the smoke profile's networks (a test runs this)

What it runs. The kit's synthetic people and faces are generated (``--data``, a mid-sized
preset by default: 150 Market-style training identities, the real sizes of the Partial-REID and
Partial-iLIDS sets) and copied into the folders the real datasets unpack to (no
``synthetic_meta.json``, no ``partial_sources/``: nothing synthetic can be read), then
``python -m ppcl.pipeline.reproduce --profile paper`` runs each notebook on that tree with ``source =
"real"``: ResNet-50 at 256x128 with last stride 1, the ResNet-18 GLRec, the VGG-16 GDC face
network, AMP on CUDA (bf16 where the GPU has it), with the epochs and grids cut
(:data:`CUTS`: one seed, one epoch per model, a 2-cell λ grid, two ratios) so that the whole run
fits in :data:`GPU_BUDGET_S` seconds of one GPU, start-up included. With ``--shrink`` the networks,
batches and epochs are the smoke profile's and the data the smoke preset (the CPU's version).

What it proves. Every notebook finishes under the paper profile's code path on a real-layout
tree on this device; ``REPORT.md`` lists no table as missing; and ``device-check.json`` records
each notebook's wall time, its peak device memory (sampled every 0.2 s while it runs, above the
level before it) and the training steps per second it saw (steps and seconds of every model
that notebook trained, from the checkpoints' histories). The exit status is 0 only when every
notebook finished, no table is missing and (on a GPU, or with ``--budget``) the whole run kept
to the budget.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from ..config import merge
from ..io import read_checkpoint, write_json

REAL_FOLDERS = ("Market-1501-v15.09.15", "Partial-REID_Dataset", "Partial_iLIDS", "lfw", "CASIA-WebFace")
GPU_BUDGET_S = 360.0  # the whole check on one GPU, start-up included
MARKER = "device-check.json"

# The synthetic data the GPU check lays out as the real downloads: a mid-sized preset (training
# epochs of ~28 PK batches), with the real sizes of the partial test sets.
GPU_DATA = {"preset": "synthetic", "n_train_ids": 150, "n_test_ids": 50, "n_face_train_ids": 150, "n_lfw_ids": 120}
SHRUNK_DATA = {"preset": "smoke"}

# The check's own settings: the paper profile with its schedule and grids cut. Every other value
# (the networks, input sizes, batches, the losses and their options, the faces table) is the paper's.
CUTS: dict = {
    "n_seeds": 1,
    "glrec": {"epochs": 1},
    "ppcl": {"epochs": 1, "warmup_epochs": 0, "n_val_ids": 20},
    "ablation": {"lam_cyc": [1.0, 10.0], "lam_tri": [1.0], "grid_epochs": 1, "ratios": [0.3, 0.6],
                 "grid_ratios": [0.4, 0.8], "n_examples": 2},
    "faces": {"epochs": 1, "warmup_epochs": 0, "n_val_ids": 20, "glrec": {"epochs": 1},
              "partial_lfw": {"n_ids": 40}},  # about 54 of GPU_DATA's 120 LFW-style people have two images
}

# The CPU twin (--shrink, what `make test` runs): only what makes the check fit a CPU changes:
# the networks' depth and width, the input sizes (and CRLoc's patch, which is half the feature
# map as in the paper's 8 x 4 of 16 x 8), batch sizes and the numbers of images and identities.
SHRINK: dict = {
    "glrec": {"model": {"depth": "resnet10", "width": 8, "input_size": [64, 32]}, "batch_size": 16},
    "ppcl": {"backbone": {"depth": "resnet10", "width": 8, "input_size": [128, 64]},
             "crloc": {"patch_size": [4, 2], "channels": [8, 8, 8]}, "p": 4, "k": 2, "n_val_ids": 3},
    "faces": {"backbone": {"width": 4, "input_size": [64, 64], "embedding_dim": 16, "convs_per_block": [1, 1, 1, 1, 1]},
              "crloc": {"patch_size": [2, 2], "channels": [8, 8, 8]}, "p": 3, "k": 2, "n_val_ids": 2,
              "glrec": {"model": {"depth": "resnet10", "width": 8, "input_size": [32, 32]}, "batch_size": 8},
              "partial_lfw": {"n_ids": 3}},
}
SHRINKABLE = ("depth", "width", "input_size", "patch_size", "channels", "embedding_dim", "convs_per_block",
              "batch_size", "p", "k", "n_val_ids", "n_ids")  # the only fields SHRINK may touch


def imagenet_available() -> bool:
    """Whether torchvision's ImageNet weights for the paper's ResNet-50 and ResNet-18 are in the
    cache (the check then starts from them, as the paper profile does; it never downloads)."""
    from ..models.resnet import imagenet_weights_path

    return all(imagenet_weights_path(d).is_file() for d in ("resnet50", "resnet18"))


def check_overrides(shrink: bool, imagenet: bool | None = None) -> dict:
    """The overrides the check runs the paper profile with: :data:`CUTS`, ImageNet weights when they
    are present (never on the shrunk networks, which have no ImageNet weights), and with ``shrink``
    :data:`SHRINK`."""
    imagenet = (not shrink and imagenet_available()) if imagenet is None else imagenet
    weights = {"glrec": {"imagenet": imagenet}, "ppcl": {"imagenet": imagenet}, "faces": {"glrec": {"imagenet": imagenet}}}
    return merge(merge(CUTS, weights), SHRINK if shrink else {})


def shrunk_overrides() -> dict:
    """The CPU twin's overrides (:func:`check_overrides` with ``shrink``)."""
    return check_overrides(shrink=True)


def as_sets(overrides: dict, prefix: str = "") -> list[str]:
    """Nested overrides as ``--set KEY=VALUE`` entries (TOML values).

    >>> as_sets({"n_seeds": 1, "ppcl": {"epochs": 2, "area": [0.3, 0.8]}, "x": {"s": "a", "b": True}})
    ['n_seeds=1', 'ppcl.epochs=2', 'ppcl.area=[0.3, 0.8]', 'x.s="a"', 'x.b=true']
    """
    def toml(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {toml(x)}" for k, x in v.items()) + "}"
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(toml(x) for x in v) + "]"
        return repr(v)

    out = []
    for k, v in overrides.items():
        if isinstance(v, dict) and v:
            out += as_sets(v, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}={toml(v)}")
    return out


def real_layout_root(dest: Path, synthetic: dict, cache_dir: str | Path | None = None, progress: bool = False) -> Path:
    """The synthetic sets of ``synthetic`` (generated into the cache once) copied into ``dest`` in
    the real datasets' folders, with LFW's ``pairs.txt`` beside ``lfw/`` as its download unpacks;
    nothing that marks them synthetic is copied."""
    from ..data.sources import dataset_root
    from .run import default_cache_dir

    src = dataset_root("synthetic", cache_dir=cache_dir or default_cache_dir(), synthetic=synthetic, progress=progress)
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in REAL_FOLDERS:
        shutil.copytree(src / name, dest / name)
    shutil.copy2(src / "pairs.txt", dest / "pairs.txt")
    return dest


@contextmanager
def device_memory(device: torch.device, every: float = 0.2) -> Iterator[dict]:
    """While inside, sample the device's memory in use (every process's: the notebooks run in
    their own kernels) every ``every`` seconds; on leaving, ``{"peak_mib": ...}`` above the level
    on entering (``None`` off CUDA)."""
    out: dict = {"peak_mib": None}
    if device.type != "cuda":
        yield out
        return

    def used() -> int:
        free, total = torch.cuda.mem_get_info(device)
        return total - free

    base, peak, stop = used(), [0], threading.Event()

    def sample() -> None:
        while not stop.wait(every):
            peak[0] = max(peak[0], used())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()
        out["peak_mib"] = round(max(0, max(peak[0], used()) - base) / 2**20, 1)


def training_seen(run_folder: Path, known: set[str]) -> tuple[dict, set[str]]:
    """Steps and training seconds of the models recorded in ``run_folder``'s
    ``checkpoints/models.json`` that are not in ``known`` (those a notebook added), read from each
    one's ``train.pt`` history. Returns ``({"models", "steps", "train_seconds", "steps_per_s"}, names)``."""
    index_path = run_folder / "checkpoints" / "models.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    new = sorted(set(index) - known)
    steps, seconds = 0, 0.0
    for name in new:
        ckpt = Path(index[name]["store"]).parent / "train.pt"
        epochs = read_checkpoint(ckpt, required=("history",))["history"]["epochs"] if ckpt.is_file() else []
        steps += sum(int(e.get("steps", 0)) for e in epochs)
        seconds += sum(float(e.get("train_seconds", 0.0)) for e in epochs)
    rate = round(steps / seconds, 2) if seconds > 0 else None
    return {"models": new, "steps": steps, "train_seconds": round(seconds, 2), "steps_per_s": rate}, set(index)


def missing_tables(run_folder: Path) -> list[str]:
    """The report's tables the run did not write (``tables/<name>.csv``), and any section
    ``REPORT.md`` itself lists as not produced."""
    from .report import SECTIONS

    missing = [n for sec in SECTIONS for n in sec.tables if not (run_folder / "tables" / f"{n}.csv").is_file()]
    report = run_folder / "REPORT.md"
    text = report.read_text() if report.is_file() else "Not produced by this run: REPORT.md"
    if "Not produced by this run" in text or "was not produced" in text:
        missing.append("REPORT.md lists a table as not produced")
    return missing


def check(out: Path, shrink: bool = False, data: dict | None = None, device: str | None = None,
          budget_s: float | None = None, only: list[str] | None = None, progress: bool = True) -> dict:
    """Run the device check into ``out`` (see the module docstring); returns what it writes to
    ``out/device-check.json``."""
    from . import reproduce
    from .report import write_report
    from .run import default_cache_dir

    t_start = time.time()
    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ValueError(f"--out {out}: expected a new folder or an earlier device check's (with {MARKER}); "
                         "found another folder, which the check would overwrite")
    for sub in ("run", "models"):
        shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if budget_s is None and dev.type == "cuda" and not shrink:
        budget_s = GPU_BUDGET_S
    overrides = check_overrides(shrink)
    data = data or (SHRUNK_DATA if shrink else GPU_DATA)
    root = real_layout_root(out / "DATA", data, default_cache_dir(), progress=progress)
    result: dict = {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU",
                    "torch": torch.__version__, "shrunk": shrink, "data": data, "overrides": overrides,
                    "budget_seconds": budget_s, "notebooks": {}}
    write_json(out / MARKER, {**result, "status": "running"})
    run_folder, known = out / "run", set()
    for nb in reproduce.notebooks(only):
        with device_memory(dev) as mem:
            t0 = time.time()
            rc = reproduce.run("paper", run_folder, data_root=str(root), cache_dir=str(out / "models"),
                               only=[nb.name[:2]], overrides=overrides, resume=True, report=False)
            seconds = time.time() - t0
        seen, known = training_seen(run_folder, known)
        result["notebooks"][nb.name] = {"status": "done" if rc == 0 else "failed", "seconds": round(seconds, 1),
                                        "peak_device_mib": mem["peak_mib"], **seen}
        write_json(out / MARKER, {**result, "status": "running"})
        if rc != 0:
            break
    finished = all(v["status"] == "done" for v in result["notebooks"].values())
    if finished:
        write_report(run_folder)
    result["missing_tables"] = missing_tables(run_folder) if finished else ["(the run stopped at a failing notebook)"]
    result["total_seconds"] = round(time.time() - t_start, 1)
    result["within_budget"] = None if budget_s is None else result["total_seconds"] <= budget_s
    result["ok"] = finished and not result["missing_tables"] and result["within_budget"] is not False
    result["status"] = "done"
    write_json(out / MARKER, result)
    return result


def summary(result: dict) -> str:
    """The check's result as a few lines of text."""
    lines = [f"device check on {result['device']} (torch {result['torch']}, {'shrunk networks' if result['shrunk'] else 'the paper networks'})"]
    for name, r in result["notebooks"].items():
        mem = f"{r['peak_device_mib']:8.0f} MiB" if r["peak_device_mib"] is not None else f"{'-':>12s}"
        rate = f"{r['steps_per_s']:7.1f} steps/s" if r["steps_per_s"] else f"{'':15s}"
        lines.append(f"  {name:32s} {r['status']:6s} {r['seconds']:7.1f} s {mem} {rate}  {len(r['models'])} models trained")
    budget = f" (budget {result['budget_seconds']:.0f} s: {'kept' if result['within_budget'] else 'EXCEEDED'})" \
        if result["budget_seconds"] is not None else ""
    lines.append(f"  total {result['total_seconds']:.0f} s{budget}")
    lines.append(f"  missing tables: {', '.join(result['missing_tables']) or 'none'}")
    lines.append("  OK" if result["ok"] else "  FAILED")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/device-check"), help="the check's folder (replaced on each check)")
    ap.add_argument("--shrink", action="store_true", help="the smoke profile's networks and data (any CPU; the test)")
    ap.add_argument("--device", help="cuda or cpu (default: cuda when present)")
    ap.add_argument("--budget", type=float, help=f"seconds the whole check may take (default on a GPU: {GPU_BUDGET_S:.0f})")
    ap.add_argument("--only", help="comma-separated notebook numbers (default: every notebook)")
    args = ap.parse_args(argv)
    if args.budget is not None and args.budget <= 0:
        ap.error(f"--budget: expected a positive number of seconds; found {args.budget}")
    try:
        result = check(args.out, args.shrink, device=args.device, budget_s=args.budget,
                       only=args.only.split(",") if args.only else None)
    except ValueError as e:
        ap.error(str(e))
    print(summary(result))
    print(f"written: {args.out / MARKER}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

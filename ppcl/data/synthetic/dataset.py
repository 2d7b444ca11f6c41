"""Writing a whole dataset folder, and the cache of generated folders.

:func:`generate` builds the context, runs every job (in worker processes for large configs),
writes the list files, ``pairs.txt`` and ``synthetic_meta.json`` last, and renames the folder
into place atomically. :func:`ensure_synthetic` reuses a complete folder or generates it once.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import sys
import uuid
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .config import (
    CASIA_DIR,
    GENERATOR_VERSION,
    ILIDS_DIR,
    LARGE_DIR,
    LFW_DIR,
    LFW_PAIRS,
    MARKET_DIR,
    META_NAME,
    PREID_DIR,
    SYNTHETIC,
    SyntheticConfig,
)
from .lfw_layout import lfw_pairs
from .plans import Context, Job, build_context, make_jobs
from .streams import stream
from .writers import JobResult, run_job

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

GENERATOR = "ppcl.data.synthetic"  # recorded in the meta file

# --- worker processes ----------------------------------------------------------------------------

_WORKER_CTX: Context | None = None


def _init_worker(cfg_dict: dict, root: str) -> None:
    global _WORKER_CTX
    _WORKER_CTX = build_context(SyntheticConfig.from_dict(cfg_dict), Path(root))


def _worker_run(job: Job) -> JobResult:
    assert _WORKER_CTX is not None
    return run_job(_WORKER_CTX, job)


def _default_workers(n_jobs: int) -> int:
    if n_jobs < 200:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def _start_method() -> str:
    """fork where the platform has it (fast, and no re-import of an unguarded __main__ script);
    the workers only run numpy and PIL code."""
    fork_ok = "fork" in mp.get_all_start_methods() and os.name == "posix" and sys.platform != "darwin"
    return "fork" if fork_ok else "spawn"


# --- the files that are not images ---------------------------------------------------------------


def write_lists_and_pairs(ctx: Context) -> int:
    """Partial-iLIDS list files and LFW pairs.txt; returns the number of files written."""
    cfg, root = ctx.cfg, ctx.root
    for ilids, n_ids in ((root / ILIDS_DIR, cfg.n_ilids_ids), (root / LARGE_DIR / ILIDS_DIR, cfg.n_ilids_ids_large)):
        ilids.mkdir(parents=True, exist_ok=True)
        for lst, folder in (("Probe.txt", "Probe"), ("Gallery.txt", "Gallery")):
            lines = [f"{folder}/{pid:03d}.jpg" for pid in range(1, n_ids + 1)]
            (ilids / lst).write_text("".join(line + "\n" for line in lines))
    rng = stream(cfg.seed, "layout", 4)
    per_fold, folds = lfw_pairs(rng, ctx.lfw_names, ctx.lfw_counts, cfg.lfw_folds, cfg.lfw_pairs_per_fold)
    out = [f"{cfg.lfw_folds}\t{per_fold}"]
    for fold in folds:
        out += ["\t".join(str(x) for x in row) for row in fold]
    (root / LFW_PAIRS).write_text("\n".join(out) + "\n")
    return 5


BODY_CONVENTION = (
    "bodies[relative path] = {body: [cx, top, width_scale, ph], flipped, box, box_iou}: the person was drawn in "
    "local coordinates u (across the body, 0 at its centre) and v (0 at the top of the head, 1 at the soles) at "
    "frame x = cx + s * u * width_scale, y = top + v * ph, with s = -1 if flipped else 1; cx and width_scale in "
    "fractions of the frame width, top and ph of its height. box: tight (the hand-drawn-like framing), "
    "detector (a detection box around the tight one; box_iou = their IoU), bad (a distractor's bad box), "
    "none (junk: no person). A partial image's body is its source's (the partial entry's source), seen "
    "through its t.")


def meta(ctx: Context, partial: list[dict], bodies: dict[str, dict], n_files: int) -> dict[str, Any]:
    """The content of ``synthetic_meta.json``: config, layout, partial and body records, identities, cameras."""
    cfg = ctx.cfg
    ids = lambda pool, keys: {str(k): p.to_dict() for k, p in zip(keys, ctx.persons[pool])}  # noqa: E731
    return {
        "generator": GENERATOR,
        "version": GENERATOR_VERSION,
        "key": cfg.key(),
        "config": cfg.to_dict(),
        "datasets": {
            "market1501": MARKET_DIR,
            "partial_reid": PREID_DIR,
            "partial_ilids": ILIDS_DIR,
            "partial_reid_large": f"{LARGE_DIR}/{PREID_DIR}",
            "partial_ilids_large": f"{LARGE_DIR}/{ILIDS_DIR}",
            "lfw": LFW_DIR,
            "lfw_pairs": LFW_PAIRS,
            "casia_webface": CASIA_DIR,
        },
        "t_convention": "ppcl.geometry: t = (sx, sy, tx, ty), crop covers [tx-sx, tx+sx] x [ty-sy, ty+sy] "
                        "of the source canvas in [-1, 1] coordinates (align_corners=False)",
        "partial": partial,
        "body_convention": BODY_CONVENTION,
        "bodies": bodies,
        "identities": {
            "market_train": ids("market_train", ctx.train_pids),
            "market_test": ids("market_test", ctx.test_pids),
            "partial_reid": ids("partial_reid", range(1, cfg.n_partial_reid_ids + 1)),
            "partial_ilids": ids("partial_ilids", range(1, cfg.n_ilids_ids + 1)),
            "partial_reid_large": ids("partial_reid_large", range(1, cfg.n_partial_reid_ids_large + 1)),
            "partial_ilids_large": ids("partial_ilids_large", range(1, cfg.n_ilids_ids_large + 1)),
            "casia_webface": {f"{i:07d}": f.to_dict() for i, f in zip(ctx.casia_ids, ctx.faces["casia"])},
            "lfw": {n: f.to_dict() for n, f in zip(ctx.lfw_names, ctx.faces["lfw"])},
        },
        "cameras": {k: [asdict(c) for c in v] for k, v in ctx.cams.items()},
        "files": n_files,
        "complete": True,
    }


# --- folders -------------------------------------------------------------------------------------


def dataset_dir(out_dir: str | Path, cfg: SyntheticConfig) -> Path:
    """Where :func:`generate` puts the dataset of ``cfg``: ``out_dir/synthetic-<key>``."""
    return Path(out_dir).expanduser() / f"synthetic-{cfg.key()}"


def is_complete(folder: str | Path, cfg: SyntheticConfig | None = None) -> bool:
    """True if ``folder`` holds a finished dataset (of ``cfg``, if given): its meta file is written last."""
    path = Path(folder) / META_NAME
    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return m.get("complete") is True and (cfg is None or m.get("key") == cfg.key())


def load_meta(folder: str | Path) -> dict[str, Any]:
    """The ``synthetic_meta.json`` of a generated dataset."""
    return json.loads((Path(folder) / META_NAME).read_text())


def _remove_stale_tmp(out_dir: Path, name: str) -> None:
    """Remove temporary folders of earlier generations of ``name`` whose process is gone."""
    for p in out_dir.glob(f".{name}.tmp-*"):
        try:
            pid = int(p.name.rsplit(".tmp-", 1)[1].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except (ValueError, IndexError, PermissionError, OSError):
            continue


def _replace_folder(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``, replacing an existing ``final``."""
    if final.exists():
        trash = final.parent / f".{final.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.rename(final, trash)
        os.rename(tmp, final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.rename(tmp, final)


def _run_jobs(ctx: Context, jobs: list[Job], workers: int, bar) -> tuple[int, list[dict], dict[str, dict]]:
    """Run every job (in order, or in a pool of ``workers``); total files, partial and body records in job order."""
    n_files, partial, bodies = 0, [], {}
    pool = None
    if workers == 1:
        results: Iterable = (run_job(ctx, job) for job in jobs)
    else:
        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context(_start_method()), initializer=_init_worker,
                                   initargs=(ctx.cfg.to_dict(), str(ctx.root)))
        results = pool.map(_worker_run, jobs, chunksize=max(1, len(jobs) // (workers * 16)))
    try:
        for n, recs, job_bodies in results:
            n_files += n
            partial.extend(recs)
            bodies.update(job_bodies)
            bar.update(1)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return n_files, partial, bodies


def generate(out_dir: str | Path, cfg: SyntheticConfig = SYNTHETIC, progress: bool = True,
             workers: int | None = None) -> Path:
    """Render the whole synthetic dataset of ``cfg`` into ``out_dir/synthetic-<key>/`` and return it.

    Files are written into a temporary sibling folder that is renamed into place only when
    everything, the meta file last, is written: a crash never leaves a folder that looks
    complete. An existing folder of the same key is replaced. ``workers`` processes render in
    parallel (default: the available cores for large configs, 1 for small ones); the files are
    byte-identical whatever the number of workers.
    """
    out_dir = Path(out_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    final = dataset_dir(out_dir, cfg)
    tmp = out_dir / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        ctx = build_context(cfg, tmp)
        jobs = make_jobs(ctx)
        workers = _default_workers(len(jobs)) if workers is None else max(1, int(workers))
        bar = tqdm(total=len(jobs), desc=f"synthetic data {final.name}", disable=not progress, unit="job")
        n_files, partial, bodies = _run_jobs(ctx, jobs, workers, bar)
        n_files += write_lists_and_pairs(ctx)
        content = meta(ctx, partial, bodies, n_files + 1)
        (tmp / META_NAME).write_text(json.dumps(content, indent=1, sort_keys=False) + "\n")
        _replace_folder(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove_stale_tmp(out_dir, final.name)
    return final


# --- the cache -----------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$PPCL_CACHE`` or ``~/.cache/ppcl``: the kit's one cache (generated data sets, trained models)."""
    return Path(os.environ.get("PPCL_CACHE") or Path.home() / ".cache" / "ppcl").expanduser()


def ensure_synthetic(cache_dir: str | Path | None = None, cfg: SyntheticConfig = SYNTHETIC,
                     progress: bool = True, workers: int | None = None) -> Path:
    """The dataset folder of ``cfg`` under ``cache_dir``: reused if complete, else generated.

    Concurrent callers (parallel notebooks) are serialised by a lock file where the platform
    has ``fcntl``; a leftover temporary folder of an interrupted run is never taken as data.
    """
    cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    final = dataset_dir(cache_dir, cfg)
    if is_complete(final, cfg):
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / f".{final.name}.lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        if is_complete(final, cfg):
            return final
        return generate(cache_dir, cfg, progress=progress, workers=workers)

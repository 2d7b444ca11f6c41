"""The writers: one function per kind of job renders its images and writes them in the real layout.

:func:`run_job` dispatches on the job's type (:data:`WRITERS`). Partial images are exact pixel
crops (:func:`ppcl.data.partial.crop_pixels`) of a holistic rendering of the same identity,
which is saved losslessly under ``partial_sources/`` and described by a record for the meta file.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ..partial import crop_pixels, sample_partial_t
from .config import CASIA_DIR, ILIDS_DIR, LFW_DIR, MARKET_DIR, PREID_DIR, SOURCES_DIR
from .detection import OCCLUDERS, render_person
from .faces import render_face
from .palettes import pick
from .plans import (
    CasiaJob,
    Context,
    Job,
    LfwJob,
    MarketExtraJob,
    MarketIdJob,
    PartialIlidsJob,
    PartialReidJob,
    occluder_plan,
)
from .streams import image_rng

JobResult = tuple[int, list[dict]]  # files written, partial-image records
PREID_OCCLUDERS = ("box", "bush", "car", "person", "side", "pole")


def save_jpeg(img: np.ndarray, path: Path, quality: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, format="JPEG", quality=quality)


def save_png(img: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, format="PNG")


def partial_record(ctx: Context, dataset: str, rel: str, pid: int, src_img: np.ndarray, rng: np.random.Generator,
                   sides: tuple[str, ...]) -> tuple[np.ndarray, dict]:
    """Cut a partial image out of a holistic rendering; save the rendering; describe both."""
    t, side = sample_partial_t(rng, ctx.cfg.partial_area, sides)
    part, t_real = crop_pixels(src_img, t)
    src_rel = f"{SOURCES_DIR}/{rel.rsplit('.', 1)[0]}.png"
    save_png(src_img, ctx.root / src_rel)
    return part, {
        "dataset": dataset,
        "path": rel,
        "pid": pid,
        "source": src_rel,
        "t": [float(x) for x in t_real],
        "t_sampled": [float(x) for x in t],
        "side": side,
        "source_size": list(src_img.shape[:2]),
        "size": list(part.shape[:2]),
    }


def write_market_id(ctx: Context, job: MarketIdJob) -> JobResult:
    cfg, q = ctx.cfg, int(ctx.cfg.jpeg_quality)
    ident = ctx.persons[job.pool][job.k]
    for s in job.shots:
        rng = image_rng(cfg.seed, s.code, job.pid, s.index)
        img = render_person(ident, rng, ctx.cams["market"][s.cam - 1], cfg.person_size, view=s.view,
                            occluder=s.occluder, occluder_strength=s.strength or None, avoid=ctx.avoid)
        save_jpeg(img, ctx.root / MARKET_DIR / s.folder / s.name, q)
    return len(job.shots), []


def write_market_extra(ctx: Context, job: MarketExtraJob) -> JobResult:
    cfg, q, size = ctx.cfg, int(ctx.cfg.jpeg_quality), ctx.cfg.person_size
    for box in job.boxes:
        camera = ctx.cams["market"][box.cam - 1]
        if box.kind == "distractor":
            rng = image_rng(cfg.seed, "market_distractor", 0, box.index)
            bad = rng.random() < 0.6  # a bad detection of a person, or a person outside the test ids
            occ = pick(rng, OCCLUDERS) if rng.random() < 0.3 else None
            img = render_person(ctx.persons["market_distractor"][box.index], rng, camera, size,
                                misalign=4.0 if bad else 1.0, occluder=occ, avoid=ctx.avoid)
        else:
            rng = image_rng(cfg.seed, "market_junk", 0, box.index)
            occ = "person" if rng.random() < 0.4 else None
            img = render_person(None, rng, camera, size, occluder=occ, occluder_strength=0.8, avoid=ctx.avoid)
        save_jpeg(img, ctx.root / MARKET_DIR / "bounding_box_test" / box.name, q)
    return len(job.boxes), []


def write_partial_reid(ctx: Context, job: PartialReidJob) -> JobResult:
    """Per image number: a whole-body image, a partial one cut from another view, an occluded one."""
    cfg, q, size = ctx.cfg, int(ctx.cfg.jpeg_quality), ctx.cfg.person_size
    pid = job.k + 1
    ident = ctx.persons["partial_reid"][job.k]
    cams = ctx.cams["partial_reid"]
    records: list[dict] = []
    for j in range(1, cfg.partial_reid_images_per_id + 1):
        name = f"{pid:03d}_{j:03d}.jpg"
        rng = image_rng(cfg.seed, "preid_whole", pid, j)
        img = render_person(ident, rng, cams[int(rng.integers(len(cams)))], size, avoid=ctx.avoid)
        save_jpeg(img, ctx.root / PREID_DIR / "whole_body_images" / name, q)
        rng = image_rng(cfg.seed, "preid_partial", pid, j)
        src = render_person(ident, rng, cams[int(rng.integers(len(cams)))], size, avoid=ctx.avoid)
        rel = f"{PREID_DIR}/partial_body_images/{name}"
        part, rec = partial_record(ctx, "partial_reid", rel, pid, src, rng, cfg.partial_reid_sides)
        save_jpeg(part, ctx.root / rel, q)
        records.append(rec)
        rng = image_rng(cfg.seed, "preid_occluded", pid, j)
        img = render_person(ident, rng, cams[int(rng.integers(len(cams)))], size,
                            occluder=pick(rng, PREID_OCCLUDERS),
                            occluder_strength=float(rng.uniform(0.3, 0.6)), avoid=ctx.avoid)
        save_jpeg(img, ctx.root / PREID_DIR / "occluded_body_images" / name, q)
    return 3 * cfg.partial_reid_images_per_id, records


def write_partial_ilids(ctx: Context, job: PartialIlidsJob) -> JobResult:
    """A gallery image (sometimes occluded) and a partial probe cut from another view."""
    cfg, q, size = ctx.cfg, int(ctx.cfg.jpeg_quality), ctx.cfg.person_size
    pid = job.k + 1
    ident = ctx.persons["partial_ilids"][job.k]
    cams = ctx.cams["partial_ilids"]
    rng = image_rng(cfg.seed, "ilids_gallery", pid, 0)
    occ, strength = occluder_plan(rng, cfg.occluder_prob)
    img = render_person(ident, rng, cams[int(rng.integers(len(cams)))], size, occluder=occ,
                        occluder_strength=strength or None, avoid=ctx.avoid)
    save_jpeg(img, ctx.root / ILIDS_DIR / "Gallery" / f"{pid:03d}.jpg", q)
    rng = image_rng(cfg.seed, "ilids_probe", pid, 0)
    src = render_person(ident, rng, cams[int(rng.integers(len(cams)))], size, avoid=ctx.avoid)
    rel = f"{ILIDS_DIR}/Probe/{pid:03d}.jpg"
    part, rec = partial_record(ctx, "partial_ilids", rel, pid, src, rng, cfg.ilids_sides)
    save_jpeg(part, ctx.root / rel, q)
    return 2, [rec]


def write_casia(ctx: Context, job: CasiaJob) -> JobResult:
    cfg, q = ctx.cfg, int(ctx.cfg.jpeg_quality)
    ident, fid = ctx.faces["casia"][job.k], ctx.casia_ids[job.k]
    lr = image_rng(cfg.seed, "layout", 12, job.k)
    count = int(lr.integers(cfg.face_images_per_train_id[0], cfg.face_images_per_train_id[1] + 1))
    for j in range(1, count + 1):
        img = render_face(ident, image_rng(cfg.seed, "face_casia", fid, j), cfg.face_size)
        save_jpeg(img, ctx.root / CASIA_DIR / f"{fid:07d}" / f"{j:03d}.jpg", q)
    return count, []


def write_lfw(ctx: Context, job: LfwJob) -> JobResult:
    cfg, q = ctx.cfg, int(ctx.cfg.jpeg_quality)
    ident, name = ctx.faces["lfw"][job.k], ctx.lfw_names[job.k]
    count = ctx.lfw_counts[job.k]
    for j in range(1, count + 1):
        img = render_face(ident, image_rng(cfg.seed, "face_lfw", job.k, j), cfg.face_size)
        save_jpeg(img, ctx.root / LFW_DIR / name / f"{name}_{j:04d}.jpg", q)
    return count, []


WRITERS: dict[type, Callable[[Context, Job], JobResult]] = {
    MarketIdJob: write_market_id,
    MarketExtraJob: write_market_extra,
    PartialReidJob: write_partial_reid,
    PartialIlidsJob: write_partial_ilids,
    CasiaJob: write_casia,
    LfwJob: write_lfw,
}


def run_job(ctx: Context, job: Job) -> JobResult:
    """Render and write one job's files; return (files written, partial-image records)."""
    try:
        writer = WRITERS[type(job)]
    except KeyError:  # pragma: no cover - a programming error
        raise TypeError(f"unknown job type {type(job).__name__}") from None
    return writer(ctx, job)

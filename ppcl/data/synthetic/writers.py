"""The writers: one function per kind of job renders its images and writes them in the real layout.

:func:`run_job` dispatches on the job's type (:data:`WRITERS`). Partial images are exact pixel
crops (:func:`ppcl.data.partial.crop_pixels`) of a holistic rendering of the same identity,
which is saved losslessly under ``partial_sources/`` and described by a record for the meta file.

Every pedestrian image (and every holistic source) is also described by its body record
(:func:`body_record`): where the body stands in it, whether it was flipped, and its box.
Which images get a detection box (:func:`framing`) is decided here, from the config's
``detection`` mode.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ..partial import crop_pixels, sample_body_crop_t, sample_partial_t
from .config import CASIA_DIR, ILIDS_DIR, LARGE_DIR, LFW_DIR, MARKET_DIR, PREID_DIR, SOURCES_DIR
from .detection import OCCLUDERS, Box, Placement, render_detection, sample_detection_box
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
from .streams import box_rng, image_rng

JobResult = tuple[int, list[dict], dict[str, dict]]  # files written, partial-image records, body records
PREID_OCCLUDERS = ("box", "bush", "car", "person", "side", "pole")


def save_jpeg(img: np.ndarray, path: Path, quality: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, format="JPEG", quality=quality)


def save_png(img: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, format="PNG")


def framing(ctx: Context, code: str, ident: int, index: int, detected: bool, seed: int | None = None
            ) -> tuple[Box | None, str, float]:
    """The box of the image ``(code, ident, index)``: ``(box for render_detection, kind, IoU with the tight box)``.

    ``detected`` images get a detection box (from their own stream, :func:`.streams.box_rng`)
    when the config's ``detection`` is ``"detector"``; all others keep the tight box.
    """
    cfg = ctx.cfg
    if not detected or cfg.detection == "aligned":
        return None, "tight", 1.0
    box, iou = sample_detection_box(box_rng(cfg.seed if seed is None else seed, code, ident, index), cfg.box_log_scale_h,
                                    cfg.box_log_scale_w, cfg.box_shift, cfg.min_box_iou)
    return box, "detector", iou


def body_record(placement: Placement | None, kind: str, iou: float | None) -> dict:
    """One image's entry of the meta's ``bodies``: ``body = [cx, top, width_scale, ph]`` in
    fractions of the frame after the flip, ``flipped``, the ``box`` kind (tight, detector, bad,
    none) and ``box_iou`` (IoU of the frame with the tight box, where defined)."""
    return {
        "body": None if placement is None else [round(float(x), 6) for x in placement.body()],
        "flipped": None if placement is None else placement.flipped,
        "box": kind,
        "box_iou": None if iou is None else round(float(iou), 6),
    }


def partial_record(ctx: Context, dataset: str, rel: str, pid: int, src_img: np.ndarray, rng: np.random.Generator,
                   sides: tuple[str, ...], where: Placement) -> tuple[np.ndarray, dict]:
    """Cut a partial image out of a holistic rendering (around the visible part of its body, or a
    region of its frame: the config's ``partial_crop``); save the rendering; describe both."""
    if ctx.cfg.partial_crop == "body":
        t, side = sample_body_crop_t(rng, where.body(), ctx.cfg.partial_area, sides, ctx.cfg.partial_margin)
    else:
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
    """Training and gallery images get detection boxes; queries are hand-drawn (the tight box)."""
    cfg, q = ctx.cfg, int(ctx.cfg.jpeg_quality)
    ident = ctx.persons[job.pool][job.k]
    bodies = {}
    for s in job.shots:
        rng = image_rng(cfg.seed, s.code, job.pid, s.index)
        box, kind, iou = framing(ctx, s.code, job.pid, s.index, s.code != "market_query")
        img, where = render_detection(ident, rng, ctx.cams["market"][s.cam - 1], cfg.person_size, view=s.view,
                                      occluder=s.occluder, occluder_strength=s.strength or None, box=box,
                                      avoid=ctx.avoid)
        save_jpeg(img, ctx.root / MARKET_DIR / s.folder / s.name, q)
        bodies[f"{MARKET_DIR}/{s.folder}/{s.name}"] = body_record(where, kind, iou)
    return len(job.shots), [], bodies


def write_market_extra(ctx: Context, job: MarketExtraJob) -> JobResult:
    """Distractors (a bad box, or a person of no test id in a tight box) and junk (no person)."""
    cfg, q, size = ctx.cfg, int(ctx.cfg.jpeg_quality), ctx.cfg.person_size
    bodies = {}
    for box in job.boxes:
        camera = ctx.cams["market"][box.cam - 1]
        if box.kind == "distractor":
            rng = image_rng(cfg.seed, "market_distractor", 0, box.index)
            bad = rng.random() < 0.6  # a bad detection of a person, or a person outside the test ids
            occ = pick(rng, OCCLUDERS) if rng.random() < 0.3 else None
            img, where = render_detection(ctx.persons["market_distractor"][box.index], rng, camera, size,
                                          misalign=4.0 if bad else 1.0, occluder=occ, avoid=ctx.avoid)
            record = body_record(where, "bad", None) if bad else body_record(where, "tight", 1.0)
        else:
            rng = image_rng(cfg.seed, "market_junk", 0, box.index)
            occ = "person" if rng.random() < 0.4 else None
            img, _ = render_detection(None, rng, camera, size, occluder=occ, occluder_strength=0.8, avoid=ctx.avoid)
            record = body_record(None, "none", None)
        save_jpeg(img, ctx.root / MARKET_DIR / "bounding_box_test" / box.name, q)
        bodies[f"{MARKET_DIR}/bounding_box_test/{box.name}"] = record
    return len(job.boxes), [], bodies


def _draw(large: bool) -> tuple[str, str]:
    """``(folder prefix, name suffix)`` of the real-size draw or the larger one (``large/``)."""
    return (f"{LARGE_DIR}/", "_large") if large else ("", "")


def _seed(cfg, large: bool) -> int:
    """The seed of a draw's image streams: the larger draws' ``verdict_seed`` when set."""
    return cfg.verdict_seed if large and cfg.verdict_seed else cfg.seed


def write_partial_reid(ctx: Context, job: PartialReidJob) -> JobResult:
    """Per image number: a whole-body image, a partial one cut from another view, an occluded one."""
    cfg, q, size = ctx.cfg, int(ctx.cfg.jpeg_quality), ctx.cfg.person_size
    pid = job.k + 1
    where_to, suffix = _draw(job.large)
    seed = _seed(cfg, job.large)
    ident = ctx.persons[f"partial_reid{suffix}"][job.k]
    cams = ctx.cams["partial_reid"]
    records: list[dict] = []
    bodies = {}
    folder = f"{where_to}{PREID_DIR}"
    for j in range(1, cfg.partial_reid_images_per_id + 1):
        name = f"{pid:03d}_{j:03d}.jpg"
        rng = image_rng(seed, f"preid_whole{suffix}", pid, j)
        box, kind, iou = framing(ctx, f"preid_whole{suffix}", pid, j, True, seed)
        img, where = render_detection(ident, rng, cams[int(rng.integers(len(cams)))], size, box=box, avoid=ctx.avoid)
        save_jpeg(img, ctx.root / folder / "whole_body_images" / name, q)
        bodies[f"{folder}/whole_body_images/{name}"] = body_record(where, kind, iou)
        rng = image_rng(seed, f"preid_partial{suffix}", pid, j)
        box, kind, iou = framing(ctx, f"preid_partial{suffix}", pid, j, True, seed)
        src, where = render_detection(ident, rng, cams[int(rng.integers(len(cams)))], size, box=box, avoid=ctx.avoid)
        rel = f"{folder}/partial_body_images/{name}"
        part, rec = partial_record(ctx, f"partial_reid{suffix}", rel, pid, src, rng, cfg.partial_reid_sides, where)
        save_jpeg(part, ctx.root / rel, q)
        records.append(rec)
        bodies[rec["source"]] = body_record(where, kind, iou)
        rng = image_rng(seed, f"preid_occluded{suffix}", pid, j)
        img, where = render_detection(ident, rng, cams[int(rng.integers(len(cams)))], size,
                                      occluder=pick(rng, PREID_OCCLUDERS),
                                      occluder_strength=float(rng.uniform(0.3, 0.6)), avoid=ctx.avoid)
        save_jpeg(img, ctx.root / folder / "occluded_body_images" / name, q)
        bodies[f"{folder}/occluded_body_images/{name}"] = body_record(where, "tight", 1.0)
    return 3 * cfg.partial_reid_images_per_id, records, bodies


def write_partial_ilids(ctx: Context, job: PartialIlidsJob) -> JobResult:
    """A gallery image (sometimes occluded) and a partial probe cut from another view."""
    cfg, q, size = ctx.cfg, int(ctx.cfg.jpeg_quality), ctx.cfg.person_size
    pid = job.k + 1
    where_to, suffix = _draw(job.large)
    seed = _seed(cfg, job.large)
    folder = f"{where_to}{ILIDS_DIR}"
    ident = ctx.persons[f"partial_ilids{suffix}"][job.k]
    cams = ctx.cams["partial_ilids"]
    rng = image_rng(seed, f"ilids_gallery{suffix}", pid, 0)
    occ, strength = occluder_plan(rng, cfg.occluder_prob)
    box, kind, iou = framing(ctx, f"ilids_gallery{suffix}", pid, 0, True, seed)
    img, where = render_detection(ident, rng, cams[int(rng.integers(len(cams)))], size, occluder=occ,
                                  occluder_strength=strength or None, box=box, avoid=ctx.avoid)
    save_jpeg(img, ctx.root / folder / "Gallery" / f"{pid:03d}.jpg", q)
    bodies = {f"{folder}/Gallery/{pid:03d}.jpg": body_record(where, kind, iou)}
    rng = image_rng(seed, f"ilids_probe{suffix}", pid, 0)
    box, kind, iou = framing(ctx, f"ilids_probe{suffix}", pid, 0, True, seed)
    src, where = render_detection(ident, rng, cams[int(rng.integers(len(cams)))], size, box=box, avoid=ctx.avoid)
    rel = f"{folder}/Probe/{pid:03d}.jpg"
    part, rec = partial_record(ctx, f"partial_ilids{suffix}", rel, pid, src, rng, cfg.ilids_sides, where)
    save_jpeg(part, ctx.root / rel, q)
    bodies[rec["source"]] = body_record(where, kind, iou)
    return 2, [rec], bodies


def write_casia(ctx: Context, job: CasiaJob) -> JobResult:
    cfg, q = ctx.cfg, int(ctx.cfg.jpeg_quality)
    ident, fid = ctx.faces["casia"][job.k], ctx.casia_ids[job.k]
    lr = image_rng(cfg.seed, "layout", 12, job.k)
    count = int(lr.integers(cfg.face_images_per_train_id[0], cfg.face_images_per_train_id[1] + 1))
    for j in range(1, count + 1):
        img = render_face(ident, image_rng(cfg.seed, "face_casia", fid, j), cfg.face_size)
        save_jpeg(img, ctx.root / CASIA_DIR / f"{fid:07d}" / f"{j:03d}.jpg", q)
    return count, [], {}


def write_lfw(ctx: Context, job: LfwJob) -> JobResult:
    cfg, q = ctx.cfg, int(ctx.cfg.jpeg_quality)
    ident, name = ctx.faces["lfw"][job.k], ctx.lfw_names[job.k]
    count = ctx.lfw_counts[job.k]
    for j in range(1, count + 1):
        img = render_face(ident, image_rng(cfg.seed, "face_lfw", job.k, j), cfg.face_size)
        save_jpeg(img, ctx.root / LFW_DIR / name / f"{name}_{j:04d}.jpg", q)
    return count, [], {}


WRITERS: dict[type, Callable[[Context, Job], JobResult]] = {
    MarketIdJob: write_market_id,
    MarketExtraJob: write_market_extra,
    PartialReidJob: write_partial_reid,
    PartialIlidsJob: write_partial_ilids,
    CasiaJob: write_casia,
    LfwJob: write_lfw,
}


def run_job(ctx: Context, job: Job) -> JobResult:
    """Render and write one job's files; return (files written, partial-image records, body records)."""
    try:
        writer = WRITERS[type(job)]
    except KeyError:  # pragma: no cover - a programming error
        raise TypeError(f"unknown job type {type(job).__name__}") from None
    return writer(ctx, job)

"""The dataset's plan: identities, cameras and names shared by all jobs, and the jobs themselves.

:func:`build_context` derives from a config everything the jobs share (cheap enough to rebuild
in every worker). :func:`make_jobs` lists every unit of work in a fixed order as small frozen,
picklable records, one type per kind of work (:data:`Job`); :mod:`.writers` renders them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .camera import Camera, cameras
from .config import SyntheticConfig
from .detection import OCCLUDERS
from .faces import FaceIdentity, face_pools
from .identities import PersonIdentity, person_pools
from .lfw_layout import lfw_image_counts, person_names
from .palettes import pick
from .pose import VIEW_WEIGHTS, VIEWS
from .streams import image_rng, stream

MARKET_CAMERAS = 6
PREID_CAMERAS = 4
ILIDS_CAMERAS = 3
PREID_SCENES = ("park", "plaza", "building")
ILIDS_SCENES = ("indoor",)
EXTRA_BATCH = 8  # distractor / junk boxes per job
PERSON_POOLS = ("market_train", "market_test", "partial_reid", "partial_ilids", "market_distractor",
                "partial_reid_large", "partial_ilids_large")  # appended last: the earlier pools stay as they were


@dataclass
class Context:
    """Everything derived from the config that jobs share (cheap to rebuild in each worker)."""

    cfg: SyntheticConfig
    root: Path
    train_pids: list[int]
    test_pids: list[int]
    persons: dict[str, list[PersonIdentity]]
    faces: dict[str, list[FaceIdentity]]
    casia_ids: list[int]
    lfw_names: list[str]
    lfw_counts: list[int]
    cams: dict[str, list[Camera]]
    avoid: frozenset  # every labelled identity's signature (occluding people never match one)


def build_context(cfg: SyntheticConfig, root: Path) -> Context:
    n_tr, n_te = cfg.n_train_ids, cfg.n_test_ids
    perm = stream(cfg.seed, "layout", 0).permutation(n_tr + n_te) + 1
    train_pids, test_pids = sorted(int(p) for p in perm[:n_tr]), sorted(int(p) for p in perm[n_tr:])
    sizes = (n_tr, n_te, cfg.n_partial_reid_ids, cfg.n_ilids_ids, cfg.n_distractors, cfg.n_partial_reid_ids_large,
             cfg.n_ilids_ids_large)
    persons = dict(zip(PERSON_POOLS, person_pools(cfg.seed, sizes)))
    if cfg.verdict_seed:  # the confirmation draw: the larger sets' people from their own seed, none repeating another's
        seen = {p.signature() for name, pool in persons.items() if not name.endswith("_large") for p in pool}
        large = person_pools(cfg.verdict_seed, sizes[-2:], seen=seen, draw=1)
        persons.update(zip(PERSON_POOLS[-2:], large))
    casia, lfw = face_pools(cfg.seed, [cfg.n_face_train_ids, cfg.n_lfw_ids])
    lr = stream(cfg.seed, "layout", 1)
    casia_ids = [int(x) for x in 45 + np.cumsum(lr.integers(1, 120, cfg.n_face_train_ids)) - 1]
    lfw_counts = lfw_image_counts(stream(cfg.seed, "layout", 2), cfg.n_lfw_ids, cfg.lfw_max_images_per_id)
    cams = {
        "market": cameras(cfg.seed, 0, MARKET_CAMERAS),
        "partial_reid": cameras(cfg.seed, 1, PREID_CAMERAS, PREID_SCENES, 1.5),
        "partial_ilids": cameras(cfg.seed, 2, ILIDS_CAMERAS, ILIDS_SCENES, 3.0),
    }
    avoid = frozenset(p.signature() for pool in persons.values() for p in pool)
    return Context(cfg, root, train_pids, test_pids, persons, {"casia": casia, "lfw": lfw}, casia_ids,
                   person_names(cfg.seed, cfg.n_lfw_ids), lfw_counts, cams, avoid)


# --- jobs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketShot:
    """One image of a Market id: where it goes, its random stream, camera, view and occluder."""

    folder: str  # bounding_box_train | query | bounding_box_test
    code: str  # the split of its random stream (:data:`.streams.SPLIT_CODES`)
    index: int
    name: str
    cam: int  # 1-based
    view: str
    occluder: str | None
    strength: float  # 0.0: none (or drawn)


@dataclass(frozen=True)
class MarketIdJob:
    """All images of one Market train or test id."""

    pool: str  # market_train | market_test
    k: int  # index in the pool
    pid: int
    shots: tuple[MarketShot, ...]


@dataclass(frozen=True)
class ExtraBox:
    """A Market gallery box of no test id: a distractor (id 0) or junk (id -1)."""

    kind: str  # distractor | junk
    index: int
    name: str
    cam: int


@dataclass(frozen=True)
class MarketExtraJob:
    boxes: tuple[ExtraBox, ...]


@dataclass(frozen=True)
class PartialReidJob:
    """Whole, partial and occluded images of the Partial-REID id ``k + 1`` (of the larger draw
    under ``large/`` when ``large``)."""

    k: int
    large: bool = False


@dataclass(frozen=True)
class PartialIlidsJob:
    """Gallery image and partial probe of the Partial-iLIDS id ``k + 1`` (of the larger draw
    under ``large/`` when ``large``)."""

    k: int
    large: bool = False


@dataclass(frozen=True)
class CasiaJob:
    """All images of the ``k``-th CASIA-WebFace-style training id."""

    k: int


@dataclass(frozen=True)
class LfwJob:
    """All images of the ``k``-th LFW-style person."""

    k: int


Job = MarketIdJob | MarketExtraJob | PartialReidJob | PartialIlidsJob | CasiaJob | LfwJob


def occluder_plan(rng: np.random.Generator, prob: float) -> tuple[str | None, float]:
    """With probability ``prob`` an occluder kind and its strength, else ``(None, 0.0)``."""
    if rng.random() >= prob:
        return None, 0.0
    return pick(rng, OCCLUDERS), float(np.round(rng.uniform(0.15, 0.4), 4))


def market_name(pid: int, cam: int, seq: int, frame: int, box: int = 1) -> str:
    return f"{'-1' if pid < 0 else f'{pid:04d}'}_c{cam}s{seq}_{frame:06d}_{box:02d}.jpg"


def market_id_plan(cfg: SyntheticConfig, pid: int, split: str) -> tuple[MarketShot, ...]:
    """The images of one Market id (``split``: train or test).

    A person walks past several cameras; in each it leaves a tracklet (one sequence, increasing
    frames, mostly one view). Test ids get ``n_query_per_id`` queries from distinct cameras and
    a gallery spanning at least two cameras, so every query has a cross-camera true match.
    """
    lr = image_rng(cfg.seed, "layout", 10 if split == "train" else 11, pid)
    if split == "train":
        n = int(lr.integers(cfg.images_per_train_id[0], cfg.images_per_train_id[1] + 1))
        m = min(int(lr.integers(2, MARKET_CAMERAS + 1)), n)
    else:
        nq = cfg.n_query_per_id
        ng = int(lr.integers(cfg.n_gallery_per_id[0], cfg.n_gallery_per_id[1] + 1))
        n = nq + ng
        m = max(int(lr.integers(2, MARKET_CAMERAS + 1)), nq, 2)
    cams = [int(c) + 1 for c in lr.permutation(MARKET_CAMERAS)[:m]]
    seq = {c: int(lr.integers(1, 7)) for c in cams}
    frame = {c: int(lr.integers(0, 800_000)) for c in cams}
    view = {c: pick(lr, VIEWS, VIEW_WEIGHTS) for c in cams}
    if split == "train":
        img_cams = cams + [cams[int(lr.integers(m))] for _ in range(n - m)] if n >= m else cams[:n]
        kinds = [("bounding_box_train", "market_train", j) for j in range(n)]
    else:
        g_cams = [cams[0], cams[1]] + [cams[int(lr.integers(m))] for _ in range(ng - 2)]
        img_cams = cams[:nq] + g_cams
        kinds = [("query", "market_query", j) for j in range(nq)] + [("bounding_box_test", "market_gallery", j) for j in range(ng)]
    shots = []
    for (folder, code, j), c in zip(kinds, img_cams):
        frame[c] += int(lr.integers(5, 60))
        v = view[c] if lr.random() < 0.7 else pick(lr, VIEWS, VIEW_WEIGHTS)
        occ, strength = occluder_plan(lr, cfg.occluder_prob)
        box = 2 if lr.random() < 0.08 else 1
        shots.append(MarketShot(folder, code, j, market_name(pid, c, seq[c], frame[c], box), c, v, occ, strength))
    return tuple(shots)


def extra_boxes(cfg: SyntheticConfig) -> list[ExtraBox]:
    """The distractor boxes, then the junk boxes, with their names and cameras."""
    lr = stream(cfg.seed, "layout", 3)
    boxes = []
    for j in range(cfg.n_distractors):
        c = int(lr.integers(1, MARKET_CAMERAS + 1))
        name = market_name(0, c, int(lr.integers(1, 7)), 1000 * j + int(lr.integers(1000)), int(lr.integers(1, 4)))
        boxes.append(ExtraBox("distractor", j, name, c))
    for j in range(cfg.n_junk):
        c = int(lr.integers(1, MARKET_CAMERAS + 1))
        name = market_name(-1, c, int(lr.integers(1, 7)), 1000 * j + int(lr.integers(1000)), 1)
        boxes.append(ExtraBox("junk", j, name, c))
    return boxes


def make_jobs(ctx: Context) -> list[Job]:
    """Every unit of work, in a fixed order; each is small and picklable."""
    cfg = ctx.cfg
    jobs: list[Job] = []
    for k, pid in enumerate(ctx.train_pids):
        jobs.append(MarketIdJob("market_train", k, pid, market_id_plan(cfg, pid, "train")))
    for k, pid in enumerate(ctx.test_pids):
        jobs.append(MarketIdJob("market_test", k, pid, market_id_plan(cfg, pid, "test")))
    extra = extra_boxes(cfg)
    for start in range(0, len(extra), EXTRA_BATCH):
        jobs.append(MarketExtraJob(tuple(extra[start:start + EXTRA_BATCH])))
    jobs += [PartialReidJob(k) for k in range(cfg.n_partial_reid_ids)]
    jobs += [PartialIlidsJob(k) for k in range(cfg.n_ilids_ids)]
    jobs += [PartialReidJob(k, large=True) for k in range(cfg.n_partial_reid_ids_large)]
    jobs += [PartialIlidsJob(k, large=True) for k in range(cfg.n_ilids_ids_large)]
    jobs += [CasiaJob(k) for k in range(cfg.n_face_train_ids)]
    jobs += [LfwJob(k) for k in range(cfg.n_lfw_ids)]
    return jobs

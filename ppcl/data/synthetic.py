"""Deterministic synthetic pedestrians and faces: the kit's embedded default dataset.

The generator renders small images with numpy (PIL only encodes them) and writes them in the
*same* on-disk layouts as the real datasets, so the kit's real readers load them unchanged::

    synthetic-<key>/
        Market-1501-v15.09.15/{bounding_box_train,query,bounding_box_test}/PPPP_cCsS_FFFFFF_NN.jpg
        Partial-REID_Dataset/{partial_body_images,whole_body_images,occluded_body_images}/PPP_NNN.jpg
        Partial_iLIDS/{Probe,Gallery}/PPP.jpg + Probe.txt + Gallery.txt
        lfw/<First_Last>/<First_Last>_NNNN.jpg + pairs.txt       (faces: ppcl.data.synthetic_faces)
        CASIA-WebFace/<7-digit id>/NNN.jpg
        partial_sources/...png    the holistic renderings the partial images were cut from
        synthetic_meta.json       config, identities, and every partial image's exact t and side

**Identity model.** A pedestrian is drawn from *parts* (head: skin, hair colour and style or a
cap; top: colour, pattern, sleeves; bottom: kind, colour, pattern; shoes; bag) picked from small
shared palettes. About half of a dataset's identities are *siblings* of an earlier one in the same
dataset (one or two of head / top / bottom / shoes / bag re-drawn), so a crop showing one part is
genuinely ambiguous while the whole person is unique: no two identities agree in every part.

**Image model.** Each image varies what a re-ID camera varies: the camera (its own white balance,
colour cast, brightness, contrast, saturation, gamma, blur, noise, resolution and background
scene), the detector box (position, scale and aspect of the person, a few % up to ~15%, sometimes
cutting the feet or head), the pose (view front / back / side, leg stride, arm swing), a
left-right flip, background clutter, occluders (poles, boxes, bushes, other people) on a
fraction of images, and JPEG at quality 90.

**Determinism.** Every image draws from ``np.random.default_rng([seed, split, id, index])`` (see
:func:`image_rng`), identities and cameras likewise, so one seed gives byte-identical files in any
order and with any number of worker processes.

Partial images (Partial-REID ``partial_body_images``, Partial-iLIDS ``Probe``) are exact pixel
crops (:func:`ppcl.data.partial.crop_pixels`) of a holistic rendering of the same identity from
another view, saved at their own pixel size; their realised t (the convention of
:mod:`ppcl.geometry`) and side are in ``synthetic_meta.json``, and the holistic rendering itself is
saved losslessly under ``partial_sources/`` so GLRec can be scored and drawn on them.

Usage::

    from ppcl.data.synthetic import SMOKE, SYNTHETIC, ensure_synthetic
    from ppcl.data.readers import load

    root = ensure_synthetic("~/.cache/ppcl", SYNTHETIC)   # generated once (~30 s on 2 cores)
    market = load("market1501", root)                      # the real reader, unchanged

``generate`` uses worker processes for large configs; call it from a notebook or under an
``if __name__ == "__main__":`` guard on platforms that spawn (macOS, Windows).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

GENERATOR_VERSION = 1
META_NAME = "synthetic_meta.json"
SOURCES_DIR = "partial_sources"
MARKET_DIR = "Market-1501-v15.09.15"
PREID_DIR = "Partial-REID_Dataset"
ILIDS_DIR = "Partial_iLIDS"
PARTIAL_SIDES = ("top", "bottom", "left", "right", "free")  # as ppcl.data.partial.SIDES (no torch import here)

# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that determines a synthetic dataset; :meth:`key` names its folder.

    Sizes are ``(height, width)``; ranges ``(lo, hi)`` are inclusive integer ranges drawn per id.
    The defaults are the ``synthetic`` profile; :data:`SMOKE` is a handful of ids.
    """

    seed: int = 0
    # Market-1501 style train / query / gallery
    n_train_ids: int = 300
    images_per_train_id: tuple[int, int] = (8, 16)
    n_test_ids: int = 100
    n_query_per_id: int = 2
    n_gallery_per_id: tuple[int, int] = (4, 8)
    n_distractors: int = 40
    n_junk: int = 20
    person_size: tuple[int, int] = (128, 64)
    occluder_prob: float = 0.15
    # Partial-REID and Partial-iLIDS style test sets
    n_partial_reid_ids: int = 60
    partial_reid_images_per_id: int = 5
    n_ilids_ids: int = 119
    partial_area: tuple[float, float] = (0.3, 0.8)
    partial_reid_sides: tuple[str, ...] = ("top", "bottom", "left", "right", "free")
    ilids_sides: tuple[str, ...] = ("top", "top", "top", "left", "right", "free")
    # Faces: CASIA-WebFace style training ids, LFW style test ids
    n_face_train_ids: int = 300
    face_images_per_train_id: tuple[int, int] = (6, 14)
    n_lfw_ids: int = 250
    lfw_max_images_per_id: int = 30
    lfw_folds: int = 10
    lfw_pairs_per_fold: int = 30
    face_size: tuple[int, int] = (64, 64)
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        for name in ("person_size", "face_size"):
            h, w = getattr(self, name)
            if h < 16 or w < 8:
                raise ValueError(f"{name} must be at least (16, 8); got {(h, w)}")
        for name in ("images_per_train_id", "n_gallery_per_id", "face_images_per_train_id"):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                raise ValueError(f"{name} must be a range 1 <= lo <= hi; got {(lo, hi)}")
        if self.n_gallery_per_id[0] < 2:
            raise ValueError("n_gallery_per_id must start at 2 or more (gallery spans two cameras)")
        if not 1 <= self.n_query_per_id <= 6:
            raise ValueError(f"n_query_per_id must be 1..6 (one per camera); got {self.n_query_per_id}")
        for name in ("partial_reid_sides", "ilids_sides"):
            sides = getattr(self, name)
            if not sides or set(sides) - set(PARTIAL_SIDES):
                raise ValueError(f"{name} must be a non-empty tuple of {PARTIAL_SIDES}; got {sides}")
        lo, hi = self.partial_area
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"partial_area must satisfy 0 < lo <= hi <= 1; got {self.partial_area}")
        if self.n_partial_reid_ids > 999 or self.n_ilids_ids > 999:
            raise ValueError("Partial-REID / Partial-iLIDS ids are 3-digit: at most 999")
        if self.n_train_ids + self.n_test_ids > 9999:
            raise ValueError("Market-1501 ids are 4-digit: n_train_ids + n_test_ids must be <= 9999")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SyntheticConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown SyntheticConfig fields: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def key(self) -> str:
        """Short stable hash of the config and the generator version (names the folder)."""
        blob = json.dumps({"version": GENERATOR_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:10]


#: A handful of ids: generates in about a second (tests, nbval).
SMOKE = SyntheticConfig(
    n_train_ids=12,
    images_per_train_id=(4, 6),
    n_test_ids=6,
    n_query_per_id=1,
    n_gallery_per_id=(2, 3),
    n_distractors=3,
    n_junk=2,
    n_partial_reid_ids=6,
    partial_reid_images_per_id=2,
    n_ilids_ids=6,
    n_face_train_ids=8,
    face_images_per_train_id=(3, 4),
    n_lfw_ids=12,
    lfw_max_images_per_id=6,
    lfw_folds=2,
    lfw_pairs_per_fold=3,
)
#: The ``synthetic`` profile (the defaults).
SYNTHETIC = SyntheticConfig()
PRESETS: dict[str, SyntheticConfig] = {"smoke": SMOKE, "synthetic": SYNTHETIC}

# ---------------------------------------------------------------------------------------------
# Random streams: one per (seed, split, id, index), never shared between images
# ---------------------------------------------------------------------------------------------

SPLIT_CODES: dict[str, int] = {
    "market_train": 1,
    "market_query": 2,
    "market_gallery": 3,
    "market_distractor": 4,
    "market_junk": 5,
    "preid_whole": 6,
    "preid_partial": 7,
    "preid_occluded": 8,
    "ilids_probe": 9,
    "ilids_gallery": 10,
    "face_casia": 11,
    "face_lfw": 12,
    "layout": 20,
    "camera": 30,
    "identities": 40,
    "names": 50,
}


def image_rng(seed: int, split: str, ident: int, index: int, *extra: int) -> np.random.Generator:
    """The random stream of one image: depends on nothing but its coordinates."""
    return np.random.default_rng([int(seed), SPLIT_CODES[split], int(ident), int(index), *map(int, extra)])


# ---------------------------------------------------------------------------------------------
# A tiny anti-aliased rasteriser: signed distance functions painted into a float image
# ---------------------------------------------------------------------------------------------

SDF = Callable[[np.ndarray, np.ndarray], np.ndarray]
Shape = tuple[SDF, tuple[float, float, float, float]]  # (distance function, local bbox)
_BIG = 1e3


class Raster:
    """Paint shapes, given in a local frame, into a float32 ``H x W x 3`` image in ``[0, 1]``.

    Pixel centre ``(X, Y)`` maps to local ``u = R(X - ox) / sx``, ``v = R(Y - oy) / sy`` with R a
    rotation by ``angle``. Distances returned by shapes are in local units; a one-pixel soft edge
    anti-aliases them. Only each shape's bounding window is evaluated.
    """

    def __init__(self, img: np.ndarray, ox: float, oy: float, sx: float, sy: float, angle: float = 0.0):
        self.img = img
        self.h, self.w = img.shape[:2]
        self.ox, self.oy, self.sx, self.sy = float(ox), float(oy), float(sx), float(sy)
        self.c, self.s = math.cos(angle), math.sin(angle)
        self.rotated = abs(angle) > 1e-9
        self.ppu = math.sqrt(abs(sx * sy))
        xs = (np.arange(self.w, dtype=np.float32) + 0.5 - self.ox)[None, :]
        ys = (np.arange(self.h, dtype=np.float32) + 0.5 - self.oy)[:, None]
        if self.rotated:
            self._U = (self.c * xs + self.s * ys) / self.sx
            self._V = (-self.s * xs + self.c * ys) / self.sy
        else:
            self._U, self._V = xs / self.sx, ys / self.sy

    def to_pixels(self, u: float, v: float) -> tuple[float, float]:
        us, vs = u * self.sx, v * self.sy
        return self.ox + self.c * us - self.s * vs, self.oy + self.s * us + self.c * vs

    def window(self, bbox: tuple[float, float, float, float]):
        u0, v0, u1, v1 = (min(max(b, -_BIG), _BIG) for b in bbox)
        if self.rotated:
            pts = [self.to_pixels(u, v) for u, v in ((u0, v0), (u1, v0), (u0, v1), (u1, v1))]
            xa, xb = min(p[0] for p in pts), max(p[0] for p in pts)
            ya, yb = min(p[1] for p in pts), max(p[1] for p in pts)
        else:
            xa, xb = sorted((self.ox + u0 * self.sx, self.ox + u1 * self.sx))
            ya, yb = sorted((self.oy + v0 * self.sy, self.oy + v1 * self.sy))
        x0, x1 = max(int(math.floor(xa)) - 1, 0), min(int(math.ceil(xb)) + 1, self.w)
        y0, y1 = max(int(math.floor(ya)) - 1, 0), min(int(math.ceil(yb)) + 1, self.h)
        if x0 >= x1 or y0 >= y1:
            return None
        if self.rotated:
            return (slice(y0, y1), slice(x0, x1)), self._U[y0:y1, x0:x1], self._V[y0:y1, x0:x1]
        return (slice(y0, y1), slice(x0, x1)), self._U[:, x0:x1], self._V[y0:y1, :]

    def paint(
        self,
        shape: Shape,
        colour: Sequence[float] | np.ndarray | Callable[[np.ndarray, np.ndarray], np.ndarray],
        shade: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None,
        alpha: float = 1.0,
    ) -> None:
        """Blend ``colour`` (RGB, or a function of ``(U, V)``) inside ``shape``."""
        win = self.window(shape[1])
        if win is None:
            return
        sl, U, V = win
        d = shape[0](U, V)
        a = 0.5 - d * self.ppu
        np.maximum(a, 0.0, out=a)
        np.minimum(a, 1.0, out=a)
        shape_hw = (sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
        if a.shape != shape_hw:
            a = np.broadcast_to(a, shape_hw)
        if alpha != 1.0:
            a = a * alpha
        col = colour(U, V) if callable(colour) else np.asarray(colour, np.float32)
        if shade is not None:
            col = col * shade(U, V, d)[..., None]
        region = self.img[sl]
        region += (col - region) * a[..., None]


def ellipse(cx: float, cy: float, rx: float, ry: float) -> Shape:
    m = min(rx, ry)

    def f(U, V):
        return (np.sqrt(((U - cx) / rx) ** 2 + ((V - cy) / ry) ** 2) - 1.0) * m

    return f, (cx - rx, cy - ry, cx + rx, cy + ry)


def capsule(a: tuple[float, float], b: tuple[float, float], ra: float, rb: float | None = None) -> Shape:
    """Segment a-b thickened by a radius tapering from ``ra`` to ``rb``."""
    rb = ra if rb is None else rb
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    l2 = max(dx * dx + dy * dy, 1e-12)

    def f(U, V):
        px, py = U - ax, V - ay
        h = np.clip((px * dx + py * dy) / l2, 0.0, 1.0)
        return np.hypot(px - h * dx, py - h * dy) - (ra + (rb - ra) * h)

    r = max(ra, rb)
    return f, (min(ax, b[0]) - r, min(ay, b[1]) - r, max(ax, b[0]) + r, max(ay, b[1]) + r)


def rbox(cx: float, cy: float, hw: float, hh: float, r: float = 0.0) -> Shape:
    """Axis-aligned box of half sizes ``hw, hh`` with corner radius ``r``."""
    r = min(r, hw, hh)

    def f(U, V):
        qx, qy = np.abs(U - cx) - (hw - r), np.abs(V - cy) - (hh - r)
        return np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0) - r

    return f, (cx - hw, cy - hh, cx + hw, cy + hh)


def polygon(pts: Sequence[tuple[float, float]]) -> Shape:
    """Convex polygon (vertices in either order)."""
    P = np.asarray(pts, np.float64)
    cen = P.mean(0)
    planes = []
    for i in range(len(P)):
        a, b = P[i], P[(i + 1) % len(P)]
        n = np.array([b[1] - a[1], a[0] - b[0]])
        n /= max(np.hypot(*n), 1e-12)
        if n @ (cen - a) > 0:
            n = -n
        planes.append((float(n[0]), float(n[1]), float(n @ a)))

    def f(U, V):
        d = None
        for nx, ny, o in planes:
            di = nx * U + ny * V - o
            d = di if d is None else np.maximum(d, di)
        return d

    return f, (*P.min(0), *P.max(0))


def intersect(a: Shape, b: Shape) -> Shape:
    ba, bb = a[1], b[1]
    return (lambda U, V: np.maximum(a[0](U, V), b[0](U, V))), (
        max(ba[0], bb[0]), max(ba[1], bb[1]), min(ba[2], bb[2]), min(ba[3], bb[3]))


def union(a: Shape, b: Shape) -> Shape:
    ba, bb = a[1], b[1]
    return (lambda U, V: np.minimum(a[0](U, V), b[0](U, V))), (
        min(ba[0], bb[0]), min(ba[1], bb[1]), max(ba[2], bb[2]), max(ba[3], bb[3]))


def subtract(a: Shape, b: Shape) -> Shape:
    return (lambda U, V: np.maximum(a[0](U, V), -b[0](U, V))), a[1]


def halfplane(nx: float, ny: float, c: float) -> Shape:
    """``nx*u + ny*v <= c`` (inside)."""
    n = math.hypot(nx, ny)
    return (lambda U, V: (nx * U + ny * V - c) / n), (-_BIG, -_BIG, _BIG, _BIG)


def ring(shape: Shape, thickness: float) -> Shape:
    f, bb = shape
    return (lambda U, V: np.abs(f(U, V)) - thickness), (bb[0] - thickness, bb[1] - thickness, bb[2] + thickness, bb[3] + thickness)


def cylinder_shade(r: float, lo: float = 0.72) -> Callable:
    """Brighter along a limb's axis, darker at its silhouette."""
    return lambda U, V, d: lo + (1 - lo) * np.sqrt(np.clip(-d / r, 0.0, 1.0))


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: tuple[int, int]) -> np.ndarray:
    """Low-frequency noise in about ``[-1, 1]``: a coarse random grid, bilinearly upsampled."""
    g = rng.uniform(-1, 1, (cells[0] + 1, cells[1] + 1)).astype(np.float32)
    im = Image.fromarray(g, mode="F").resize((w, h), Image.BILINEAR)
    return np.asarray(im, np.float32)


# ---------------------------------------------------------------------------------------------
# Palettes (RGB in [0, 1]); small on purpose, so identities share parts
# ---------------------------------------------------------------------------------------------

CLOTH: dict[str, tuple[float, float, float]] = {
    "black": (0.09, 0.09, 0.10),
    "charcoal": (0.27, 0.27, 0.29),
    "grey": (0.55, 0.55, 0.56),
    "white": (0.90, 0.90, 0.88),
    "navy": (0.11, 0.15, 0.34),
    "blue": (0.18, 0.36, 0.72),
    "denim": (0.26, 0.36, 0.56),
    "lightblue": (0.58, 0.74, 0.90),
    "red": (0.74, 0.11, 0.12),
    "green": (0.16, 0.44, 0.22),
    "yellow": (0.92, 0.78, 0.18),
    "beige": (0.78, 0.68, 0.52),
    "brown": (0.40, 0.26, 0.16),
    "pink": (0.92, 0.56, 0.66),
    "purple": (0.44, 0.22, 0.54),
    "orange": (0.92, 0.47, 0.13),
}
CLOTH_NAMES = tuple(CLOTH)
TOP_COLOURS = ("black", "charcoal", "grey", "white", "navy", "blue", "red", "green", "yellow", "pink", "purple", "orange", "lightblue")
TOP_WEIGHTS = (5, 2, 3, 5, 2, 3, 2, 2, 1, 1, 1, 1, 2)
BOTTOM_COLOURS = ("black", "charcoal", "navy", "denim", "lightblue", "grey", "beige", "brown", "white", "red")
BOTTOM_WEIGHTS = (6, 2, 3, 4, 2, 2, 2, 1, 1, 1)
ACCENT_COLOURS = ("black", "white", "red", "navy", "yellow", "grey", "green", "blue")
SHOE_COLOURS = ("black", "white", "brown", "grey", "red")
SHOE_WEIGHTS = (5, 4, 2, 2, 1)
BAG_COLOURS = ("black", "brown", "navy", "red", "grey", "beige")
SKIN: tuple[tuple[float, float, float], ...] = (
    (0.96, 0.80, 0.69), (0.91, 0.71, 0.57), (0.80, 0.59, 0.44), (0.62, 0.43, 0.30), (0.40, 0.27, 0.19))
HAIR: tuple[tuple[float, float, float], ...] = (
    (0.06, 0.05, 0.05), (0.20, 0.13, 0.09), (0.40, 0.26, 0.14), (0.80, 0.67, 0.40), (0.60, 0.59, 0.57), (0.50, 0.21, 0.11))
HAIR_WEIGHTS = (6, 4, 2, 1, 1, 1)
HAIR_STYLES = ("short", "long", "bun", "cap", "bald")
HAIR_STYLE_WEIGHTS = (6, 4, 1, 2, 1)
TOP_PATTERNS = ("solid", "stripes", "checks", "logo", "jacket")
TOP_PATTERN_WEIGHTS = (5, 2, 1, 2, 2)
BOTTOM_KINDS = ("trousers", "shorts", "skirt", "long_skirt")
BOTTOM_KIND_WEIGHTS = (7, 2, 1, 1)
BOTTOM_PATTERNS = ("solid", "side_stripe", "checks")
BOTTOM_PATTERN_WEIGHTS = (8, 1, 1)
BAGS = ("none", "backpack", "shoulder", "handbag")
BAG_WEIGHTS = (5, 3, 2, 1)
PART_GROUPS = ("head", "top", "bottom", "shoes", "bag")


def _pick(rng: np.random.Generator, options: Sequence, weights: Sequence[float] | None = None):
    if weights is None:
        return options[int(rng.integers(len(options)))]
    p = np.asarray(weights, np.float64)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def _c(name: str) -> np.ndarray:
    return np.asarray(CLOTH[name], np.float32)


# ---------------------------------------------------------------------------------------------
# Pedestrian identities
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonIdentity:
    """One pedestrian's parts. Unused fields (a solid top's second colour) are ``""``."""

    skin: int
    hair_colour: int
    hair_style: str
    hat_colour: str
    top_colour: str
    top_pattern: str
    top_colour2: str
    sleeves: str
    bottom_kind: str
    bottom_colour: str
    bottom_pattern: str
    bottom_colour2: str
    shoes: str
    bag: str
    bag_colour: str
    bag_side: str
    height: float  # relative body height, about 0.9..1.05
    build: float  # relative body width, about 0.85..1.15
    tone: tuple[float, float]  # small per-person brightness of top and bottom fabric

    def parts(self) -> dict[str, tuple]:
        """The discrete part groups (what a crop of that body region shows)."""
        return {
            "head": (self.skin, self.hair_colour, self.hair_style, self.hat_colour),
            "top": (self.top_colour, self.top_pattern, self.top_colour2, self.sleeves),
            "bottom": (self.bottom_kind, self.bottom_colour, self.bottom_pattern, self.bottom_colour2),
            "shoes": (self.shoes,),
            "bag": (self.bag, self.bag_colour, self.bag_side),
        }

    def signature(self) -> tuple:
        """All discrete parts: two identities are never equal here."""
        return tuple(self.parts().values())

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def sample_identity(rng: np.random.Generator) -> PersonIdentity:
    """Draw a pedestrian's parts from the shared palettes."""
    style = _pick(rng, HAIR_STYLES, HAIR_STYLE_WEIGHTS)
    pattern = _pick(rng, TOP_PATTERNS, TOP_PATTERN_WEIGHTS)
    top = _pick(rng, TOP_COLOURS, TOP_WEIGHTS)
    top2 = ""
    if pattern != "solid":
        top2 = _pick(rng, [c for c in ACCENT_COLOURS if c != top])
    kind = _pick(rng, BOTTOM_KINDS, BOTTOM_KIND_WEIGHTS)
    bpat = _pick(rng, BOTTOM_PATTERNS, BOTTOM_PATTERN_WEIGHTS)
    bottom = _pick(rng, BOTTOM_COLOURS, BOTTOM_WEIGHTS)
    bottom2 = _pick(rng, [c for c in ACCENT_COLOURS if c != bottom]) if bpat != "solid" else ""
    bag = _pick(rng, BAGS, BAG_WEIGHTS)
    return PersonIdentity(
        skin=int(rng.integers(len(SKIN))),
        hair_colour=int(_pick(rng, range(len(HAIR)), HAIR_WEIGHTS)),
        hair_style=style,
        hat_colour=_pick(rng, ("black", "white", "red", "navy", "beige", "grey")) if style == "cap" else "",
        top_colour=top,
        top_pattern=pattern,
        top_colour2=top2,
        sleeves=_pick(rng, ("long", "short"), (3, 2)),
        bottom_kind=kind,
        bottom_colour=bottom,
        bottom_pattern=bpat,
        bottom_colour2=bottom2,
        shoes=_pick(rng, SHOE_COLOURS, SHOE_WEIGHTS),
        bag=bag,
        bag_colour=_pick(rng, BAG_COLOURS) if bag != "none" else "",
        bag_side=_pick(rng, ("left", "right")) if bag in ("shoulder", "handbag") else "",
        height=float(np.round(rng.uniform(0.9, 1.05), 4)),
        build=float(np.round(rng.uniform(0.85, 1.15), 4)),
        tone=(float(np.round(rng.uniform(0.9, 1.1), 4)), float(np.round(rng.uniform(0.9, 1.1), 4))),
    )


_GROUP_FIELDS = {
    "head": ("skin", "hair_colour", "hair_style", "hat_colour"),
    "top": ("top_colour", "top_pattern", "top_colour2", "sleeves"),
    "bottom": ("bottom_kind", "bottom_colour", "bottom_pattern", "bottom_colour2"),
    "shoes": ("shoes",),
    "bag": ("bag", "bag_colour", "bag_side"),
}


def mix_identities(parent, fresh, groups: Iterable[str], group_fields: dict[str, tuple[str, ...]] = _GROUP_FIELDS):
    """``parent`` with the fields of ``groups`` (and every continuous field) taken from ``fresh``."""
    keep = {f for g, fs in group_fields.items() if g not in set(groups) for f in fs}
    return replace(fresh, **{f: getattr(parent, f) for f in keep})


def identity_pools(
    rng: np.random.Generator,
    sizes: Sequence[int],
    sampler: Callable[[np.random.Generator], Any],
    major: Sequence[str],
    minor: Sequence[str],
    group_fields: dict[str, tuple[str, ...]],
    sibling_prob: float = 0.5,
) -> list[list]:
    """Draw disjoint pools of unique identities, about half of each a sibling of an earlier one.

    A sibling copies an earlier identity *of the same pool* and re-draws one major part group
    (plus, sometimes, a minor one), so a crop showing only the shared parts cannot tell them
    apart. Signatures are unique over all pools together.
    """
    seen: set = set()
    pools: list[list] = []
    for size in sizes:
        pool: list = []
        while len(pool) < size:
            fresh = sampler(rng)
            if pool and rng.random() < sibling_prob:
                parent = pool[int(rng.integers(len(pool)))]
                groups = [_pick(rng, major)]
                if rng.random() < 0.5:
                    groups.append(_pick(rng, minor))
                cand = mix_identities(parent, fresh, groups, group_fields)
            else:
                cand = fresh
            sig = cand.signature()
            if sig in seen:
                continue
            seen.add(sig)
            pool.append(cand)
        pools.append(pool)
    return pools


def person_pools(seed: int, sizes: Sequence[int]) -> list[list[PersonIdentity]]:
    """Disjoint pedestrian pools (e.g. train, test, Partial-REID, Partial-iLIDS) for a seed."""
    rng = np.random.default_rng([int(seed), SPLIT_CODES["identities"], 0])
    return identity_pools(rng, sizes, sample_identity, ("head", "top", "bottom"), ("shoes", "bag"), _GROUP_FIELDS)


# ---------------------------------------------------------------------------------------------
# Cameras and backgrounds
# ---------------------------------------------------------------------------------------------

SCENES = ("street", "building", "park", "indoor", "plaza")


@dataclass(frozen=True)
class Camera:
    """A camera's look: colour response, optics, noise, and the scene it watches."""

    index: int
    scene: str
    scene_seed: int
    gains: tuple[float, float, float]
    cast: tuple[float, float, float]
    brightness: float
    contrast: float
    saturation: float
    gamma: float
    blur: float
    noise: float
    lowres: int
    clutter: float  # mean number of clutter shapes in the background


def sample_camera(rng: np.random.Generator, index: int, scenes: Sequence[str] = SCENES, clutter: float = 1.5) -> Camera:
    r3 = lambda lo, hi: tuple(float(np.round(x, 4)) for x in rng.uniform(lo, hi, 3))  # noqa: E731
    return Camera(
        index=index,
        scene=_pick(rng, scenes),
        scene_seed=int(rng.integers(2**31)),
        gains=r3(0.86, 1.14),
        cast=r3(-0.035, 0.035),
        brightness=float(np.round(rng.uniform(0.78, 1.15), 4)),
        contrast=float(np.round(rng.uniform(0.75, 1.15), 4)),
        saturation=float(np.round(rng.uniform(0.55, 1.2), 4)),
        gamma=float(np.round(rng.uniform(0.85, 1.25), 4)),
        blur=float(np.round(rng.uniform(0.0, 0.3), 4)),
        noise=float(np.round(rng.uniform(0.006, 0.03), 4)),
        lowres=int(rng.random() < 0.3) + 1,
        clutter=clutter,
    )


def cameras(seed: int, domain: int, n: int, scenes: Sequence[str] = SCENES, clutter: float = 1.5) -> list[Camera]:
    """``n`` cameras of one domain (0: Market, 1: Partial-REID campus, 2: iLIDS airport)."""
    return [
        sample_camera(np.random.default_rng([int(seed), SPLIT_CODES["camera"], domain, c]), c + 1, scenes, clutter)
        for c in range(n)
    ]


@lru_cache(maxsize=64)
def _scene(kind: str, scene_seed: int, h: int, w: int) -> np.ndarray:
    """A camera's fixed scene, larger than one image (each image sees a random window of it)."""
    rng = np.random.default_rng(scene_seed)
    H, W = int(h * 1.5), w * 4
    y = (np.arange(H, dtype=np.float32)[:, None] + 0.5) / H
    x = (np.arange(W, dtype=np.float32)[None, :] + 0.5) / W
    img = np.empty((H, W, 3), np.float32)
    horizon = rng.uniform(0.3, 0.6)
    ground_cols = {"street": [(0.42, 0.42, 0.43), (0.55, 0.52, 0.48)], "building": [(0.58, 0.55, 0.50), (0.45, 0.30, 0.25)],
                   "park": [(0.50, 0.47, 0.40), (0.30, 0.42, 0.22)], "indoor": [(0.70, 0.68, 0.62), (0.55, 0.55, 0.58)],
                   "plaza": [(0.66, 0.62, 0.55), (0.48, 0.48, 0.50)]}[kind]
    ground = np.asarray(ground_cols[int(rng.integers(len(ground_cols)))], np.float32) * rng.uniform(0.85, 1.1)
    wall_opts = {"street": [(0.60, 0.55, 0.50), (0.35, 0.38, 0.45), (0.70, 0.66, 0.58)],
                 "building": [(0.62, 0.40, 0.32), (0.70, 0.70, 0.68), (0.55, 0.52, 0.46)],
                 "park": [(0.22, 0.36, 0.18), (0.30, 0.42, 0.20)],
                 "indoor": [(0.80, 0.78, 0.72), (0.60, 0.62, 0.66), (0.75, 0.70, 0.60)],
                 "plaza": [(0.50, 0.55, 0.60), (0.68, 0.64, 0.58)]}[kind]
    wall = np.asarray(wall_opts[int(rng.integers(len(wall_opts)))], np.float32) * rng.uniform(0.85, 1.1)
    upper = np.broadcast_to(y < horizon, (H, W))
    img[:] = np.where(upper[..., None], wall, ground)
    # upper scene structure
    if kind in ("street", "building", "plaza"):
        pw, ph = rng.uniform(0.03, 0.07), rng.uniform(0.06, 0.12)
        win = ((x % pw) / pw > 0.35) & ((y % ph) / ph > 0.3) & (y < horizon - 0.05)
        wcol = np.asarray(_pick(rng, [(0.20, 0.25, 0.32), (0.45, 0.55, 0.62), (0.15, 0.15, 0.17)]), np.float32)
        img[win] = img[win] * 0.3 + wcol * 0.7
        # shop fronts / panels of different colours
        edges = np.sort(rng.uniform(0, 1, int(rng.integers(2, 6))))
        for e0, e1 in zip(edges[:-1], edges[1:]):
            m = (x >= e0) & (x < e1) & upper
            tint = rng.uniform(0.75, 1.2, 3).astype(np.float32)
            img[m] *= tint
    elif kind == "park":
        leaves = _smooth_noise(rng, H, W, (6, 24))
        img[upper] *= (1 + 0.35 * leaves[upper])[:, None]
        sky = (y < horizon * rng.uniform(0.2, 0.5)) & (leaves < -0.2)
        img[sky] = np.asarray((0.70, 0.78, 0.86), np.float32)
    else:  # indoor: posters and doors
        for _ in range(int(rng.integers(3, 8))):
            cx, cy = rng.uniform(0, 1), rng.uniform(0.05, horizon - 0.05)
            m = (np.abs(x - cx) < rng.uniform(0.01, 0.04)) & (np.abs(y - cy) < rng.uniform(0.04, 0.12))
            col = rng.uniform(0.1, 0.9, 3)
            img[m] = (col.mean() + (col - col.mean()) * 0.6).astype(np.float32)
    # ground texture: tiles with perspective-ish spacing
    gy = np.clip((y - horizon) / (1 - horizon), 0, 1)
    rows = np.sin(np.sqrt(gy + 1e-3) * rng.uniform(15, 30)) > 0.96
    cols = np.sin(x * rng.uniform(40, 90) + gy * rng.uniform(-8, 8)) > 0.97
    lines = (rows | cols) & ~upper
    img[lines] *= 0.82
    # fixed objects: poles, pillars, benches
    for _ in range(int(rng.integers(1, 4))):
        cx, wdt = rng.uniform(0, 1), rng.uniform(0.004, 0.02)
        top = rng.uniform(0.0, horizon)
        m = (np.abs(x - cx) < wdt) & (y > top) & (y < horizon + rng.uniform(0.05, 0.3))
        img[m] = np.asarray(_pick(rng, [(0.25, 0.25, 0.27), (0.6, 0.6, 0.6), (0.35, 0.3, 0.25)]), np.float32)
    for _ in range(int(rng.integers(0, 3))):
        cx, cy = rng.uniform(0, 1), rng.uniform(horizon, horizon + 0.15)
        m = (np.abs(x - cx) < rng.uniform(0.02, 0.06)) & (np.abs(y - cy) < rng.uniform(0.02, 0.05))
        img[m] = rng.uniform(0.15, 0.7, 3).astype(np.float32)
    # light falloff and grain
    img *= (1 + 0.18 * _smooth_noise(rng, H, W, (3, 8)))[..., None]
    img += rng.normal(0, 0.02, img.shape).astype(np.float32)
    return np.clip(img, 0, 1)


def render_background(rng: np.random.Generator, camera: Camera, size: tuple[int, int]) -> np.ndarray:
    """A float image: a random window of the camera's scene plus random clutter."""
    h, w = size
    scene = _scene(camera.scene, camera.scene_seed, h, w)
    y0 = int(rng.integers(0, scene.shape[0] - h + 1))
    x0 = int(rng.integers(0, scene.shape[1] - w + 1))
    img = scene[y0:y0 + h, x0:x0 + w].copy()
    R = Raster(img, 0, 0, w, h)
    for _ in range(int(rng.poisson(camera.clutter))):
        col = rng.uniform(0.1, 0.9, 3)
        col = col.mean() + (col - col.mean()) * rng.uniform(0.2, 0.8)  # muted, like real clutter
        cx, cy = rng.uniform(0, 1), rng.uniform(0, 1)
        rx, ry = rng.uniform(0.03, 0.25), rng.uniform(0.02, 0.12)
        shp = ellipse(cx, cy, rx, ry) if rng.random() < 0.5 else rbox(cx, cy, rx, ry, 0.01)
        R.paint(shp, col, alpha=float(rng.uniform(0.4, 1.0)))
    g = 1 + rng.uniform(-0.12, 0.12) * (np.linspace(-1, 1, h, dtype=np.float32)[:, None, None])
    return img * g


def apply_camera(img: np.ndarray, camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """Camera response on a float image: colour, exposure, optics, resolution, noise -> uint8."""
    gains = np.asarray(camera.gains, np.float32) * rng.uniform(0.96, 1.04, 3).astype(np.float32)
    gains *= camera.brightness * float(rng.uniform(0.9, 1.1))
    x = img * gains
    x += np.asarray(camera.cast, np.float32)
    m = float(x.mean())
    grey = x.mean(-1, keepdims=True)
    # contrast about the mean, then saturation about each pixel's grey
    x = (grey - m) * camera.contrast + m + (x - grey) * (camera.contrast * camera.saturation)
    np.clip(x, 0.0, 1.0, out=x)
    if camera.lowres > 1:
        h, w = x.shape[:2]
        f = camera.lowres
        hh, ww = h // f * f, w // f * f
        small = x[:hh, :ww].reshape(hh // f, f, ww // f, f, 3).mean((1, 3))
        x[:hh, :ww] = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((ww, hh), Image.BILINEAR),
                                 np.float32) * (1 / 255)
    b = camera.blur + float(rng.uniform(0, 0.1))
    if b > 0:
        x = _blur3(x, b)
    noise = rng.standard_normal(x.shape, dtype=np.float32)
    noise *= camera.noise
    x += noise
    # gamma through a lookup table on 10-bit codes
    idx = np.clip(x * 1023 + 0.5, 0, 1023).astype(np.int16)
    return _gamma_lut(round(camera.gamma, 4))[idx]


@lru_cache(maxsize=256)
def _gamma_lut(gamma: float) -> np.ndarray:
    return (np.clip(np.linspace(0, 1, 1024) ** gamma, 0, 1) * 255 + 0.5).astype(np.uint8)


def _blur3(x: np.ndarray, b: float) -> np.ndarray:
    """Separable 3-tap blur ``[b, 1-2b, b]`` with edge replication."""
    p = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="edge")
    y = (1 - 2 * b) * p[:, 1:-1] + b * (p[:, :-2] + p[:, 2:])
    return (1 - 2 * b) * y[1:-1] + b * (y[:-2] + y[2:])


# ---------------------------------------------------------------------------------------------
# Pedestrians
# ---------------------------------------------------------------------------------------------

VIEWS = ("front", "back", "side")


@dataclass(frozen=True)
class Pose:
    view: str  # front | back | side (side faces +u; flips make it face left)
    stride: float  # -1..1
    swing: float  # -1..1
    head_turn: float  # -1..1, small


def sample_pose(rng: np.random.Generator, view: str | None = None) -> Pose:
    return Pose(
        view=view or _pick(rng, VIEWS, (2, 2, 3)),
        stride=float(rng.uniform(-1, 1)),
        swing=float(rng.uniform(-1, 1)),
        head_turn=float(rng.uniform(-1, 1)),
    )


def _top_colour_fn(ident: PersonIdentity, tone: float) -> Callable:
    c1 = _c(ident.top_colour) * tone
    c2 = _c(ident.top_colour2) if ident.top_colour2 else c1
    pat = ident.top_pattern
    if pat == "stripes":
        return lambda U, V: np.where((((V - 0.15) / 0.045) % 1.0 < 0.5)[..., None], c1, c2)
    if pat == "checks":
        return lambda U, V: np.where(((np.floor(U / 0.04) + np.floor(V / 0.04)) % 2 == 0)[..., None], c1, c2)
    return lambda U, V: np.broadcast_to(c1, np.broadcast_shapes(U.shape, V.shape) + (3,))


def _bottom_colour_fn(ident: PersonIdentity, tone: float) -> Callable | np.ndarray:
    c1 = _c(ident.bottom_colour) * tone
    if ident.bottom_pattern == "checks":
        c2 = _c(ident.bottom_colour2)
        return lambda U, V: np.where(((np.floor(U / 0.035) + np.floor(V / 0.035)) % 2 == 0)[..., None], c1, c2)
    return c1


def draw_person(R: Raster, ident: PersonIdentity, pose: Pose, light: float = 0.0) -> None:
    """Draw a pedestrian in local units: head top at v=0, soles at v=1, body centre at u=0."""
    b = ident.build
    skin = np.asarray(SKIN[ident.skin], np.float32)
    hair = np.asarray(HAIR[ident.hair_colour], np.float32)
    top_fn = _top_colour_fn(ident, ident.tone[0])
    bottom_col = _bottom_colour_fn(ident, ident.tone[1])
    shoe = _c(ident.shoes)
    view, side = pose.view, pose.view == "side"
    torso_shade = (lambda hw: (lambda U, V, d: 0.78 + 0.22 * np.clip(1 - (U / hw) ** 2, 0, 1) + light * U / hw * 0.12))

    # --- skeleton -------------------------------------------------------------------------
    if side:
        th = 0.33 * pose.stride
        hip = (0.0, 0.53)
        legs = []
        for sgn in (1, -1):
            a = th * sgn
            knee = (hip[0] + 0.215 * math.sin(a), hip[1] + 0.215 * math.cos(a))
            bend = 0.25 if a < 0 else 0.05
            ankle = (knee[0] + 0.215 * math.sin(a - bend), knee[1] + 0.215 * math.cos(a - bend))
            legs.append((hip, knee, ankle))
        drop = 0.95 - max(legs[0][2][1], legs[1][2][1])
        legs = [tuple((p[0], p[1] + drop) for p in leg) for leg in legs]
        phi = 0.45 * pose.swing
        sh = (0.0, 0.185 + drop)
        arms = []
        for sgn in (-1, 1):  # back arm first
            a = phi * sgn
            elbow = (sh[0] + 0.15 * math.sin(a), sh[1] + 0.15 * math.cos(a))
            wrist = (elbow[0] + 0.13 * math.sin(a + 0.35), elbow[1] + 0.13 * math.cos(a + 0.35))
            arms.append((sh, elbow, wrist))
        hw_sh, hw_w, hw_h = 0.062 * b, 0.058 * b, 0.068 * b
        head_c = (0.012, 0.068 + drop)
        top_y = drop
    else:
        lift = 0.03 * abs(pose.stride)
        legs = []
        for sgn in (-1, 1):
            hip = (sgn * 0.045 * b, 0.53)
            up = lift if (sgn > 0) == (pose.stride > 0) else 0.0
            knee = (sgn * 0.05 * b, 0.74 - up * 0.5)
            ankle = (sgn * 0.052 * b, 0.95 - up)
            legs.append((hip, knee, ankle))
        arms = []
        for sgn in (-1, 1):
            sh = (sgn * 0.098 * b, 0.185)
            sw = pose.swing * sgn
            elbow = (sgn * 0.118 * b, 0.335 - 0.01 * abs(sw))
            wrist = (sgn * (0.122 * b + 0.01 * sw), 0.465 - 0.03 * max(sw, 0))
            arms.append((sh, elbow, wrist))
        hw_sh, hw_w, hw_h = 0.105 * b, 0.085 * b, 0.09 * b
        head_c = (0.004 * pose.head_turn, 0.068)
        top_y = 0.0

    hx, hy = head_c
    hrx, hry = (0.05 if side else 0.047), 0.066

    def arm_layer(arm, shade_lo):
        sh, el, wr = arm
        sleeve = top_fn
        cyl = cylinder_shade(0.026 * b, shade_lo)
        R.paint(capsule(sh, el, 0.027 * b, 0.023 * b), sleeve, cyl)
        if ident.sleeves == "long":
            R.paint(capsule(el, wr, 0.023 * b, 0.02 * b), sleeve, cyl)
        else:
            mid = (el[0] * 0.85 + sh[0] * 0.15, el[1] * 0.85 + sh[1] * 0.15)
            R.paint(capsule(mid, wr, 0.02 * b, 0.018 * b), skin, cyl)
            R.paint(capsule(sh, mid, 0.028 * b, 0.026 * b), sleeve, cyl)
        R.paint(ellipse(wr[0], wr[1] + 0.018, 0.019 * b, 0.024), skin * shade_lo ** 0.5)

    def leg_layer(leg, shade_lo):
        hip, knee, ankle = leg
        cyl = cylinder_shade(0.04 * b, shade_lo)
        kind = ident.bottom_kind
        if kind == "trousers":
            R.paint(capsule(hip, knee, 0.045 * b, 0.036 * b), bottom_col, cyl)
            R.paint(capsule(knee, ankle, 0.036 * b, 0.032 * b), bottom_col, cyl)
            if ident.bottom_pattern == "side_stripe":
                off = 0.03 * b * (1 if hip[0] >= 0 else -1) if not side else 0.0
                R.paint(capsule((hip[0] + off, hip[1]), (ankle[0] + off, ankle[1]), 0.007), _c(ident.bottom_colour2))
        else:
            R.paint(capsule(hip, knee, 0.037 * b, 0.028 * b), skin, cyl)
            R.paint(capsule(knee, ankle, 0.028 * b, 0.022 * b), skin, cyl)
            if kind == "shorts":
                mid = (hip[0] * 0.3 + knee[0] * 0.7, hip[1] * 0.3 + knee[1] * 0.7)
                R.paint(capsule(hip, mid, 0.047 * b, 0.042 * b), bottom_col, cyl)
        fwd = 0.025 if side else 0.0
        R.paint(ellipse(ankle[0] + fwd, ankle[1] + 0.025, 0.045 if side else 0.034 * b, 0.022),
                shoe, lambda U, V, d: shade_lo + (1 - shade_lo) * np.clip(-d / 0.02, 0, 1))

    # --- back layers ------------------------------------------------------------------------
    bagc = _c(ident.bag_colour) if ident.bag_colour else None
    if ident.hair_style == "long" and view != "side":
        R.paint(rbox(hx, hy + 0.06, hrx * 1.25, 0.1, 0.04), hair)
    if ident.bag == "backpack" and view == "front":
        R.paint(rbox(0, 0.3 + top_y, hw_sh * 1.12, 0.12, 0.03), bagc * 0.8)
    if ident.bag == "backpack" and side:
        R.paint(rbox(-0.1 * b, 0.3 + top_y, 0.05, 0.11, 0.025), bagc)
    if side:
        arm_layer(arms[0], 0.6)
        leg_layer(legs[1], 0.65)
        leg_layer(legs[0], 0.75)
    else:
        for leg in legs:
            leg_layer(leg, 0.72)

    # --- bottom garment at the hips ---------------------------------------------------------
    kind = ident.bottom_kind
    tshade = torso_shade(hw_h)
    if kind in ("trousers", "shorts"):
        R.paint(polygon([(-hw_w, 0.47 + top_y), (hw_w, 0.47 + top_y), (hw_h, 0.55 + top_y), (0.012, 0.6 + top_y),
                         (-0.012, 0.6 + top_y), (-hw_h, 0.55 + top_y)]), bottom_col, tshade)
    else:
        hem = (0.72 if kind == "skirt" else 0.88) + top_y
        flare = 0.035 if kind == "skirt" else 0.05
        R.paint(polygon([(-hw_w, 0.46 + top_y), (hw_w, 0.46 + top_y), (hw_h + flare, hem), (-hw_h - flare, hem)]),
                bottom_col, tshade)

    # --- torso (the top) --------------------------------------------------------------------
    neck = capsule((hx * 0.5, hy + 0.04), (0, 0.165 + top_y), 0.02 * b)
    R.paint(neck, skin * 0.85)
    torso = polygon([(-hw_sh, 0.165 + top_y), (hw_sh, 0.165 + top_y), (hw_sh * 0.97, 0.27 + top_y),
                     (hw_w, 0.46 + top_y), (hw_h * 0.98, 0.53 + top_y), (-hw_h * 0.98, 0.53 + top_y),
                     (-hw_w, 0.46 + top_y), (-hw_sh * 0.97, 0.27 + top_y)])
    R.paint(torso, top_fn, torso_shade(hw_sh))
    R.paint(capsule((-hw_sh * 0.75, 0.18 + top_y), (hw_sh * 0.75, 0.18 + top_y), 0.028 * b), top_fn, torso_shade(hw_sh))
    c2 = _c(ident.top_colour2) if ident.top_colour2 else None
    if ident.top_pattern == "logo" and view == "front":
        R.paint(ellipse(0.012 * b, 0.28, 0.038 * b, 0.036), c2)
        R.paint(ellipse(0.012 * b, 0.28, 0.018 * b, 0.017), _c(ident.top_colour) * ident.tone[0])
    elif ident.top_pattern == "logo" and side:
        R.paint(rbox(0.02, 0.22 + top_y, 0.012, 0.012), c2)
    elif ident.top_pattern == "jacket":
        if view == "front":
            R.paint(polygon([(-0.03 * b, 0.17), (0.03 * b, 0.17), (0.022 * b, 0.52), (-0.022 * b, 0.52)]), c2)
            R.paint(capsule((0, 0.17), (0, 0.52), 0.004), _c(ident.top_colour) * 0.6)
        elif view == "back":
            R.paint(rbox(0, 0.2, hw_sh * 0.8, 0.02, 0.01), c2)  # collar band
        else:
            R.paint(rbox(0.05 * b, 0.33 + top_y, 0.012, 0.17), c2)
    # side view: the trousers' seat shows below the top's hem
    if side and kind in ("trousers", "shorts"):
        R.paint(rbox(0, 0.54 + top_y, hw_h, 0.04, 0.02), bottom_col, tshade)

    # --- arms -------------------------------------------------------------------------------
    if side:
        arm_layer(arms[1], 0.78)
    else:
        for arm in arms:
            arm_layer(arm, 0.75)

    # --- bags -------------------------------------------------------------------------------
    if ident.bag == "backpack":
        if view == "back":
            R.paint(rbox(0, 0.31, hw_sh * 0.9, 0.125, 0.035), bagc, torso_shade(hw_sh))
            R.paint(rbox(0, 0.36, hw_sh * 0.6, 0.04, 0.015), bagc * 0.75)
        elif view == "front":
            for sgn in (-1, 1):
                R.paint(capsule((sgn * hw_sh * 0.55, 0.17), (sgn * hw_sh * 0.62, 0.36), 0.011), bagc * 0.7)
        else:
            R.paint(capsule((0.0, 0.17 + top_y), (-0.02, 0.36 + top_y), 0.01), bagc * 0.7)
    elif ident.bag == "shoulder":
        sgn = 1 if ident.bag_side == "right" else -1
        if view == "back":
            sgn = -sgn
        if side:
            R.paint(capsule((0, 0.17 + top_y), (0.02, 0.45 + top_y), 0.007), bagc * 0.7)
            R.paint(rbox(0.0, 0.5 + top_y, 0.055, 0.045, 0.01), bagc)
        else:
            R.paint(capsule((-sgn * hw_sh * 0.5, 0.17), (sgn * hw_sh * 1.05, 0.46), 0.008), bagc * 0.7)
            R.paint(rbox(sgn * hw_sh * 1.2, 0.5, 0.05 * b, 0.05, 0.012), bagc)
    elif ident.bag == "handbag":
        arm = arms[1] if side else arms[1 if ident.bag_side == "right" else 0]
        wr = arm[2]
        R.paint(rbox(wr[0], wr[1] + 0.07, 0.04, 0.04, 0.01), bagc)
        R.paint(ring(ellipse(wr[0], wr[1] + 0.03, 0.022, 0.02), 0.004), bagc * 0.8)

    # --- head -------------------------------------------------------------------------------
    head = ellipse(hx, hy, hrx, hry)
    face_shade = lambda U, V, d: 0.8 + 0.2 * np.clip(-d / 0.03, 0, 1)  # noqa: E731
    style = ident.hair_style
    if view == "back" and style != "bald":
        R.paint(head, hair, face_shade)
    else:
        R.paint(head, skin, face_shade)
        if style == "bald":
            R.paint(intersect(head, halfplane(0, 1, hy - 0.045)), skin * 0.8)
        elif style != "cap":
            if side:
                R.paint(intersect(ellipse(hx - 0.004, hy - 0.004, hrx * 1.06, hry * 1.04),
                                  union(halfplane(0, 1, hy - 0.03), halfplane(1, 0, hx - 0.012))), hair)
            else:
                fringe = hy - 0.02 + 0.01 * (style == "long")
                R.paint(intersect(ellipse(hx, hy - 0.004, hrx * 1.08, hry * 1.05), halfplane(0, 1, fringe)), hair)
                if style == "long":
                    for sgn in (-1, 1):
                        R.paint(rbox(hx + sgn * hrx * 0.95, hy + 0.03, 0.014, 0.05, 0.01), hair)
        if view == "front":
            for sgn in (-1, 1):
                R.paint(ellipse(hx + sgn * 0.018, hy + 0.002, 0.006, 0.005), (0.1, 0.08, 0.08))
            R.paint(ellipse(hx, hy + 0.038, 0.012, 0.004), skin * 0.65)
        elif side:
            R.paint(ellipse(hx + 0.032, hy, 0.005, 0.005), (0.1, 0.08, 0.08))
    if style == "bun":
        R.paint(ellipse(hx - (0.045 if side else 0.0), hy - (0.05 if not side else 0.02), 0.026, 0.022), hair)
    if style == "cap":
        hc = _c(ident.hat_colour)
        R.paint(intersect(ellipse(hx, hy - 0.006, hrx * 1.1, hry * 1.02), halfplane(0, 1, hy - 0.022)), hc)
        if view == "front":
            R.paint(ellipse(hx, hy - 0.02, hrx * 1.05, 0.011), hc * 0.8)
        elif side:
            R.paint(ellipse(hx + hrx * 0.9, hy - 0.022, 0.035, 0.009), hc * 0.8)


def _draw_occluder(img: np.ndarray, rng: np.random.Generator, kind: str, strength: float,
                   person_box: tuple[float, float, float, float], camera: Camera,
                   avoid: frozenset = frozenset()) -> None:
    """Draw one occluder over ``img`` (float); ``strength`` ~ the fraction of the person hidden."""
    h, w = img.shape[:2]
    R = Raster(img, 0, 0, w, h)  # local = [0, 1]^2 image coordinates
    px0, py0, px1, py1 = person_box
    pw, ph = px1 - px0, py1 - py0
    if kind == "pole":
        cx = rng.uniform(px0, px1)
        hw = max(pw * strength * 0.5, 0.02)
        col = np.asarray(_pick(rng, [(0.3, 0.3, 0.32), (0.55, 0.55, 0.55), (0.6, 0.45, 0.2), (0.2, 0.35, 0.2)]), np.float32)
        R.paint(rbox(cx, 0.5, hw, 0.6), col, lambda U, V, d: 0.75 + 0.25 * np.clip(-d / hw, 0, 1))
    elif kind in ("box", "bush", "car"):
        top = py1 - ph * strength * rng.uniform(0.9, 1.1)
        col = {"box": rng.uniform(0.2, 0.8, 3), "bush": np.array([0.18, 0.38, 0.15]) * rng.uniform(0.7, 1.2),
               "car": np.asarray(_c(_pick(rng, CLOTH_NAMES)))}[kind].astype(np.float32)
        if kind == "bush":
            noise = _smooth_noise(rng, h, w, (6, 4))
            R.paint(rbox(0.5, (top + 1.2) / 2, 0.7, (1.2 - top) / 2, 0.05), lambda U, V: col * (1 + 0.3 * noise[
                np.clip((V * h).astype(int), 0, h - 1), np.clip((U * w).astype(int), 0, w - 1)])[..., None])
        else:
            cx = rng.uniform(px0 - 0.3, px1 + 0.3)
            R.paint(rbox(cx, (top + 1.2) / 2, rng.uniform(0.4, 0.8), (1.2 - top) / 2, 0.03), col,
                    lambda U, V, d: 0.8 + 0.2 * np.clip(-d / 0.05, 0, 1))
    elif kind == "side":  # a wall or door frame covering one side
        frac = strength * rng.uniform(0.9, 1.1)
        left = rng.random() < 0.5
        edge = px0 + pw * frac if left else px1 - pw * frac
        col = rng.uniform(0.2, 0.8, 3).astype(np.float32)
        R.paint(rbox(edge - 0.6 if left else edge + 0.6, 0.5, 0.6, 0.7), col)
    else:  # another person in front, offset sideways
        other = sample_identity(rng)
        while other.signature() in avoid:  # never a look-alike of a labelled identity
            other = sample_identity(rng)
        pose = sample_pose(rng)
        sgn = 1 if rng.random() < 0.5 else -1
        off = sgn * pw * (1.15 - strength * rng.uniform(0.8, 1.2))
        hp = ph * rng.uniform(1.0, 1.2)
        Rp = Raster(img, (px0 + px1) / 2 * w + off * w, py0 * h - (hp - ph) * h * 0.5, hp * h * rng.uniform(0.9, 1.1), hp * h)
        draw_person(Rp, other, pose)


OCCLUDERS = ("pole", "box", "bush", "car", "person", "side")


def render_person(
    identity: PersonIdentity | None,
    rng: np.random.Generator,
    camera: Camera,
    size: tuple[int, int] = (128, 64),
    *,
    view: str | None = None,
    occluder: str | None = None,
    occluder_strength: float | None = None,
    misalign: float = 1.0,
    avoid: frozenset = frozenset(),
) -> np.ndarray:
    """Render one detected pedestrian box as ``uint8 H x W x 3``.

    ``rng`` draws everything that varies per image (pose, box jitter, flip, background,
    clutter, camera noise). ``view`` fixes the view (else drawn); ``occluder`` draws one
    occluder of that kind (see :data:`OCCLUDERS`) over about ``occluder_strength`` of the body;
    ``misalign`` scales the detector-box jitter (3 or more gives distractor-like bad boxes).
    ``identity=None`` renders background only (junk boxes). Occluding people never have a
    signature in ``avoid`` (pass the labelled identities' signatures).
    """
    h, w = size
    pose = sample_pose(rng, view)
    img = render_background(rng, camera, size)
    hscale = identity.height if identity is not None else 1.0
    ph = h * float(np.clip(rng.normal(0.9, 0.035 * misalign), 0.5, 1.25)) * hscale / 1.0
    aspect = float(np.exp(rng.uniform(-0.12, 0.12) * min(misalign, 2)))
    width_scale = ph * aspect  # pixels per local unit across (detector boxes stretch people)
    cx = w * (0.5 + float(np.clip(rng.normal(0, 0.04 * misalign), -0.15 * misalign, 0.15 * misalign)))
    top = (h - ph) / 2 + h * float(np.clip(rng.normal(0, 0.03 * misalign), -0.1 * misalign, 0.1 * misalign))
    if misalign >= 2:  # a bad detection: zoomed into a part, or the person off to one side
        ph = h * float(np.exp(rng.uniform(-0.3, 0.8)))
        width_scale = ph * aspect
        cx = w * float(rng.uniform(0.05, 0.95))
        top = h * float(rng.uniform(-0.6, 0.4)) * (ph / h)
    light = float(rng.uniform(-1, 1))
    if identity is not None:
        R = Raster(img, cx, top, width_scale, ph)
        R.paint(ellipse(0.0, 0.985, 0.13, 0.025), (0.0, 0.0, 0.0), alpha=0.35)  # ground shadow
        draw_person(R, identity, pose, light)
    if occluder is not None:
        strength = occluder_strength if occluder_strength is not None else float(rng.uniform(0.15, 0.35))
        pb = ((cx - 0.12 * width_scale) / w, top / h, (cx + 0.12 * width_scale) / w, (top + ph) / h)
        _draw_occluder(img, rng, occluder, strength, pb, camera, avoid)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    return apply_camera(np.ascontiguousarray(img), camera, rng)


def contact_sheet(rows: Sequence[Sequence[np.ndarray]], pad: int = 2, scale: int = 2) -> np.ndarray:
    """Tile images (rows of uint8 arrays, any sizes) into one uint8 sheet, upscaled by ``scale``."""
    ch = max(im.shape[0] for r in rows for im in r)
    cw = max(im.shape[1] for r in rows for im in r)
    ncol = max(len(r) for r in rows)
    sheet = np.full(((ch + pad) * len(rows) + pad, (cw + pad) * ncol + pad, 3), 255, np.uint8)
    for i, r in enumerate(rows):
        for j, im in enumerate(r):
            y, x = pad + i * (ch + pad), pad + j * (cw + pad)
            sheet[y:y + im.shape[0], x:x + im.shape[1]] = im
    return np.repeat(np.repeat(sheet, scale, 0), scale, 1)


# ---------------------------------------------------------------------------------------------
# The dataset: plans (which file gets which identity, camera and view), jobs, layouts
# ---------------------------------------------------------------------------------------------

MARKET_CAMERAS = 6
PREID_CAMERAS = 4
ILIDS_CAMERAS = 3
PREID_SCENES = ("park", "plaza", "building")
ILIDS_SCENES = ("indoor",)


@dataclass
class _Context:
    """Everything derived from the config that jobs share (cheap to rebuild in each worker)."""

    cfg: SyntheticConfig
    root: Path
    train_pids: list[int]
    test_pids: list[int]
    persons: dict[str, list[PersonIdentity]]
    faces: dict[str, list]
    casia_ids: list[int]
    lfw_names: list[str]
    lfw_counts: list[int]
    cams: dict[str, list[Camera]]
    avoid: frozenset


def _build_context(cfg: SyntheticConfig, root: Path) -> _Context:
    from .synthetic_faces import face_pools, lfw_image_counts, person_names

    n_tr, n_te = cfg.n_train_ids, cfg.n_test_ids
    perm = np.random.default_rng([cfg.seed, SPLIT_CODES["layout"], 0]).permutation(n_tr + n_te) + 1
    train_pids, test_pids = sorted(int(p) for p in perm[:n_tr]), sorted(int(p) for p in perm[n_tr:])
    groups = ("market_train", "market_test", "partial_reid", "partial_ilids", "market_distractor")
    sizes = (n_tr, n_te, cfg.n_partial_reid_ids, cfg.n_ilids_ids, cfg.n_distractors)
    persons = dict(zip(groups, person_pools(cfg.seed, sizes)))
    casia, lfw = face_pools(cfg.seed, [cfg.n_face_train_ids, cfg.n_lfw_ids])
    lr = np.random.default_rng([cfg.seed, SPLIT_CODES["layout"], 1])
    casia_ids = [int(x) for x in 45 + np.cumsum(lr.integers(1, 120, cfg.n_face_train_ids)) - 1]
    lfw_counts = lfw_image_counts(np.random.default_rng([cfg.seed, SPLIT_CODES["layout"], 2]), cfg.n_lfw_ids,
                                  cfg.lfw_max_images_per_id)
    cams = {
        "market": cameras(cfg.seed, 0, MARKET_CAMERAS),
        "partial_reid": cameras(cfg.seed, 1, PREID_CAMERAS, PREID_SCENES, 1.5),
        "partial_ilids": cameras(cfg.seed, 2, ILIDS_CAMERAS, ILIDS_SCENES, 3.0),
    }
    avoid = frozenset(p.signature() for pool in persons.values() for p in pool)
    return _Context(cfg, root, train_pids, test_pids, persons, {"casia": casia, "lfw": lfw}, casia_ids,
                    person_names(cfg.seed, cfg.n_lfw_ids), lfw_counts, cams, avoid)


def _occluder_plan(rng: np.random.Generator, prob: float) -> tuple[str | None, float]:
    if rng.random() >= prob:
        return None, 0.0
    return _pick(rng, OCCLUDERS), float(np.round(rng.uniform(0.15, 0.4), 4))


def _market_name(pid: int, cam: int, seq: int, frame: int, box: int = 1) -> str:
    return f"{'-1' if pid < 0 else f'{pid:04d}'}_c{cam}s{seq}_{frame:06d}_{box:02d}.jpg"


def _market_id_plan(cfg: SyntheticConfig, pid: int, split: str) -> list[tuple]:
    """Images of one Market id as ``(folder, split_code_name, index, name, cam, view, occluder, strength)``.

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
    view = {c: _pick(lr, VIEWS, (2, 2, 3)) for c in cams}
    if split == "train":
        img_cams = cams + [cams[int(lr.integers(m))] for _ in range(n - m)] if n >= m else cams[:n]
        kinds = [("bounding_box_train", "market_train", j) for j in range(n)]
    else:
        g_cams = [cams[0], cams[1]] + [cams[int(lr.integers(m))] for _ in range(ng - 2)]
        img_cams = cams[:nq] + g_cams
        kinds = [("query", "market_query", j) for j in range(nq)] + [("bounding_box_test", "market_gallery", j) for j in range(ng)]
    plan = []
    for (folder, code, j), c in zip(kinds, img_cams):
        frame[c] += int(lr.integers(5, 60))
        v = view[c] if lr.random() < 0.7 else _pick(lr, VIEWS, (2, 2, 3))
        occ, strength = _occluder_plan(lr, cfg.occluder_prob)
        box = 2 if lr.random() < 0.08 else 1
        plan.append((folder, code, j, _market_name(pid, c, seq[c], frame[c], box), c, v, occ, strength))
    return plan


def _jobs(ctx: _Context) -> list[tuple]:
    """Every unit of work, in a fixed order; each is small and picklable."""
    cfg = ctx.cfg
    jobs: list[tuple] = []
    for k, pid in enumerate(ctx.train_pids):
        jobs.append(("market", "market_train", k, pid, _market_id_plan(cfg, pid, "train")))
    for k, pid in enumerate(ctx.test_pids):
        jobs.append(("market", "market_test", k, pid, _market_id_plan(cfg, pid, "test")))
    lr = np.random.default_rng([cfg.seed, SPLIT_CODES["layout"], 3])
    extra = []
    for j in range(cfg.n_distractors):
        c = int(lr.integers(1, MARKET_CAMERAS + 1))
        extra.append(("distractor", j, _market_name(0, c, int(lr.integers(1, 7)), 1000 * j + int(lr.integers(1000)),
                                                    int(lr.integers(1, 4))), c))
    for j in range(cfg.n_junk):
        c = int(lr.integers(1, MARKET_CAMERAS + 1))
        extra.append(("junk", j, _market_name(-1, c, int(lr.integers(1, 7)), 1000 * j + int(lr.integers(1000)), 1), c))
    for start in range(0, len(extra), 8):
        jobs.append(("market_extra", extra[start:start + 8]))
    for k in range(cfg.n_partial_reid_ids):
        jobs.append(("partial_reid", k))
    for k in range(cfg.n_ilids_ids):
        jobs.append(("partial_ilids", k))
    for k in range(cfg.n_face_train_ids):
        jobs.append(("casia", k))
    for k in range(cfg.n_lfw_ids):
        jobs.append(("lfw", k))
    return jobs


def _save_jpeg(img: np.ndarray, path: Path, quality: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, format="JPEG", quality=quality)


def _save_png(img: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, format="PNG")


def _partial_record(ctx: _Context, dataset: str, rel: str, pid: int, src_img: np.ndarray, rng: np.random.Generator,
                    sides: tuple[str, ...]) -> tuple[np.ndarray, dict]:
    """Cut a partial image out of a holistic rendering; save the rendering; describe both."""
    from .partial import crop_pixels, sample_partial_t

    t, side = sample_partial_t(rng, ctx.cfg.partial_area, sides)
    part, t_real = crop_pixels(src_img, t)
    src_rel = f"{SOURCES_DIR}/{rel.rsplit('.', 1)[0]}.png"
    _save_png(src_img, ctx.root / src_rel)
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


def _run_job(ctx: _Context, job: tuple) -> tuple[int, list[dict]]:
    """Render and write one job's files; return (files written, partial-image records)."""
    cfg, root = ctx.cfg, ctx.root
    q = int(cfg.jpeg_quality)
    kind = job[0]
    size = cfg.person_size
    records: list[dict] = []
    n = 0
    if kind == "market":
        _, pool, k, pid, plan = job
        ident = ctx.persons[pool][k]
        for folder, code, j, name, cam, view, occ, strength in plan:
            rng = image_rng(cfg.seed, code, pid, j)
            img = render_person(ident, rng, ctx.cams["market"][cam - 1], size, view=view, occluder=occ,
                                occluder_strength=strength or None, avoid=ctx.avoid)
            _save_jpeg(img, root / MARKET_DIR / folder / name, q)
            n += 1
    elif kind == "market_extra":
        for what, j, name, cam in job[1]:
            camera = ctx.cams["market"][cam - 1]
            if what == "distractor":
                rng = image_rng(cfg.seed, "market_distractor", 0, j)
                bad = rng.random() < 0.6  # a bad detection of a person, or a person outside the test ids
                occ = _pick(rng, OCCLUDERS) if rng.random() < 0.3 else None
                img = render_person(ctx.persons["market_distractor"][j], rng, camera, size,
                                    misalign=4.0 if bad else 1.0, occluder=occ, avoid=ctx.avoid)
            else:
                rng = image_rng(cfg.seed, "market_junk", 0, j)
                occ = "person" if rng.random() < 0.4 else None
                img = render_person(None, rng, camera, size, occluder=occ, occluder_strength=0.8, avoid=ctx.avoid)
            _save_jpeg(img, root / MARKET_DIR / "bounding_box_test" / name, q)
            n += 1
    elif kind == "partial_reid":
        k = job[1]
        pid = k + 1
        ident = ctx.persons["partial_reid"][k]
        cams = ctx.cams["partial_reid"]
        for j in range(1, cfg.partial_reid_images_per_id + 1):
            name = f"{pid:03d}_{j:03d}.jpg"
            rng = image_rng(cfg.seed, "preid_whole", pid, j)
            img = render_person(ident, rng, cams[int(rng.integers(len(cams)))], size, avoid=ctx.avoid)
            _save_jpeg(img, root / PREID_DIR / "whole_body_images" / name, q)
            rng = image_rng(cfg.seed, "preid_partial", pid, j)
            src = render_person(ident, rng, cams[int(rng.integers(len(cams)))], size, avoid=ctx.avoid)
            rel = f"{PREID_DIR}/partial_body_images/{name}"
            part, rec = _partial_record(ctx, "partial_reid", rel, pid, src, rng, cfg.partial_reid_sides)
            _save_jpeg(part, root / rel, q)
            records.append(rec)
            rng = image_rng(cfg.seed, "preid_occluded", pid, j)
            img = render_person(ident, rng, cams[int(rng.integers(len(cams)))], size,
                                occluder=_pick(rng, ("box", "bush", "car", "person", "side", "pole")),
                                occluder_strength=float(rng.uniform(0.3, 0.6)), avoid=ctx.avoid)
            _save_jpeg(img, root / PREID_DIR / "occluded_body_images" / name, q)
            n += 3
    elif kind == "partial_ilids":
        k = job[1]
        pid = k + 1
        ident = ctx.persons["partial_ilids"][k]
        cams = ctx.cams["partial_ilids"]
        rng = image_rng(cfg.seed, "ilids_gallery", pid, 0)
        occ, strength = _occluder_plan(rng, cfg.occluder_prob)
        img = render_person(ident, rng, cams[int(rng.integers(len(cams)))], size, occluder=occ,
                            occluder_strength=strength or None, avoid=ctx.avoid)
        _save_jpeg(img, root / ILIDS_DIR / "Gallery" / f"{pid:03d}.jpg", q)
        rng = image_rng(cfg.seed, "ilids_probe", pid, 0)
        src = render_person(ident, rng, cams[int(rng.integers(len(cams)))], size, avoid=ctx.avoid)
        rel = f"{ILIDS_DIR}/Probe/{pid:03d}.jpg"
        part, rec = _partial_record(ctx, "partial_ilids", rel, pid, src, rng, cfg.ilids_sides)
        _save_jpeg(part, root / rel, q)
        records.append(rec)
        n += 2
    elif kind == "casia":
        from .synthetic_faces import render_face

        k = job[1]
        ident, fid = ctx.faces["casia"][k], ctx.casia_ids[k]
        lr = image_rng(cfg.seed, "layout", 12, k)
        count = int(lr.integers(cfg.face_images_per_train_id[0], cfg.face_images_per_train_id[1] + 1))
        for j in range(1, count + 1):
            img = render_face(ident, image_rng(cfg.seed, "face_casia", fid, j), cfg.face_size)
            _save_jpeg(img, root / "CASIA-WebFace" / f"{fid:07d}" / f"{j:03d}.jpg", q)
            n += 1
    elif kind == "lfw":
        from .synthetic_faces import render_face

        k = job[1]
        ident, name = ctx.faces["lfw"][k], ctx.lfw_names[k]
        for j in range(1, ctx.lfw_counts[k] + 1):
            img = render_face(ident, image_rng(cfg.seed, "face_lfw", k, j), cfg.face_size)
            _save_jpeg(img, root / "lfw" / name / f"{name}_{j:04d}.jpg", q)
            n += 1
    else:  # pragma: no cover - a programming error
        raise ValueError(f"unknown job kind {kind!r}")
    return n, records


_WORKER_CTX: _Context | None = None


def _init_worker(cfg_dict: dict, root: str) -> None:
    global _WORKER_CTX
    _WORKER_CTX = _build_context(SyntheticConfig.from_dict(cfg_dict), Path(root))


def _worker_run(job: tuple) -> tuple[int, list[dict]]:
    assert _WORKER_CTX is not None
    return _run_job(_WORKER_CTX, job)


def _write_lists_and_pairs(ctx: _Context) -> int:
    """Partial-iLIDS list files and LFW pairs.txt; returns the number of files written."""
    from .synthetic_faces import lfw_pairs

    cfg, root = ctx.cfg, ctx.root
    ilids = root / ILIDS_DIR
    ilids.mkdir(parents=True, exist_ok=True)
    for lst, folder in (("Probe.txt", "Probe"), ("Gallery.txt", "Gallery")):
        lines = [f"{folder}/{pid:03d}.jpg" for pid in range(1, cfg.n_ilids_ids + 1)]
        (ilids / lst).write_text("".join(line + "\n" for line in lines))
    rng = np.random.default_rng([cfg.seed, SPLIT_CODES["layout"], 4])
    per_fold, folds = lfw_pairs(rng, ctx.lfw_names, ctx.lfw_counts, cfg.lfw_folds, cfg.lfw_pairs_per_fold)
    out = [f"{cfg.lfw_folds}\t{per_fold}"]
    for fold in folds:
        out += ["\t".join(str(x) for x in row) for row in fold]
    (root / "pairs.txt").write_text("\n".join(out) + "\n")
    return 3


def _meta(ctx: _Context, partial: list[dict], n_files: int) -> dict[str, Any]:
    cfg = ctx.cfg
    ids = lambda pool, keys: {str(k): p.to_dict() for k, p in zip(keys, ctx.persons[pool])}  # noqa: E731
    return {
        "generator": "ppcl.data.synthetic",
        "version": GENERATOR_VERSION,
        "key": cfg.key(),
        "config": cfg.to_dict(),
        "datasets": {
            "market1501": MARKET_DIR,
            "partial_reid": PREID_DIR,
            "partial_ilids": ILIDS_DIR,
            "lfw": "lfw",
            "lfw_pairs": "pairs.txt",
            "casia_webface": "CASIA-WebFace",
        },
        "t_convention": "ppcl.geometry: t = (sx, sy, tx, ty), crop covers [tx-sx, tx+sx] x [ty-sy, ty+sy] "
                        "of the source canvas in [-1, 1] coordinates (align_corners=False)",
        "partial": partial,
        "identities": {
            "market_train": ids("market_train", ctx.train_pids),
            "market_test": ids("market_test", ctx.test_pids),
            "partial_reid": ids("partial_reid", range(1, cfg.n_partial_reid_ids + 1)),
            "partial_ilids": ids("partial_ilids", range(1, cfg.n_ilids_ids + 1)),
            "casia_webface": {f"{i:07d}": f.to_dict() for i, f in zip(ctx.casia_ids, ctx.faces["casia"])},
            "lfw": {n: f.to_dict() for n, f in zip(ctx.lfw_names, ctx.faces["lfw"])},
        },
        "cameras": {k: [asdict(c) for c in v] for k, v in ctx.cams.items()},
        "files": n_files,
        "complete": True,
    }


def dataset_dir(out_dir: str | Path, cfg: SyntheticConfig) -> Path:
    """Where :func:`generate` puts the dataset of ``cfg``: ``out_dir/synthetic-<key>``."""
    return Path(out_dir).expanduser() / f"synthetic-{cfg.key()}"


def is_complete(folder: str | Path, cfg: SyntheticConfig | None = None) -> bool:
    """True if ``folder`` holds a finished dataset (of ``cfg``, if given): its meta file is written last."""
    meta = Path(folder) / META_NAME
    try:
        m = json.loads(meta.read_text())
    except (OSError, ValueError):
        return False
    return m.get("complete") is True and (cfg is None or m.get("key") == cfg.key())


def load_meta(folder: str | Path) -> dict[str, Any]:
    """The ``synthetic_meta.json`` of a generated dataset."""
    return json.loads((Path(folder) / META_NAME).read_text())


def _default_workers(n_jobs: int) -> int:
    if n_jobs < 200:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


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


def generate(out_dir: str | Path, cfg: SyntheticConfig = SYNTHETIC, progress: bool = True,
             workers: int | None = None) -> Path:
    """Render the whole synthetic dataset of ``cfg`` into ``out_dir/synthetic-<key>/`` and return it.

    Files are written into a temporary sibling folder that is renamed into place only when
    everything, the meta file last, is written: a crash never leaves a folder that looks
    complete. An existing folder of the same key is replaced. ``workers`` processes render in
    parallel (default: the available cores for large configs, 1 for small ones); the files are
    byte-identical whatever the number of workers.
    """
    from tqdm.auto import tqdm

    out_dir = Path(out_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    final = dataset_dir(out_dir, cfg)
    tmp = out_dir / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        ctx = _build_context(cfg, tmp)
        jobs = _jobs(ctx)
        workers = _default_workers(len(jobs)) if workers is None else max(1, int(workers))
        bar = tqdm(total=len(jobs), desc=f"synthetic data {final.name}", disable=not progress, unit="job")
        n_files, partial = 0, []
        if workers == 1:
            results: Iterable = (_run_job(ctx, job) for job in jobs)
            pool = None
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            # fork where the platform has it (fast, and no re-import of an unguarded __main__
            # script); the workers only run numpy and PIL code
            method = "fork" if "fork" in mp.get_all_start_methods() and os.name == "posix" and \
                sys.platform != "darwin" else "spawn"
            pool = ProcessPoolExecutor(workers, mp_context=mp.get_context(method), initializer=_init_worker,
                                       initargs=(cfg.to_dict(), str(tmp)))
            results = pool.map(_worker_run, jobs, chunksize=max(1, len(jobs) // (workers * 16)))
        try:
            for n, recs in results:
                n_files += n
                partial.extend(recs)
                bar.update(1)
        finally:
            bar.close()
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        n_files += _write_lists_and_pairs(ctx)
        meta = _meta(ctx, partial, n_files + 1)
        (tmp / META_NAME).write_text(json.dumps(meta, indent=1, sort_keys=False) + "\n")
        if final.exists():
            trash = out_dir / f".{final.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            os.rename(final, trash)
            os.rename(tmp, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove_stale_tmp(out_dir, final.name)
    return final


def default_cache_dir() -> Path:
    """``$PPCL_DATA_CACHE`` or ``~/.cache/ppcl``: where profiles keep generated data."""
    return Path(os.environ.get("PPCL_DATA_CACHE", Path.home() / ".cache" / "ppcl")).expanduser()


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
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None
    with open(cache_dir / f".{final.name}.lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        if is_complete(final, cfg):
            return final
        return generate(cache_dir, cfg, progress=progress, workers=workers)

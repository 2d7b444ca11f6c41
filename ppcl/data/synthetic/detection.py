"""Detections: one pedestrian box as a re-ID detector crops it, with occluders.

:func:`render_person` composes the camera's scene, the person placed with detector-box jitter
(position, scale, aspect; bad boxes for distractors), an optional occluder (:data:`OCCLUDERS`),
a left-right flip and the camera's response.
"""
from __future__ import annotations

import numpy as np

from .camera import Camera, apply_camera, render_background
from .identities import PersonIdentity, sample_identity
from .palettes import CLOTH_NAMES, colour, pick
from .pedestrian import draw_person
from .pose import sample_pose
from .raster import Raster, ellipse, rbox, smooth_noise

OCCLUDERS = ("pole", "box", "bush", "car", "person", "side")
POLE_COLOURS = [(0.3, 0.3, 0.32), (0.55, 0.55, 0.55), (0.6, 0.45, 0.2), (0.2, 0.35, 0.2)]

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the image


def _pole(raster: Raster, rng: np.random.Generator, strength: float, box: Box) -> None:
    px0, _, px1, _ = box
    cx = rng.uniform(px0, px1)
    hw = max((px1 - px0) * strength * 0.5, 0.02)
    col = np.asarray(pick(rng, POLE_COLOURS), np.float32)
    raster.paint(rbox(cx, 0.5, hw, 0.6), col, lambda U, V, d: 0.75 + 0.25 * np.clip(-d / hw, 0, 1))


def _ground_object(raster: Raster, rng: np.random.Generator, kind: str, strength: float, box: Box) -> None:
    """A box, bush or car standing in front of the person's lower body."""
    h, w = raster.h, raster.w
    px0, py0, px1, py1 = box
    top = py1 - (py1 - py0) * strength * rng.uniform(0.9, 1.1)
    col = {"box": rng.uniform(0.2, 0.8, 3), "bush": np.array([0.18, 0.38, 0.15]) * rng.uniform(0.7, 1.2),
           "car": np.asarray(colour(pick(rng, CLOTH_NAMES)))}[kind].astype(np.float32)
    if kind == "bush":
        noise = smooth_noise(rng, h, w, (6, 4))
        raster.paint(rbox(0.5, (top + 1.2) / 2, 0.7, (1.2 - top) / 2, 0.05), lambda U, V: col * (1 + 0.3 * noise[
            np.clip((V * h).astype(int), 0, h - 1), np.clip((U * w).astype(int), 0, w - 1)])[..., None])
    else:
        cx = rng.uniform(px0 - 0.3, px1 + 0.3)
        raster.paint(rbox(cx, (top + 1.2) / 2, rng.uniform(0.4, 0.8), (1.2 - top) / 2, 0.03), col,
                lambda U, V, d: 0.8 + 0.2 * np.clip(-d / 0.05, 0, 1))


def _side_wall(raster: Raster, rng: np.random.Generator, strength: float, box: Box) -> None:
    """A wall or door frame covering one side."""
    px0, _, px1, _ = box
    pw = px1 - px0
    frac = strength * rng.uniform(0.9, 1.1)
    left = rng.random() < 0.5
    edge = px0 + pw * frac if left else px1 - pw * frac
    col = rng.uniform(0.2, 0.8, 3).astype(np.float32)
    raster.paint(rbox(edge - 0.6 if left else edge + 0.6, 0.5, 0.6, 0.7), col)


def _other_person(img: np.ndarray, rng: np.random.Generator, strength: float, box: Box, avoid: frozenset) -> None:
    """Another person in front, offset sideways; never a look-alike of a labelled identity."""
    h, w = img.shape[:2]
    px0, py0, px1, py1 = box
    pw, ph = px1 - px0, py1 - py0
    other = sample_identity(rng)
    while other.signature() in avoid:
        other = sample_identity(rng)
    pose = sample_pose(rng)
    sgn = 1 if rng.random() < 0.5 else -1
    off = sgn * pw * (1.15 - strength * rng.uniform(0.8, 1.2))
    hp = ph * rng.uniform(1.0, 1.2)
    Rp = Raster(img, (px0 + px1) / 2 * w + off * w, py0 * h - (hp - ph) * h * 0.5, hp * h * rng.uniform(0.9, 1.1), hp * h)
    draw_person(Rp, other, pose)


def draw_occluder(img: np.ndarray, rng: np.random.Generator, kind: str, strength: float, person_box: Box,
                  camera: Camera, avoid: frozenset = frozenset()) -> None:
    """Draw one occluder over ``img`` (float); ``strength`` ~ the fraction of the person hidden."""
    h, w = img.shape[:2]
    raster = Raster(img, 0, 0, w, h)  # local = [0, 1]^2 image coordinates
    if kind == "pole":
        _pole(raster, rng, strength, person_box)
    elif kind in ("box", "bush", "car"):
        _ground_object(raster, rng, kind, strength, person_box)
    elif kind == "side":
        _side_wall(raster, rng, strength, person_box)
    else:
        _other_person(img, rng, strength, person_box, avoid)


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
        raster = Raster(img, cx, top, width_scale, ph)
        raster.paint(ellipse(0.0, 0.985, 0.13, 0.025), (0.0, 0.0, 0.0), alpha=0.35)  # ground shadow
        draw_person(raster, identity, pose, light)
    if occluder is not None:
        strength = occluder_strength if occluder_strength is not None else float(rng.uniform(0.15, 0.35))
        pb = ((cx - 0.12 * width_scale) / w, top / h, (cx + 0.12 * width_scale) / w, (top + ph) / h)
        draw_occluder(img, rng, occluder, strength, pb, camera, avoid)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    return apply_camera(np.ascontiguousarray(img), camera, rng)

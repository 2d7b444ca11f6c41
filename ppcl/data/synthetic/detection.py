"""Detections: one pedestrian box as a re-ID detector crops it, with occluders.

:func:`render_person` composes the camera's scene, the person placed in a hand-drawn-like
tight box (position, scale, aspect jitter; bad boxes for distractors), optionally re-framed by a
detection box drawn around that tight box (:func:`sample_detection_box`), an optional occluder
(:data:`OCCLUDERS`), a left-right flip and the camera's response. :func:`render_detection`
also returns where the body ended up (:class:`Placement`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

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
TIGHT: Box = (0.0, 0.0, 1.0, 1.0)  # the tight box itself, as a fraction of itself
MAX_BOX_TRIES = 1000


@dataclass(frozen=True)
class Placement:
    """Where the body stands in a rendered image.

    The body frame of the :class:`~.raster.Raster` the person was drawn with, in pixels of the
    unflipped image (frame ``x = cx + u * width_scale``, ``y = top + v * ph``; u across the
    body, v from the top of the head (0) to the soles (1)), whether the image was then flipped
    left-right, and the image size ``(h, w)``.
    """

    cx: float
    top: float
    width_scale: float
    ph: float
    flipped: bool
    size: tuple[int, int]

    def body(self) -> list[float]:
        """``[cx, top, width_scale, ph]`` in fractions of the frame width / height, after the flip
        (a flip maps ``cx`` to ``1 - cx`` and mirrors u)."""
        h, w = self.size
        cx = self.cx / w
        return [1.0 - cx if self.flipped else cx, self.top / h, self.width_scale / w, self.ph / h]


def box_iou_fraction(a: Box, b: Box) -> float:
    """IoU of two ``(x0, y0, x1, y1)`` boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def sample_detection_box(rng: np.random.Generator, log_scale_h: tuple[float, float],
                         log_scale_w: tuple[float, float], shift: tuple[float, float],
                         min_iou: float) -> tuple[Box, float]:
    """A detection box D around the tight box P = :data:`TIGHT`, and IoU(D, P).

    In units of P's size: height ``exp(N(*log_scale_h))``, width ``exp(N(*log_scale_w))``,
    centre ``(0.5 + N(0, shift[0]), 0.5 + N(0, shift[1]))``; redrawn while the IoU is below
    ``min_iou`` (after :data:`MAX_BOX_TRIES` draws, P itself).
    """
    for _ in range(MAX_BOX_TRIES):
        bh = math.exp(rng.normal(log_scale_h[0], log_scale_h[1]))
        bw = math.exp(rng.normal(log_scale_w[0], log_scale_w[1]))
        cx = 0.5 + float(rng.normal(0.0, shift[0]))
        cy = 0.5 + float(rng.normal(0.0, shift[1]))
        box = (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
        iou = box_iou_fraction(box, TIGHT)
        if iou >= min_iou:
            return box, iou
    return TIGHT, 1.0  # pragma: no cover - only with a min_iou no box of the distribution reaches


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


def render_detection(
    identity: PersonIdentity | None,
    rng: np.random.Generator,
    camera: Camera,
    size: tuple[int, int] = (128, 64),
    *,
    view: str | None = None,
    occluder: str | None = None,
    occluder_strength: float | None = None,
    misalign: float = 1.0,
    box: Box | None = None,
    avoid: frozenset = frozenset(),
) -> tuple[np.ndarray, Placement]:
    """Render one detected pedestrian box: ``(uint8 H x W x 3, its Placement)``.

    ``rng`` draws everything that varies per image (pose, box jitter, flip, background,
    clutter, camera noise). ``view`` fixes the view (else drawn); ``occluder`` draws one
    occluder of that kind (see :data:`OCCLUDERS`) over about ``occluder_strength`` of the body;
    ``misalign`` scales the tight box's jitter (3 or more gives distractor-like bad boxes).
    ``box`` (from :func:`sample_detection_box`; it draws nothing from ``rng``) re-frames the
    image: the region ``box`` of the tight framing, in fractions of it, is what fills the
    frame; ``None`` keeps the tight framing. ``identity=None`` renders background only (junk
    boxes). Occluding people never have a signature in ``avoid`` (pass the labelled
    identities' signatures).
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
    if box is not None:  # the frame shows the region ``box`` of the tight framing, resized
        bw, bh = box[2] - box[0], box[3] - box[1]
        cx, top = (cx - box[0] * w) / bw, (top - box[1] * h) / bh
        width_scale, ph = width_scale / bw, ph / bh
    light = float(rng.uniform(-1, 1))
    if identity is not None:
        raster = Raster(img, cx, top, width_scale, ph)
        raster.paint(ellipse(0.0, 0.985, 0.13, 0.025), (0.0, 0.0, 0.0), alpha=0.35)  # ground shadow
        draw_person(raster, identity, pose, light)
    if occluder is not None:
        strength = occluder_strength if occluder_strength is not None else float(rng.uniform(0.15, 0.35))
        pb = ((cx - 0.12 * width_scale) / w, top / h, (cx + 0.12 * width_scale) / w, (top + ph) / h)
        draw_occluder(img, rng, occluder, strength, pb, camera, avoid)
    flipped = bool(rng.random() < 0.5)
    if flipped:
        img = img[:, ::-1]
    placement = Placement(float(cx), float(top), float(width_scale), float(ph), flipped, (h, w))
    return apply_camera(np.ascontiguousarray(img), camera, rng), placement


def render_person(identity: PersonIdentity | None, rng: np.random.Generator, camera: Camera,
                  size: tuple[int, int] = (128, 64), **kwargs) -> np.ndarray:
    """:func:`render_detection`'s image alone (same arguments)."""
    return render_detection(identity, rng, camera, size, **kwargs)[0]

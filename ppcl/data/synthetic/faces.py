"""Faces for the partial-face extension (Partial-LFW, CASIA-WebFace training): identities and images.

Same principle as the pedestrians: a face is drawn from *parts* (skin and face shape; hair
colour, style and fringe; eyes and brows; nose, mouth, lips and beard; glasses and shirt)
picked from small shared palettes, and about half of the identities are siblings of an earlier
one with one or two part groups re-drawn (:func:`.identities.identity_pools`), so the top half
of a face (hair, brows, eyes) or the bottom half (nose, mouth, beard) alone is ambiguous.

Per image: roll rotation, translation, scale, a yaw that shifts the features sideways, the
light's direction and strength (Lambertian shading on an ellipsoid), expression (smile, open
mouth, eyes closed), a random web-photo background and a random "camera" (colour, blur, noise).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from .camera import apply_camera, sample_camera
from .identities import identity_pools
from .palettes import HAIR, HAIR_WEIGHTS, SKIN, colour, pick
from .raster import Raster, Shade, Shape, capsule, ellipse, halfplane, intersect, rbox, ring, smooth_noise, union
from .streams import stream

FACE_SHAPES = ("oval", "round", "long", "square")
FACE_RADII = {"oval": (0.34, 0.5), "round": (0.38, 0.47), "long": (0.31, 0.53), "square": (0.37, 0.49)}
FACE_HAIR_STYLES = ("short", "long", "bob", "curly", "buzz", "bald")
FACE_HAIR_STYLE_WEIGHTS = (6, 3, 2, 2, 2, 1)
FRINGES = ("none", "straight", "side")
EYE_COLOURS: tuple[tuple[float, float, float], ...] = (
    (0.20, 0.12, 0.07), (0.35, 0.22, 0.10), (0.25, 0.40, 0.55), (0.30, 0.42, 0.25))
EYE_COLOUR_WEIGHTS = (5, 3, 2, 1)
LIPS: tuple[tuple[float, float, float], ...] = ((0.72, 0.38, 0.36), (0.60, 0.30, 0.28), (0.80, 0.30, 0.35))
GLASSES = ("none", "round", "square", "dark")
GLASSES_WEIGHTS = (12, 2, 2, 1)
BEARDS = ("none", "moustache", "goatee", "full", "stubble")
BEARD_WEIGHTS = (10, 2, 2, 2, 2)
SHIRTS = ("black", "white", "navy", "grey", "blue", "red", "green", "beige", "charcoal", "lightblue")
FRAME = (0.08, 0.07, 0.07)  # glasses

FACE_GROUP_FIELDS: dict[str, tuple[str, ...]] = {
    "face": ("skin", "face_shape"),
    "hair": ("hair_colour", "hair_style", "fringe"),
    "eyes": ("eye_colour", "eye_spacing", "eye_size", "brow"),
    "lower": ("nose", "mouth", "lips", "beard"),
    "extras": ("glasses", "shirt"),
}


@dataclass(frozen=True)
class FaceIdentity:
    """One face's parts; the integer levels (spacing, size, ...) index small sets of sizes."""

    skin: int
    face_shape: str
    hair_colour: int
    hair_style: str
    fringe: str
    eye_colour: int
    eye_spacing: int  # 0..2
    eye_size: int  # 0..2
    brow: int  # 0..2 thickness
    nose: int  # 0..2 size
    mouth: int  # 0..2 width
    lips: int
    beard: str
    glasses: str
    shirt: str
    width: float  # continuous face width factor, about 0.94..1.06

    def parts(self) -> dict[str, tuple]:
        return {g: tuple(getattr(self, f) for f in fs) for g, fs in FACE_GROUP_FIELDS.items()}

    def signature(self) -> tuple:
        return tuple(self.parts().values())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sample_face_identity(rng: np.random.Generator) -> FaceIdentity:
    """Draw a face's parts from the shared palettes."""
    style = pick(rng, FACE_HAIR_STYLES, FACE_HAIR_STYLE_WEIGHTS)
    # keyword arguments are evaluated in this order: it is the order of the random draws
    return FaceIdentity(
        skin=int(rng.integers(len(SKIN))),
        face_shape=pick(rng, FACE_SHAPES),
        hair_colour=int(pick(rng, range(len(HAIR)), HAIR_WEIGHTS)),
        hair_style=style,
        fringe=pick(rng, FRINGES, (3, 2, 2)) if style not in ("bald", "buzz") else "none",
        eye_colour=int(pick(rng, range(len(EYE_COLOURS)), EYE_COLOUR_WEIGHTS)),
        eye_spacing=int(rng.integers(3)),
        eye_size=int(rng.integers(3)),
        brow=int(rng.integers(3)),
        nose=int(rng.integers(3)),
        mouth=int(rng.integers(3)),
        lips=int(rng.integers(len(LIPS))),
        beard=pick(rng, BEARDS, BEARD_WEIGHTS),
        glasses=pick(rng, GLASSES, GLASSES_WEIGHTS),
        shirt=pick(rng, SHIRTS),
        width=float(np.round(rng.uniform(0.94, 1.06), 4)),
    )


def face_pools(seed: int, sizes: list[int]) -> list[list[FaceIdentity]]:
    """Disjoint face pools (e.g. CASIA-style train, LFW-style test) with unique signatures."""
    return identity_pools(stream(seed, "identities", 1), sizes, sample_face_identity,
                          ("face", "hair", "eyes", "lower"), ("extras",), FACE_GROUP_FIELDS)


def face_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A web photo's background: a two-colour gradient, soft blotches and a few boxes."""
    base = rng.uniform(0.1, 0.9, 3).astype(np.float32)
    base = base.mean() + (base - base.mean()) * rng.uniform(0.2, 0.9)
    other = rng.uniform(0.1, 0.9, 3).astype(np.float32)
    other = other.mean() + (other - other.mean()) * 0.6
    gy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    gx = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    a = rng.uniform(-1, 1)
    mix = np.clip(0.5 + a * (gx - 0.5) + rng.uniform(-0.5, 0.5) * (gy - 0.5), 0, 1)
    img = base * (1 - mix * 0.4) + other * (mix * 0.4)
    img = img * (1 + 0.15 * smooth_noise(rng, h, w, (3, 3)))[..., None]
    raster = Raster(img, 0, 0, w, h)
    for _ in range(int(rng.integers(0, 4))):
        col = rng.uniform(0.05, 0.95, 3)
        raster.paint(rbox(rng.uniform(0, 1), rng.uniform(0, 0.8), rng.uniform(0.03, 0.3), rng.uniform(0.03, 0.3), 0.02),
                col, alpha=float(rng.uniform(0.3, 0.9)))
    return img


# --- drawing, part by part -------------------------------------------------------------------------


@dataclass(frozen=True)
class FaceFrame:
    """A posed face: its colours, radii, the yaw's shifts and the light, in local units."""

    ident: FaceIdentity
    skin: np.ndarray
    hair: np.ndarray
    rx: float
    ry: float
    fx: float  # face centre shift
    px: float  # feature shift (features sit on a sphere that turned)
    yaw: float
    light: tuple[float, float, float]

    def lambert(self, cx: float, cy: float, ax: float, ay: float, amb: float = 0.55) -> Shade:
        """Lambertian shading of an ellipsoid of radii ``ax, ay`` centred at ``(cx, cy)``."""
        lx, ly, lz = self.light

        def shade(U, V, d):
            nu, nv = (U - cx) / (ax * 1.15), (V - cy) / (ay * 1.15)
            nz = np.sqrt(np.clip(1 - nu * nu - nv * nv, 0.0, 1.0))
            return amb + (1 - amb) * np.clip(nu * lx + nv * ly + nz * lz, 0, 1) * 1.1
        return shade

    def outline(self) -> Shape:
        """The face's own shape (a rounded box for square faces, else an ellipse)."""
        if self.ident.face_shape == "square":
            return rbox(self.fx, 0.0, self.rx, self.ry, 0.17)
        return ellipse(self.fx, 0.0, self.rx, self.ry)


def face_frame(ident: FaceIdentity, yaw: float, light: tuple[float, float]) -> FaceFrame:
    rx, ry = FACE_RADII[ident.face_shape]
    rx *= ident.width
    lx, ly = light
    lz = math.sqrt(max(1 - lx * lx - ly * ly, 0.05))
    return FaceFrame(ident, np.asarray(SKIN[ident.skin], np.float32), np.asarray(HAIR[ident.hair_colour], np.float32),
                     rx, ry, 0.03 * yaw, 0.075 * yaw, yaw, (lx, ly, lz))


def draw_shoulders_and_back_hair(raster: Raster, f: FaceFrame) -> None:
    ident, fx, rx, hair = f.ident, f.fx, f.rx, f.hair
    shirt = colour(ident.shirt)
    raster.paint(ellipse(fx * 0.3, 1.02, 0.78, 0.36), shirt, f.lambert(0, 1.02, 0.78, 0.36, 0.6))
    raster.paint(ellipse(fx * 0.3, 0.72, 0.2, 0.08), shirt * 0.7)
    raster.paint(rbox(fx * 0.5, 0.52, 0.15 * ident.width, 0.2, 0.05), f.skin * 0.8)
    style = ident.hair_style
    if style == "long":
        raster.paint(rbox(fx, 0.2, rx + 0.1, 0.55, 0.2), hair, f.lambert(fx, 0.2, rx + 0.1, 0.55, 0.5))
    elif style == "bob":
        raster.paint(rbox(fx, 0.05, rx + 0.08, 0.4, 0.22), hair, f.lambert(fx, 0.05, rx + 0.08, 0.4, 0.5))
    elif style == "curly":
        def bumpy(U, V):
            a = np.arctan2(V + 0.1, U - fx)
            r = np.hypot((U - fx) / (rx + 0.12), (V + 0.08) / 0.52)
            return (r - 1 - 0.06 * np.sin(a * 11)) * 0.4
        raster.paint((bumpy, (fx - rx - 0.2, -0.7, fx + rx + 0.2, 0.5)), hair, f.lambert(fx, -0.08, rx + 0.12, 0.5, 0.5))


def draw_face_and_beard(raster: Raster, f: FaceFrame) -> None:
    """Ears, the face itself, and a beard under the features."""
    ident, fx, rx, ry, skin, hair = f.ident, f.fx, f.rx, f.ry, f.skin, f.hair
    for sgn in (-1, 1):
        raster.paint(ellipse(fx + sgn * rx * (1 - 0.15 * sgn * f.yaw), 0.04, 0.05, 0.09), skin * 0.85)
    face = f.outline()
    raster.paint(face, skin, f.lambert(fx, 0.0, rx, ry))
    hl = f.lambert(fx, 0.0, rx, ry, 0.5)
    if ident.beard == "full":
        raster.paint(intersect(face, halfplane(0, -1, -0.16)), hair * 0.9 + skin * 0.1, hl, alpha=0.9)
    elif ident.beard == "goatee":
        raster.paint(ellipse(fx + f.px, 0.41, 0.1, 0.09), hair * 0.9 + skin * 0.1, hl, alpha=0.9)
    elif ident.beard == "stubble":
        raster.paint(intersect(face, halfplane(0, -1, -0.18)), hair * 0.6 + skin * 0.4, hl, alpha=0.45)


def draw_top_hair(raster: Raster, f: FaceFrame) -> None:
    """Hair on top with its hairline and fringe (long styles frame the face), or a bald head's sides."""
    ident, fx, rx, ry, hair = f.ident, f.fx, f.rx, f.ry, f.hair
    style = ident.hair_style
    if style not in ("bald",):
        hairline = {"none": -0.25, "straight": -0.13, "side": -0.17}[ident.fringe]
        cap = ellipse(fx, -0.07, rx * 1.08, ry * 0.98)
        if ident.fringe == "side":
            cut = halfplane(0.35, 1, hairline + 0.35 * fx)
        else:
            cut = halfplane(0, 1, hairline)
        top = intersect(cap, cut)
        if style in ("long", "bob", "curly"):
            top = union(top, intersect(ellipse(fx, -0.02, rx * 1.1, ry * 0.8), union(
                halfplane(1, 0, fx - rx * 0.82), halfplane(-1, 0, -fx - rx * 0.82))))
        raster.paint(top, hair, f.lambert(fx, -0.07, rx * 1.08, ry, 0.5), alpha=0.55 if style == "buzz" else 1.0)
    else:
        for sgn in (-1, 1):
            raster.paint(ellipse(fx + sgn * rx * 0.95, -0.05, 0.05, 0.13), hair, alpha=0.8)


def draw_eyes(raster: Raster, f: FaceFrame, eyes_closed: bool) -> None:
    """Brows, eyes (open or closed) and glasses."""
    ident, fx, px, yaw, skin = f.ident, f.fx, f.px, f.yaw, f.skin
    es = (0.125, 0.14, 0.155)[ident.eye_spacing] * ident.width
    ew, eh = (0.052, 0.06, 0.068)[ident.eye_size], (0.024, 0.028, 0.032)[ident.eye_size]
    ey = -0.04
    iris = np.asarray(EYE_COLOURS[ident.eye_colour], np.float32)
    bt = (0.012, 0.018, 0.026)[ident.brow]
    for sgn in (-1, 1):
        cx = fx + px + sgn * es * (1 - 0.25 * sgn * yaw)
        raster.paint(capsule((cx - sgn * 0.05, ey - 0.075), (cx + sgn * 0.055, ey - 0.085), bt), f.hair * 0.85)
        if eyes_closed:
            raster.paint(capsule((cx - ew, ey), (cx + ew, ey), 0.006), skin * 0.45)
        else:
            eye = ellipse(cx, ey, ew, eh)
            raster.paint(eye, (0.92, 0.9, 0.88))
            raster.paint(intersect(ellipse(cx + 0.02 * yaw, ey, 0.026, 0.026), eye), iris)
            raster.paint(ellipse(cx + 0.02 * yaw, ey, 0.011, 0.011), (0.03, 0.03, 0.03))
            raster.paint(ring(eye, 0.004), skin * 0.45)
        if ident.glasses != "none":
            lens = ellipse(cx, ey + 0.005, 0.085, 0.062) if ident.glasses != "square" else rbox(cx, ey + 0.005, 0.085, 0.058, 0.015)
            if ident.glasses == "dark":
                raster.paint(lens, (0.05, 0.05, 0.06), alpha=0.92)
            raster.paint(ring(lens, 0.008), FRAME)
    if ident.glasses != "none":
        raster.paint(capsule((fx + px - es + 0.08, ey), (fx + px + es - 0.08, ey), 0.007), FRAME)


def draw_nose_and_mouth(raster: Raster, f: FaceFrame, smile: float, mouth_open: float) -> None:
    """Nose, moustache, and the mouth: open, or a line curved by ``smile``."""
    ident, fx, px, skin = f.ident, f.fx, f.px, f.skin
    ey = -0.04
    nl = (0.14, 0.17, 0.2)[ident.nose]
    raster.paint(capsule((fx + px * 1.2, ey + 0.04), (fx + px * 1.5 + 0.015 * np.sign(f.light[0]), ey + nl), 0.012),
            skin * 0.8, alpha=0.7)
    raster.paint(ellipse(fx + px * 1.5, ey + nl + 0.015, (0.04, 0.048, 0.056)[ident.nose], 0.02), skin * 0.72, alpha=0.8)
    mw = (0.085, 0.1, 0.115)[ident.mouth]
    my = 0.28
    lips = np.asarray(LIPS[ident.lips], np.float32) * (skin * 0.3 + 0.7)
    mcx = fx + px * 1.1
    if ident.beard in ("moustache", "full"):
        raster.paint(capsule((mcx - mw, my - 0.05), (mcx + mw, my - 0.05), 0.028), f.hair * 0.9)
    if mouth_open > 0.5:
        raster.paint(ellipse(mcx, my + 0.01, mw * 0.9, 0.035 * mouth_open), (0.25, 0.08, 0.08))
        raster.paint(ring(ellipse(mcx, my + 0.01, mw * 0.9, 0.035 * mouth_open), 0.008), lips)
    else:
        k = 0.9 * smile

        def curve(U, V):
            du = U - mcx
            return np.maximum(np.abs(V - my + k * (du * du) / mw * 0.9) - 0.011, np.abs(du) - mw)
        raster.paint((curve, (mcx - mw - 0.02, my - 0.1, mcx + mw + 0.02, my + 0.05)), lips)


def draw_face(raster: Raster, ident: FaceIdentity, yaw: float, light: tuple[float, float], smile: float,
              mouth_open: float, eyes_closed: bool) -> None:
    """Draw a head and shoulders in local units: face centre at (0, 0), face height 1."""
    f = face_frame(ident, yaw, light)
    draw_shoulders_and_back_hair(raster, f)
    draw_face_and_beard(raster, f)
    draw_top_hair(raster, f)
    draw_eyes(raster, f, eyes_closed)
    draw_nose_and_mouth(raster, f, smile, mouth_open)


def render_face(identity: FaceIdentity, rng: np.random.Generator, size: tuple[int, int] = (64, 64)) -> np.ndarray:
    """Render one aligned face photo as ``uint8 H x W x 3`` (everything per-image drawn from ``rng``)."""
    h, w = size
    img = face_background(rng, h, w)
    scale = min(h, w) * 0.6 * float(np.exp(rng.uniform(-0.08, 0.08)))
    cx = w * (0.5 + rng.uniform(-0.05, 0.05))
    cy = h * (0.46 + rng.uniform(-0.05, 0.05))
    angle = float(np.deg2rad(np.clip(rng.normal(0, 5), -12, 12)))
    raster = Raster(img, cx, cy, scale, scale, angle)
    a = rng.uniform(0, 2 * np.pi)
    r = rng.uniform(0.1, 0.7)
    draw_face(
        raster, identity,
        yaw=float(np.clip(rng.normal(0, 0.4), -1, 1)),
        light=(float(r * np.cos(a)), float(r * np.sin(a) * 0.6)),
        smile=float(rng.uniform(-0.2, 1.0)),
        mouth_open=float(rng.uniform(0.6, 1.0)) if rng.random() < 0.2 else 0.0,
        eyes_closed=bool(rng.random() < 0.05),
    )
    cam = sample_camera(rng, 0, clutter=0)
    cam = replace(cam, lowres=1, blur=cam.blur * 0.6)
    return apply_camera(img, cam, rng)

"""Synthetic faces for the kit's partial-face extension (Partial-LFW, CASIA-WebFace training).

Same principle as the pedestrians of :mod:`ppcl.data.synthetic`: a face is drawn from *parts*
(skin and face shape; hair colour, style and fringe; eyes and brows; nose, mouth, lips and
beard; glasses and shirt) picked from small shared palettes, and about half of the identities
are siblings of an earlier one with one or two part groups re-drawn, so the top half of a face
(hair, brows, eyes) or the bottom half (nose, mouth, beard) alone is ambiguous.

Per image: roll rotation, translation, scale, a yaw that shifts the features sideways, the
light's direction and strength (Lambertian shading on an ellipsoid), expression (smile, open
mouth, eyes closed), a random web-photo background and a random "camera" (colour, blur, noise).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from .synthetic import (
    HAIR,
    HAIR_WEIGHTS,
    SKIN,
    SPLIT_CODES,
    Raster,
    _c,
    _pick,
    _smooth_noise,
    apply_camera,
    capsule,
    ellipse,
    halfplane,
    identity_pools,
    intersect,
    rbox,
    ring,
    sample_camera,
    union,
)

FACE_SHAPES = ("oval", "round", "long", "square")
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
    style = _pick(rng, FACE_HAIR_STYLES, FACE_HAIR_STYLE_WEIGHTS)
    return FaceIdentity(
        skin=int(rng.integers(len(SKIN))),
        face_shape=_pick(rng, FACE_SHAPES),
        hair_colour=int(_pick(rng, range(len(HAIR)), HAIR_WEIGHTS)),
        hair_style=style,
        fringe=_pick(rng, FRINGES, (3, 2, 2)) if style not in ("bald", "buzz") else "none",
        eye_colour=int(_pick(rng, range(len(EYE_COLOURS)), EYE_COLOUR_WEIGHTS)),
        eye_spacing=int(rng.integers(3)),
        eye_size=int(rng.integers(3)),
        brow=int(rng.integers(3)),
        nose=int(rng.integers(3)),
        mouth=int(rng.integers(3)),
        lips=int(rng.integers(len(LIPS))),
        beard=_pick(rng, BEARDS, BEARD_WEIGHTS),
        glasses=_pick(rng, GLASSES, GLASSES_WEIGHTS),
        shirt=_pick(rng, SHIRTS),
        width=float(np.round(rng.uniform(0.94, 1.06), 4)),
    )


def face_pools(seed: int, sizes: list[int]) -> list[list[FaceIdentity]]:
    """Disjoint face pools (e.g. CASIA-style train, LFW-style test) with unique signatures."""
    rng = np.random.default_rng([int(seed), SPLIT_CODES["identities"], 1])
    return identity_pools(rng, sizes, sample_face_identity, ("face", "hair", "eyes", "lower"), ("extras",),
                          FACE_GROUP_FIELDS)


def _face_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    base = rng.uniform(0.1, 0.9, 3).astype(np.float32)
    base = base.mean() + (base - base.mean()) * rng.uniform(0.2, 0.9)
    other = rng.uniform(0.1, 0.9, 3).astype(np.float32)
    other = other.mean() + (other - other.mean()) * 0.6
    gy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    gx = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    a = rng.uniform(-1, 1)
    mix = np.clip(0.5 + a * (gx - 0.5) + rng.uniform(-0.5, 0.5) * (gy - 0.5), 0, 1)
    img = base * (1 - mix * 0.4) + other * (mix * 0.4)
    img = img * (1 + 0.15 * _smooth_noise(rng, h, w, (3, 3)))[..., None]
    R = Raster(img, 0, 0, w, h)
    for _ in range(int(rng.integers(0, 4))):
        col = rng.uniform(0.05, 0.95, 3)
        R.paint(rbox(rng.uniform(0, 1), rng.uniform(0, 0.8), rng.uniform(0.03, 0.3), rng.uniform(0.03, 0.3), 0.02),
                col, alpha=float(rng.uniform(0.3, 0.9)))
    return img


def draw_face(R: Raster, ident: FaceIdentity, yaw: float, light: tuple[float, float], smile: float,
              mouth_open: float, eyes_closed: bool) -> None:
    """Draw a head and shoulders in local units: face centre at (0, 0), face height 1."""
    skin = np.asarray(SKIN[ident.skin], np.float32)
    hair = np.asarray(HAIR[ident.hair_colour], np.float32)
    shirt = _c(ident.shirt)
    rx, ry = {"oval": (0.34, 0.5), "round": (0.38, 0.47), "long": (0.31, 0.53), "square": (0.37, 0.49)}[ident.face_shape]
    rx *= ident.width
    fx = 0.03 * yaw  # face centre shift
    px = 0.075 * yaw  # feature shift (features sit on a sphere that turned)
    lx, ly = light
    lz = math.sqrt(max(1 - lx * lx - ly * ly, 0.05))

    def lambert(cx, cy, ax, ay, amb=0.55):
        def shade(U, V, d):
            nu, nv = (U - cx) / (ax * 1.15), (V - cy) / (ay * 1.15)
            nz = np.sqrt(np.clip(1 - nu * nu - nv * nv, 0.0, 1.0))
            return amb + (1 - amb) * np.clip(nu * lx + nv * ly + nz * lz, 0, 1) * 1.1
        return shade

    # shoulders and neck
    R.paint(ellipse(fx * 0.3, 1.02, 0.78, 0.36), shirt, lambert(0, 1.02, 0.78, 0.36, 0.6))
    R.paint(ellipse(fx * 0.3, 0.72, 0.2, 0.08), shirt * 0.7)
    R.paint(rbox(fx * 0.5, 0.52, 0.15 * ident.width, 0.2, 0.05), skin * 0.8)
    # hair behind the head
    style = ident.hair_style
    if style == "long":
        R.paint(rbox(fx, 0.2, rx + 0.1, 0.55, 0.2), hair, lambert(fx, 0.2, rx + 0.1, 0.55, 0.5))
    elif style == "bob":
        R.paint(rbox(fx, 0.05, rx + 0.08, 0.4, 0.22), hair, lambert(fx, 0.05, rx + 0.08, 0.4, 0.5))
    elif style == "curly":
        def bumpy(U, V):
            a = np.arctan2(V + 0.1, U - fx)
            r = np.hypot((U - fx) / (rx + 0.12), (V + 0.08) / 0.52)
            return (r - 1 - 0.06 * np.sin(a * 11)) * 0.4
        R.paint((bumpy, (fx - rx - 0.2, -0.7, fx + rx + 0.2, 0.5)), hair, lambert(fx, -0.08, rx + 0.12, 0.5, 0.5))
    # ears
    for sgn in (-1, 1):
        R.paint(ellipse(fx + sgn * rx * (1 - 0.15 * sgn * yaw), 0.04, 0.05, 0.09), skin * 0.85)
    # the face
    if ident.face_shape == "square":
        face = rbox(fx, 0.0, rx, ry, 0.17)
    else:
        face = ellipse(fx, 0.0, rx, ry)
    R.paint(face, skin, lambert(fx, 0.0, rx, ry))
    # beard (under the features)
    hl = lambert(fx, 0.0, rx, ry, 0.5)
    if ident.beard == "full":
        R.paint(intersect(face, halfplane(0, -1, -0.16)), hair * 0.9 + skin * 0.1, hl, alpha=0.9)
    elif ident.beard == "goatee":
        R.paint(ellipse(fx + px, 0.41, 0.1, 0.09), hair * 0.9 + skin * 0.1, hl, alpha=0.9)
    elif ident.beard == "stubble":
        R.paint(intersect(face, halfplane(0, -1, -0.18)), hair * 0.6 + skin * 0.4, hl, alpha=0.45)
    # hair on top
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
        R.paint(top, hair, lambert(fx, -0.07, rx * 1.08, ry, 0.5), alpha=0.55 if style == "buzz" else 1.0)
    else:
        for sgn in (-1, 1):
            R.paint(ellipse(fx + sgn * rx * 0.95, -0.05, 0.05, 0.13), hair, alpha=0.8)
    # eyes and brows
    es = (0.125, 0.14, 0.155)[ident.eye_spacing] * ident.width
    ew, eh = (0.052, 0.06, 0.068)[ident.eye_size], (0.024, 0.028, 0.032)[ident.eye_size]
    ey = -0.04
    iris = np.asarray(EYE_COLOURS[ident.eye_colour], np.float32)
    bt = (0.012, 0.018, 0.026)[ident.brow]
    for sgn in (-1, 1):
        cx = fx + px + sgn * es * (1 - 0.25 * sgn * yaw)
        R.paint(capsule((cx - sgn * 0.05, ey - 0.075), (cx + sgn * 0.055, ey - 0.085), bt), hair * 0.85)
        if eyes_closed:
            R.paint(capsule((cx - ew, ey), (cx + ew, ey), 0.006), skin * 0.45)
        else:
            eye = ellipse(cx, ey, ew, eh)
            R.paint(eye, (0.92, 0.9, 0.88))
            R.paint(intersect(ellipse(cx + 0.02 * yaw, ey, 0.026, 0.026), eye), iris)
            R.paint(ellipse(cx + 0.02 * yaw, ey, 0.011, 0.011), (0.03, 0.03, 0.03))
            R.paint(ring(eye, 0.004), skin * 0.45)
        if ident.glasses != "none":
            lens = ellipse(cx, ey + 0.005, 0.085, 0.062) if ident.glasses != "square" else rbox(cx, ey + 0.005, 0.085, 0.058, 0.015)
            if ident.glasses == "dark":
                R.paint(lens, (0.05, 0.05, 0.06), alpha=0.92)
            R.paint(ring(lens, 0.008), (0.08, 0.07, 0.07))
    if ident.glasses != "none":
        R.paint(capsule((fx + px - es + 0.08, ey), (fx + px + es - 0.08, ey), 0.007), (0.08, 0.07, 0.07))
    # nose
    nl = (0.14, 0.17, 0.2)[ident.nose]
    R.paint(capsule((fx + px * 1.2, ey + 0.04), (fx + px * 1.5 + 0.015 * np.sign(lx), ey + nl), 0.012), skin * 0.8, alpha=0.7)
    R.paint(ellipse(fx + px * 1.5, ey + nl + 0.015, (0.04, 0.048, 0.056)[ident.nose], 0.02), skin * 0.72, alpha=0.8)
    # mouth
    mw = (0.085, 0.1, 0.115)[ident.mouth]
    my = 0.28
    lips = np.asarray(LIPS[ident.lips], np.float32) * (skin * 0.3 + 0.7)
    mcx = fx + px * 1.1
    if ident.beard in ("moustache", "full"):
        R.paint(capsule((mcx - mw, my - 0.05), (mcx + mw, my - 0.05), 0.028), hair * 0.9)
    if mouth_open > 0.5:
        R.paint(ellipse(mcx, my + 0.01, mw * 0.9, 0.035 * mouth_open), (0.25, 0.08, 0.08))
        R.paint(ring(ellipse(mcx, my + 0.01, mw * 0.9, 0.035 * mouth_open), 0.008), lips)
    else:
        k = 0.9 * smile

        def curve(U, V):
            du = U - mcx
            return np.maximum(np.abs(V - my + k * (du * du) / mw * 0.9) - 0.011, np.abs(du) - mw)
        R.paint((curve, (mcx - mw - 0.02, my - 0.1, mcx + mw + 0.02, my + 0.05)), lips)


def render_face(identity: FaceIdentity, rng: np.random.Generator, size: tuple[int, int] = (64, 64)) -> np.ndarray:
    """Render one aligned face photo as ``uint8 H x W x 3`` (everything per-image drawn from ``rng``)."""
    h, w = size
    img = _face_background(rng, h, w)
    scale = min(h, w) * 0.6 * float(np.exp(rng.uniform(-0.08, 0.08)))
    cx = w * (0.5 + rng.uniform(-0.05, 0.05))
    cy = h * (0.46 + rng.uniform(-0.05, 0.05))
    angle = float(np.deg2rad(np.clip(rng.normal(0, 5), -12, 12)))
    R = Raster(img, cx, cy, scale, scale, angle)
    a = rng.uniform(0, 2 * np.pi)
    r = rng.uniform(0.1, 0.7)
    draw_face(
        R, identity,
        yaw=float(np.clip(rng.normal(0, 0.4), -1, 1)),
        light=(float(r * np.cos(a)), float(r * np.sin(a) * 0.6)),
        smile=float(rng.uniform(-0.2, 1.0)),
        mouth_open=float(rng.uniform(0.6, 1.0)) if rng.random() < 0.2 else 0.0,
        eyes_closed=bool(rng.random() < 0.05),
    )
    cam = sample_camera(rng, 0, clutter=0)
    cam = replace(cam, lowres=1, blur=cam.blur * 0.6)
    return apply_camera(img, cam, rng)


# ---------------------------------------------------------------------------------------------
# Names for the LFW-style tree
# ---------------------------------------------------------------------------------------------

_ONSETS = ("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "ch", "st", "tr", "sh")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ou")
_CODAS = ("", "", "", "n", "r", "s", "l", "m", "t", "ck")


def _word(rng: np.random.Generator, syllables: int) -> str:
    parts = [_pick(rng, _ONSETS) + _pick(rng, _VOWELS) for _ in range(syllables)]
    return ("".join(parts) + _pick(rng, _CODAS)).capitalize()


def person_names(seed: int, n: int) -> list[str]:
    """``n`` unique ``First_Last`` names from a deterministic syllable generator."""
    rng = np.random.default_rng([int(seed), SPLIT_CODES["names"], 0])
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        name = f"{_word(rng, int(rng.integers(1, 3)))}_{_word(rng, int(rng.integers(2, 4)))}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def lfw_image_counts(rng: np.random.Generator, n: int, max_images: int) -> list[int]:
    """Images per person, skewed like LFW: most have one, a few have many."""
    counts = []
    for _ in range(n):
        if rng.random() < 0.55:
            counts.append(1)
        else:
            counts.append(int(min(1 + rng.zipf(1.7), max_images)))
    # LFW's head: the largest identity has many images
    if n and max_images > 1:
        counts[int(rng.integers(n))] = max_images
    return counts


def lfw_pairs(rng: np.random.Generator, names: list[str], counts: list[int], folds: int,
              per_fold: int) -> tuple[int, list[list[tuple]]]:
    """LFW View-2 style pairs: person-disjoint folds of matched then mismatched pairs.

    Returns ``(per_fold, folds)`` where ``per_fold`` may be lowered so every fold has that many
    distinct matched pairs; each fold is a list of ``(name, n1, n2)`` followed by
    ``(name1, n1, name2, n2)`` tuples.
    """
    order = rng.permutation(len(names))
    multi = [i for i in order if counts[i] >= 2]
    single = [i for i in order if counts[i] < 2]
    members: list[list[int]] = [[] for _ in range(folds)]
    for k, i in enumerate(multi):
        members[k % folds].append(int(i))
    for k, i in enumerate(single):
        members[(k + len(multi)) % folds].append(int(i))
    avail = []
    for m in members:
        avail.append(sum(counts[i] * (counts[i] - 1) // 2 for i in m))
    per_fold = max(0, min(per_fold, *avail, *(len(m) * (len(m) - 1) // 2 for m in members)))
    out = []
    for m in members:
        matched: list[tuple] = []
        cand = [(i, a, b) for i in m for a in range(1, counts[i] + 1) for b in range(a + 1, counts[i] + 1)]
        for j in rng.permutation(len(cand))[:per_fold]:
            i, a, b = cand[j]
            matched.append((names[i], a, b))
        mism: set[tuple] = set()
        while len(mism) < per_fold:
            i, k = rng.choice(len(m), 2, replace=False)
            p, q = sorted((m[i], m[k]), key=lambda z: names[z])
            mism.add((names[p], int(rng.integers(1, counts[p] + 1)), names[q], int(rng.integers(1, counts[q] + 1))))
        out.append(sorted(matched) + sorted(mism))
    return per_fold, out

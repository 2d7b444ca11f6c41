"""Cameras and scenes: each camera's look, the scene it watches, and its response to light.

A :class:`Camera` fixes colour response, optics, noise and a background scene; every image
seen by it shows a random window of that scene (:func:`render_background`) and goes through
:func:`apply_camera` (colour, exposure, resolution, blur, noise, gamma) to ``uint8``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from .palettes import pick
from .raster import Raster, ellipse, rbox, smooth_noise
from .streams import stream

SCENES = ("street", "building", "park", "indoor", "plaza")
GROUND_COLOURS = {"street": [(0.42, 0.42, 0.43), (0.55, 0.52, 0.48)],
                  "building": [(0.58, 0.55, 0.50), (0.45, 0.30, 0.25)],
                  "park": [(0.50, 0.47, 0.40), (0.30, 0.42, 0.22)],
                  "indoor": [(0.70, 0.68, 0.62), (0.55, 0.55, 0.58)],
                  "plaza": [(0.66, 0.62, 0.55), (0.48, 0.48, 0.50)]}
WALL_COLOURS = {"street": [(0.60, 0.55, 0.50), (0.35, 0.38, 0.45), (0.70, 0.66, 0.58)],
                "building": [(0.62, 0.40, 0.32), (0.70, 0.70, 0.68), (0.55, 0.52, 0.46)],
                "park": [(0.22, 0.36, 0.18), (0.30, 0.42, 0.20)],
                "indoor": [(0.80, 0.78, 0.72), (0.60, 0.62, 0.66), (0.75, 0.70, 0.60)],
                "plaza": [(0.50, 0.55, 0.60), (0.68, 0.64, 0.58)]}


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
        scene=pick(rng, scenes),
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
    return [sample_camera(stream(seed, "camera", domain, c), c + 1, scenes, clutter) for c in range(n)]


# --- scenes ------------------------------------------------------------------------------------


def _scene_structure(img: np.ndarray, rng: np.random.Generator, kind: str, x: np.ndarray, y: np.ndarray,
                     horizon: float, upper: np.ndarray) -> None:
    """The upper part of a scene: windows and shop fronts, foliage and sky, or posters."""
    H, W = img.shape[:2]
    if kind in ("street", "building", "plaza"):
        pw, ph = rng.uniform(0.03, 0.07), rng.uniform(0.06, 0.12)
        win = ((x % pw) / pw > 0.35) & ((y % ph) / ph > 0.3) & (y < horizon - 0.05)
        wcol = np.asarray(pick(rng, [(0.20, 0.25, 0.32), (0.45, 0.55, 0.62), (0.15, 0.15, 0.17)]), np.float32)
        img[win] = img[win] * 0.3 + wcol * 0.7
        # shop fronts / panels of different colours
        edges = np.sort(rng.uniform(0, 1, int(rng.integers(2, 6))))
        for e0, e1 in zip(edges[:-1], edges[1:]):
            m = (x >= e0) & (x < e1) & upper
            tint = rng.uniform(0.75, 1.2, 3).astype(np.float32)
            img[m] *= tint
    elif kind == "park":
        leaves = smooth_noise(rng, H, W, (6, 24))
        img[upper] *= (1 + 0.35 * leaves[upper])[:, None]
        sky = (y < horizon * rng.uniform(0.2, 0.5)) & (leaves < -0.2)
        img[sky] = np.asarray((0.70, 0.78, 0.86), np.float32)
    else:  # indoor: posters and doors
        for _ in range(int(rng.integers(3, 8))):
            cx, cy = rng.uniform(0, 1), rng.uniform(0.05, horizon - 0.05)
            m = (np.abs(x - cx) < rng.uniform(0.01, 0.04)) & (np.abs(y - cy) < rng.uniform(0.04, 0.12))
            col = rng.uniform(0.1, 0.9, 3)
            img[m] = (col.mean() + (col - col.mean()) * 0.6).astype(np.float32)


def _scene_ground_and_objects(img: np.ndarray, rng: np.random.Generator, x: np.ndarray, y: np.ndarray,
                              horizon: float, upper: np.ndarray) -> None:
    """Ground tiles with perspective-ish spacing, then fixed objects: poles, pillars, benches."""
    gy = np.clip((y - horizon) / (1 - horizon), 0, 1)
    rows = np.sin(np.sqrt(gy + 1e-3) * rng.uniform(15, 30)) > 0.96
    cols = np.sin(x * rng.uniform(40, 90) + gy * rng.uniform(-8, 8)) > 0.97
    lines = (rows | cols) & ~upper
    img[lines] *= 0.82
    for _ in range(int(rng.integers(1, 4))):
        cx, wdt = rng.uniform(0, 1), rng.uniform(0.004, 0.02)
        top = rng.uniform(0.0, horizon)
        m = (np.abs(x - cx) < wdt) & (y > top) & (y < horizon + rng.uniform(0.05, 0.3))
        img[m] = np.asarray(pick(rng, [(0.25, 0.25, 0.27), (0.6, 0.6, 0.6), (0.35, 0.3, 0.25)]), np.float32)
    for _ in range(int(rng.integers(0, 3))):
        cx, cy = rng.uniform(0, 1), rng.uniform(horizon, horizon + 0.15)
        m = (np.abs(x - cx) < rng.uniform(0.02, 0.06)) & (np.abs(y - cy) < rng.uniform(0.02, 0.05))
        img[m] = rng.uniform(0.15, 0.7, 3).astype(np.float32)


@lru_cache(maxsize=64)
def scene(kind: str, scene_seed: int, h: int, w: int) -> np.ndarray:
    """A camera's fixed scene, larger than one image (each image sees a random window of it)."""
    rng = np.random.default_rng(scene_seed)
    H, W = int(h * 1.5), w * 4
    y = (np.arange(H, dtype=np.float32)[:, None] + 0.5) / H
    x = (np.arange(W, dtype=np.float32)[None, :] + 0.5) / W
    img = np.empty((H, W, 3), np.float32)
    horizon = rng.uniform(0.3, 0.6)
    ground_cols = GROUND_COLOURS[kind]
    ground = np.asarray(ground_cols[int(rng.integers(len(ground_cols)))], np.float32) * rng.uniform(0.85, 1.1)
    wall_opts = WALL_COLOURS[kind]
    wall = np.asarray(wall_opts[int(rng.integers(len(wall_opts)))], np.float32) * rng.uniform(0.85, 1.1)
    upper = np.broadcast_to(y < horizon, (H, W))
    img[:] = np.where(upper[..., None], wall, ground)
    _scene_structure(img, rng, kind, x, y, horizon, upper)
    _scene_ground_and_objects(img, rng, x, y, horizon, upper)
    # light falloff and grain
    img *= (1 + 0.18 * smooth_noise(rng, H, W, (3, 8)))[..., None]
    img += rng.normal(0, 0.02, img.shape).astype(np.float32)
    return np.clip(img, 0, 1)


def render_background(rng: np.random.Generator, camera: Camera, size: tuple[int, int]) -> np.ndarray:
    """A float image: a random window of the camera's scene plus random clutter."""
    h, w = size
    full = scene(camera.scene, camera.scene_seed, h, w)
    y0 = int(rng.integers(0, full.shape[0] - h + 1))
    x0 = int(rng.integers(0, full.shape[1] - w + 1))
    img = full[y0:y0 + h, x0:x0 + w].copy()
    raster = Raster(img, 0, 0, w, h)
    for _ in range(int(rng.poisson(camera.clutter))):
        col = rng.uniform(0.1, 0.9, 3)
        col = col.mean() + (col - col.mean()) * rng.uniform(0.2, 0.8)  # muted, like real clutter
        cx, cy = rng.uniform(0, 1), rng.uniform(0, 1)
        rx, ry = rng.uniform(0.03, 0.25), rng.uniform(0.02, 0.12)
        shp = ellipse(cx, cy, rx, ry) if rng.random() < 0.5 else rbox(cx, cy, rx, ry, 0.01)
        raster.paint(shp, col, alpha=float(rng.uniform(0.4, 1.0)))
    g = 1 + rng.uniform(-0.12, 0.12) * (np.linspace(-1, 1, h, dtype=np.float32)[:, None, None])
    return img * g


# --- the camera's response ---------------------------------------------------------------------


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
        _lower_resolution(x, camera.lowres)
    b = camera.blur + float(rng.uniform(0, 0.1))
    if b > 0:
        x = blur3(x, b)
    noise = rng.standard_normal(x.shape, dtype=np.float32)
    noise *= camera.noise
    x += noise
    # gamma through a lookup table on 10-bit codes
    idx = np.clip(x * 1023 + 0.5, 0, 1023).astype(np.int16)
    return gamma_lut(round(camera.gamma, 4))[idx]


def _lower_resolution(x: np.ndarray, f: int) -> None:
    """In place: average ``f x f`` blocks through 8 bits, then upsample bilinearly."""
    h, w = x.shape[:2]
    hh, ww = h // f * f, w // f * f
    small = x[:hh, :ww].reshape(hh // f, f, ww // f, f, 3).mean((1, 3))
    x[:hh, :ww] = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((ww, hh), Image.BILINEAR),
                             np.float32) * (1 / 255)


@lru_cache(maxsize=256)
def gamma_lut(gamma: float) -> np.ndarray:
    """``uint8`` codes of ``v ** gamma`` for 1024 levels of ``v`` in ``[0, 1]``."""
    return (np.clip(np.linspace(0, 1, 1024) ** gamma, 0, 1) * 255 + 0.5).astype(np.uint8)


def blur3(x: np.ndarray, b: float) -> np.ndarray:
    """Separable 3-tap blur ``[b, 1-2b, b]`` with edge replication."""
    p = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="edge")
    y = (1 - 2 * b) * p[:, 1:-1] + b * (p[:, :-2] + p[:, 2:])
    return (1 - 2 * b) * y[1:-1] + b * (y[:-2] + y[2:])

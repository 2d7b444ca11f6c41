"""Drawing primitives: a tiny anti-aliased rasteriser, signed-distance shapes, smooth noise.

Shapes are signed distance functions of local coordinates ``(U, V)`` with a local bounding box;
:class:`Raster` paints them into a float32 ``H x W x 3`` image in ``[0, 1]``. Nothing here is
specific to pedestrians or faces.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

SDF = Callable[[np.ndarray, np.ndarray], np.ndarray]
Shape = tuple[SDF, tuple[float, float, float, float]]  # (distance function, local bbox)
Shade = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
BIG = 1e3  # "unbounded" in local units


class Raster:
    """Paint shapes, given in a local frame, into a float32 ``H x W x 3`` image in ``[0, 1]``.

    Pixel centre ``(X, Y)`` maps to local ``u = Rot(X - ox) / sx``, ``v = Rot(Y - oy) / sy`` with Rot a
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
        """``(slices, U, V)`` of the pixels a local bbox can touch, or None if it misses the image."""
        u0, v0, u1, v1 = (min(max(b, -BIG), BIG) for b in bbox)
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
        shade: Shade | None = None,
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


# --- shapes ------------------------------------------------------------------------------------


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
    return (lambda U, V: (nx * U + ny * V - c) / n), (-BIG, -BIG, BIG, BIG)


def ring(shape: Shape, thickness: float) -> Shape:
    f, bb = shape
    return (lambda U, V: np.abs(f(U, V)) - thickness), (bb[0] - thickness, bb[1] - thickness, bb[2] + thickness, bb[3] + thickness)


def cylinder_shade(r: float, lo: float = 0.72) -> Shade:
    """Brighter along a limb's axis, darker at its silhouette."""
    return lambda U, V, d: lo + (1 - lo) * np.sqrt(np.clip(-d / r, 0.0, 1.0))


# --- textures and sheets -------------------------------------------------------------------------


def smooth_noise(rng: np.random.Generator, h: int, w: int, cells: tuple[int, int]) -> np.ndarray:
    """Low-frequency noise in about ``[-1, 1]``: a coarse random grid, bilinearly upsampled."""
    g = rng.uniform(-1, 1, (cells[0] + 1, cells[1] + 1)).astype(np.float32)
    im = Image.fromarray(g, mode="F").resize((w, h), Image.BILINEAR)
    return np.asarray(im, np.float32)


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

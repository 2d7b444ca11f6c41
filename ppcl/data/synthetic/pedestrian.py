"""Pedestrians: the body drawn part by part.

:func:`draw_person` paints one :class:`~.identities.PersonIdentity` in a :class:`~.pose.Pose`
in local units (head top at v=0, soles at v=1, body centre at u=0), back to front: hair and bag
behind the body, the far limbs, the bottom garment, the top, the near arms, the bag, the head.
Each part has its own function; none draws random numbers.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .identities import PersonIdentity
from .palettes import HAIR, SKIN, colour
from .pose import Limb, Point, Pose, Skeleton, skeleton
from .raster import (
    Raster,
    Shade,
    Shape,
    capsule,
    cylinder_shade,
    ellipse,
    halfplane,
    intersect,
    polygon,
    rbox,
    ring,
    union,
)


@dataclass(frozen=True)
class Paints:
    """An identity's fabric and skin colours, resolved once per drawing."""

    skin: np.ndarray
    hair: np.ndarray
    top: Callable  # of (U, V)
    bottom: Callable | np.ndarray
    shoe: np.ndarray
    bag: np.ndarray | None
    light: float  # -1..1, the side the light comes from


def _top_colour_fn(ident: PersonIdentity, tone: float) -> Callable:
    c1 = colour(ident.top_colour) * tone
    c2 = colour(ident.top_colour2) if ident.top_colour2 else c1
    pat = ident.top_pattern
    if pat == "stripes":
        return lambda U, V: np.where((((V - 0.15) / 0.045) % 1.0 < 0.5)[..., None], c1, c2)
    if pat == "checks":
        return lambda U, V: np.where(((np.floor(U / 0.04) + np.floor(V / 0.04)) % 2 == 0)[..., None], c1, c2)
    return lambda U, V: np.broadcast_to(c1, np.broadcast_shapes(U.shape, V.shape) + (3,))


def _bottom_colour_fn(ident: PersonIdentity, tone: float) -> Callable | np.ndarray:
    c1 = colour(ident.bottom_colour) * tone
    if ident.bottom_pattern == "checks":
        c2 = colour(ident.bottom_colour2)
        return lambda U, V: np.where(((np.floor(U / 0.035) + np.floor(V / 0.035)) % 2 == 0)[..., None], c1, c2)
    return c1


def paints(ident: PersonIdentity, light: float = 0.0) -> Paints:
    return Paints(
        skin=np.asarray(SKIN[ident.skin], np.float32),
        hair=np.asarray(HAIR[ident.hair_colour], np.float32),
        top=_top_colour_fn(ident, ident.tone[0]),
        bottom=_bottom_colour_fn(ident, ident.tone[1]),
        shoe=colour(ident.shoes),
        bag=colour(ident.bag_colour) if ident.bag_colour else None,
        light=light,
    )


def torso_shade(hw: float, light: float) -> Shade:
    """Fabric over a rounded torso of half width ``hw``, lit from the side ``light``."""
    return lambda U, V, d: 0.78 + 0.22 * np.clip(1 - (U / hw) ** 2, 0, 1) + light * U / hw * 0.12


# --- limbs ---------------------------------------------------------------------------------------


def draw_arm(raster: Raster, ident: PersonIdentity, p: Paints, arm: Limb, shade_lo: float) -> None:
    """Sleeve (long or short, with the forearm's skin) and hand."""
    b = ident.build
    sh, el, wr = arm
    cyl = cylinder_shade(0.026 * b, shade_lo)
    raster.paint(capsule(sh, el, 0.027 * b, 0.023 * b), p.top, cyl)
    if ident.sleeves == "long":
        raster.paint(capsule(el, wr, 0.023 * b, 0.02 * b), p.top, cyl)
    else:
        mid = (el[0] * 0.85 + sh[0] * 0.15, el[1] * 0.85 + sh[1] * 0.15)
        raster.paint(capsule(mid, wr, 0.02 * b, 0.018 * b), p.skin, cyl)
        raster.paint(capsule(sh, mid, 0.028 * b, 0.026 * b), p.top, cyl)
    raster.paint(ellipse(wr[0], wr[1] + 0.018, 0.019 * b, 0.024), p.skin * shade_lo ** 0.5)


def draw_leg(raster: Raster, ident: PersonIdentity, p: Paints, side: bool, leg: Limb, shade_lo: float) -> None:
    """Trouser leg (or bare leg under shorts and skirts) and shoe."""
    b = ident.build
    hip, knee, ankle = leg
    cyl = cylinder_shade(0.04 * b, shade_lo)
    kind = ident.bottom_kind
    if kind == "trousers":
        raster.paint(capsule(hip, knee, 0.045 * b, 0.036 * b), p.bottom, cyl)
        raster.paint(capsule(knee, ankle, 0.036 * b, 0.032 * b), p.bottom, cyl)
        if ident.bottom_pattern == "side_stripe":
            off = 0.03 * b * (1 if hip[0] >= 0 else -1) if not side else 0.0
            raster.paint(capsule((hip[0] + off, hip[1]), (ankle[0] + off, ankle[1]), 0.007), colour(ident.bottom_colour2))
    else:
        raster.paint(capsule(hip, knee, 0.037 * b, 0.028 * b), p.skin, cyl)
        raster.paint(capsule(knee, ankle, 0.028 * b, 0.022 * b), p.skin, cyl)
        if kind == "shorts":
            mid = (hip[0] * 0.3 + knee[0] * 0.7, hip[1] * 0.3 + knee[1] * 0.7)
            raster.paint(capsule(hip, mid, 0.047 * b, 0.042 * b), p.bottom, cyl)
    draw_shoe(raster, ident, p, side, ankle, shade_lo)


def draw_shoe(raster: Raster, ident: PersonIdentity, p: Paints, side: bool, ankle: Point, shade_lo: float) -> None:
    fwd = 0.025 if side else 0.0
    raster.paint(ellipse(ankle[0] + fwd, ankle[1] + 0.025, 0.045 if side else 0.034 * ident.build, 0.022),
            p.shoe, lambda U, V, d: shade_lo + (1 - shade_lo) * np.clip(-d / 0.02, 0, 1))


# --- body layers, back to front --------------------------------------------------------------------


def draw_back_layers(raster: Raster, ident: PersonIdentity, p: Paints, sk: Skeleton) -> None:
    """What the body hides: long hair and a backpack behind it, the far arm, the legs."""
    b, (hx, hy), hrx = ident.build, sk.head, sk.head_r[0]
    if ident.hair_style == "long" and sk.view != "side":
        raster.paint(rbox(hx, hy + 0.06, hrx * 1.25, 0.1, 0.04), p.hair)
    if ident.bag == "backpack" and sk.view == "front":
        raster.paint(rbox(0, 0.3 + sk.top_y, sk.hw_sh * 1.12, 0.12, 0.03), p.bag * 0.8)
    if ident.bag == "backpack" and sk.side:
        raster.paint(rbox(-0.1 * b, 0.3 + sk.top_y, 0.05, 0.11, 0.025), p.bag)
    if sk.side:
        draw_arm(raster, ident, p, sk.arms[0], 0.6)
        draw_leg(raster, ident, p, True, sk.legs[1], 0.65)
        draw_leg(raster, ident, p, True, sk.legs[0], 0.75)
    else:
        for leg in sk.legs:
            draw_leg(raster, ident, p, False, leg, 0.72)


def draw_bottom(raster: Raster, ident: PersonIdentity, p: Paints, sk: Skeleton) -> None:
    """The bottom garment at the hips: trousers' and shorts' seat, or a skirt."""
    kind, top_y, hw_w, hw_h = ident.bottom_kind, sk.top_y, sk.hw_w, sk.hw_h
    tshade = torso_shade(hw_h, p.light)
    if kind in ("trousers", "shorts"):
        raster.paint(polygon([(-hw_w, 0.47 + top_y), (hw_w, 0.47 + top_y), (hw_h, 0.55 + top_y), (0.012, 0.6 + top_y),
                         (-0.012, 0.6 + top_y), (-hw_h, 0.55 + top_y)]), p.bottom, tshade)
    else:
        hem = (0.72 if kind == "skirt" else 0.88) + top_y
        flare = 0.035 if kind == "skirt" else 0.05
        raster.paint(polygon([(-hw_w, 0.46 + top_y), (hw_w, 0.46 + top_y), (hw_h + flare, hem), (-hw_h - flare, hem)]),
                p.bottom, tshade)


def draw_top(raster: Raster, ident: PersonIdentity, p: Paints, sk: Skeleton) -> None:
    """Neck, torso and shoulders in the top's fabric, then its pattern."""
    b, top_y, hw_sh, hw_w, hw_h = ident.build, sk.top_y, sk.hw_sh, sk.hw_w, sk.hw_h
    hx, hy = sk.head
    raster.paint(capsule((hx * 0.5, hy + 0.04), (0, 0.165 + top_y), 0.02 * b), p.skin * 0.85)
    torso = polygon([(-hw_sh, 0.165 + top_y), (hw_sh, 0.165 + top_y), (hw_sh * 0.97, 0.27 + top_y),
                     (hw_w, 0.46 + top_y), (hw_h * 0.98, 0.53 + top_y), (-hw_h * 0.98, 0.53 + top_y),
                     (-hw_w, 0.46 + top_y), (-hw_sh * 0.97, 0.27 + top_y)])
    raster.paint(torso, p.top, torso_shade(hw_sh, p.light))
    raster.paint(capsule((-hw_sh * 0.75, 0.18 + top_y), (hw_sh * 0.75, 0.18 + top_y), 0.028 * b), p.top,
            torso_shade(hw_sh, p.light))
    draw_top_pattern(raster, ident, sk)


def draw_top_pattern(raster: Raster, ident: PersonIdentity, sk: Skeleton) -> None:
    """A logo or an open jacket, as each view shows it (stripes and checks are in the fabric)."""
    b, top_y, hw_sh, view = ident.build, sk.top_y, sk.hw_sh, sk.view
    c2 = colour(ident.top_colour2) if ident.top_colour2 else None
    if ident.top_pattern == "logo" and view == "front":
        raster.paint(ellipse(0.012 * b, 0.28, 0.038 * b, 0.036), c2)
        raster.paint(ellipse(0.012 * b, 0.28, 0.018 * b, 0.017), colour(ident.top_colour) * ident.tone[0])
    elif ident.top_pattern == "logo" and sk.side:
        raster.paint(rbox(0.02, 0.22 + top_y, 0.012, 0.012), c2)
    elif ident.top_pattern == "jacket":
        if view == "front":
            raster.paint(polygon([(-0.03 * b, 0.17), (0.03 * b, 0.17), (0.022 * b, 0.52), (-0.022 * b, 0.52)]), c2)
            raster.paint(capsule((0, 0.17), (0, 0.52), 0.004), colour(ident.top_colour) * 0.6)
        elif view == "back":
            raster.paint(rbox(0, 0.2, hw_sh * 0.8, 0.02, 0.01), c2)  # collar band
        else:
            raster.paint(rbox(0.05 * b, 0.33 + top_y, 0.012, 0.17), c2)


def draw_seat(raster: Raster, ident: PersonIdentity, p: Paints, sk: Skeleton) -> None:
    """Side view: the trousers' seat shows below the top's hem."""
    if sk.side and ident.bottom_kind in ("trousers", "shorts"):
        raster.paint(rbox(0, 0.54 + sk.top_y, sk.hw_h, 0.04, 0.02), p.bottom, torso_shade(sk.hw_h, p.light))


def draw_near_arms(raster: Raster, ident: PersonIdentity, p: Paints, sk: Skeleton) -> None:
    if sk.side:
        draw_arm(raster, ident, p, sk.arms[1], 0.78)
    else:
        for arm in sk.arms:
            draw_arm(raster, ident, p, arm, 0.75)


def draw_bag(raster: Raster, ident: PersonIdentity, p: Paints, sk: Skeleton) -> None:
    """A backpack (body and straps), a shoulder bag (strap and bag) or a handbag at a wrist."""
    b, top_y, hw_sh, view, side, bagc = ident.build, sk.top_y, sk.hw_sh, sk.view, sk.side, p.bag
    if ident.bag == "backpack":
        if view == "back":
            raster.paint(rbox(0, 0.31, hw_sh * 0.9, 0.125, 0.035), bagc, torso_shade(hw_sh, p.light))
            raster.paint(rbox(0, 0.36, hw_sh * 0.6, 0.04, 0.015), bagc * 0.75)
        elif view == "front":
            for sgn in (-1, 1):
                raster.paint(capsule((sgn * hw_sh * 0.55, 0.17), (sgn * hw_sh * 0.62, 0.36), 0.011), bagc * 0.7)
        else:
            raster.paint(capsule((0.0, 0.17 + top_y), (-0.02, 0.36 + top_y), 0.01), bagc * 0.7)
    elif ident.bag == "shoulder":
        sgn = 1 if ident.bag_side == "right" else -1
        if view == "back":
            sgn = -sgn
        if side:
            raster.paint(capsule((0, 0.17 + top_y), (0.02, 0.45 + top_y), 0.007), bagc * 0.7)
            raster.paint(rbox(0.0, 0.5 + top_y, 0.055, 0.045, 0.01), bagc)
        else:
            raster.paint(capsule((-sgn * hw_sh * 0.5, 0.17), (sgn * hw_sh * 1.05, 0.46), 0.008), bagc * 0.7)
            raster.paint(rbox(sgn * hw_sh * 1.2, 0.5, 0.05 * b, 0.05, 0.012), bagc)
    elif ident.bag == "handbag":
        arm = sk.arms[1] if side else sk.arms[1 if ident.bag_side == "right" else 0]
        wr = arm[2]
        raster.paint(rbox(wr[0], wr[1] + 0.07, 0.04, 0.04, 0.01), bagc)
        raster.paint(ring(ellipse(wr[0], wr[1] + 0.03, 0.022, 0.02), 0.004), bagc * 0.8)


def draw_head(raster: Raster, ident: PersonIdentity, p: Paints, sk: Skeleton) -> None:
    """The head: the back of the hair, or the face with its hair and features; then bun or cap."""
    (hx, hy), (hrx, hry), view, side = sk.head, sk.head_r, sk.view, sk.side
    head = ellipse(hx, hy, hrx, hry)
    face_shade = lambda U, V, d: 0.8 + 0.2 * np.clip(-d / 0.03, 0, 1)  # noqa: E731
    style = ident.hair_style
    if view == "back" and style != "bald":
        raster.paint(head, p.hair, face_shade)
    else:
        raster.paint(head, p.skin, face_shade)
        draw_hair(raster, ident, p, sk, head)
        if view == "front":
            for sgn in (-1, 1):
                raster.paint(ellipse(hx + sgn * 0.018, hy + 0.002, 0.006, 0.005), (0.1, 0.08, 0.08))
            raster.paint(ellipse(hx, hy + 0.038, 0.012, 0.004), p.skin * 0.65)
        elif side:
            raster.paint(ellipse(hx + 0.032, hy, 0.005, 0.005), (0.1, 0.08, 0.08))
    if style == "bun":
        raster.paint(ellipse(hx - (0.045 if side else 0.0), hy - (0.05 if not side else 0.02), 0.026, 0.022), p.hair)
    if style == "cap":
        draw_cap(raster, ident, sk)


def draw_hair(raster: Raster, ident: PersonIdentity, p: Paints, sk: Skeleton, head: Shape) -> None:
    """Hair seen on a face (front or side): a bald crown's shadow, or a hairline and fringe."""
    (hx, hy), (hrx, hry), style = sk.head, sk.head_r, ident.hair_style
    if style == "bald":
        raster.paint(intersect(head, halfplane(0, 1, hy - 0.045)), p.skin * 0.8)
    elif style != "cap":
        if sk.side:
            raster.paint(intersect(ellipse(hx - 0.004, hy - 0.004, hrx * 1.06, hry * 1.04),
                              union(halfplane(0, 1, hy - 0.03), halfplane(1, 0, hx - 0.012))), p.hair)
        else:
            fringe = hy - 0.02 + 0.01 * (style == "long")
            raster.paint(intersect(ellipse(hx, hy - 0.004, hrx * 1.08, hry * 1.05), halfplane(0, 1, fringe)), p.hair)
            if style == "long":
                for sgn in (-1, 1):
                    raster.paint(rbox(hx + sgn * hrx * 0.95, hy + 0.03, 0.014, 0.05, 0.01), p.hair)


def draw_cap(raster: Raster, ident: PersonIdentity, sk: Skeleton) -> None:
    (hx, hy), (hrx, hry) = sk.head, sk.head_r
    hc = colour(ident.hat_colour)
    raster.paint(intersect(ellipse(hx, hy - 0.006, hrx * 1.1, hry * 1.02), halfplane(0, 1, hy - 0.022)), hc)
    if sk.view == "front":
        raster.paint(ellipse(hx, hy - 0.02, hrx * 1.05, 0.011), hc * 0.8)
    elif sk.side:
        raster.paint(ellipse(hx + hrx * 0.9, hy - 0.022, 0.035, 0.009), hc * 0.8)


def draw_person(raster: Raster, ident: PersonIdentity, pose: Pose, light: float = 0.0) -> None:
    """Draw a pedestrian in local units: head top at v=0, soles at v=1, body centre at u=0."""
    p, sk = paints(ident, light), skeleton(ident, pose)
    draw_back_layers(raster, ident, p, sk)
    draw_bottom(raster, ident, p, sk)
    draw_top(raster, ident, p, sk)
    draw_seat(raster, ident, p, sk)
    draw_near_arms(raster, ident, p, sk)
    draw_bag(raster, ident, p, sk)
    draw_head(raster, ident, p, sk)

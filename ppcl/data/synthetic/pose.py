"""Pose and skeleton: how a pedestrian stands in one image, and where its joints are.

A :class:`Pose` (view, leg stride, arm swing, head turn) is drawn per image; :func:`skeleton`
turns it, with the identity's build, into joint positions in the local frame of
:mod:`.pedestrian` (head top at v=0, soles at v=1, body centre at u=0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .identities import PersonIdentity
from .palettes import pick

VIEWS = ("front", "back", "side")
VIEW_WEIGHTS = (2, 2, 3)

Point = tuple[float, float]
Limb = tuple[Point, Point, Point]  # hip, knee, ankle / shoulder, elbow, wrist


@dataclass(frozen=True)
class Pose:
    view: str  # front | back | side (side faces +u; flips make it face left)
    stride: float  # -1..1
    swing: float  # -1..1
    head_turn: float  # -1..1, small


def sample_pose(rng: np.random.Generator, view: str | None = None) -> Pose:
    return Pose(
        view=view or pick(rng, VIEWS, VIEW_WEIGHTS),
        stride=float(rng.uniform(-1, 1)),
        swing=float(rng.uniform(-1, 1)),
        head_turn=float(rng.uniform(-1, 1)),
    )


@dataclass(frozen=True)
class Skeleton:
    """Where a posed body's parts are, in local units."""

    view: str
    legs: tuple[Limb, Limb]  # side view: front leg first
    arms: tuple[Limb, Limb]  # side view: back arm first
    hw_sh: float  # half widths at the shoulders, waist and hips
    hw_w: float
    hw_h: float
    head: Point  # head centre
    head_r: Point  # head radii
    top_y: float  # vertical offset of the torso (side views drop with the stride)

    @property
    def side(self) -> bool:
        return self.view == "side"


def _side_skeleton(b: float, pose: Pose) -> Skeleton:
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
    return Skeleton(pose.view, tuple(legs), tuple(arms), 0.062 * b, 0.058 * b, 0.068 * b,
                    (0.012, 0.068 + drop), (0.05, 0.066), drop)


def _front_skeleton(b: float, pose: Pose) -> Skeleton:
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
    return Skeleton(pose.view, tuple(legs), tuple(arms), 0.105 * b, 0.085 * b, 0.09 * b,
                    (0.004 * pose.head_turn, 0.068), (0.047, 0.066), 0.0)


def skeleton(ident: PersonIdentity, pose: Pose) -> Skeleton:
    """The joints of ``ident``'s body (its build) in ``pose``."""
    return (_side_skeleton if pose.view == "side" else _front_skeleton)(ident.build, pose)

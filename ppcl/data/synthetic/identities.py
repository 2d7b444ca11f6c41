"""Identities made of parts: the pedestrian identity, and the sibling-sharing pool sampler.

An identity is a frozen record of discrete parts (grouped, e.g. head / top / bottom) plus a few
continuous fields. :func:`identity_pools` draws disjoint pools of unique identities of any such
kind (pedestrians here, faces in :mod:`.faces`), about half of each a *sibling* of an earlier
one with one or two part groups re-drawn, so a crop that shows only shared parts is ambiguous.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from .palettes import (
    ACCENT_COLOURS,
    BAG_COLOURS,
    BAG_WEIGHTS,
    BAGS,
    BOTTOM_COLOURS,
    BOTTOM_KIND_WEIGHTS,
    BOTTOM_KINDS,
    BOTTOM_PATTERN_WEIGHTS,
    BOTTOM_PATTERNS,
    BOTTOM_WEIGHTS,
    HAIR,
    HAIR_STYLE_WEIGHTS,
    HAIR_STYLES,
    HAIR_WEIGHTS,
    HAT_COLOURS,
    SHOE_COLOURS,
    SHOE_WEIGHTS,
    SKIN,
    TOP_COLOURS,
    TOP_PATTERN_WEIGHTS,
    TOP_PATTERNS,
    TOP_WEIGHTS,
    pick,
)
from .streams import stream

PERSON_GROUP_FIELDS: dict[str, tuple[str, ...]] = {
    "head": ("skin", "hair_colour", "hair_style", "hat_colour"),
    "top": ("top_colour", "top_pattern", "top_colour2", "sleeves"),
    "bottom": ("bottom_kind", "bottom_colour", "bottom_pattern", "bottom_colour2"),
    "shoes": ("shoes",),
    "bag": ("bag", "bag_colour", "bag_side"),
}


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
        return {g: tuple(getattr(self, f) for f in fs) for g, fs in PERSON_GROUP_FIELDS.items()}

    def signature(self) -> tuple:
        """All discrete parts: two identities are never equal here."""
        return tuple(self.parts().values())

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def sample_identity(rng: np.random.Generator) -> PersonIdentity:
    """Draw a pedestrian's parts from the shared palettes."""
    style = pick(rng, HAIR_STYLES, HAIR_STYLE_WEIGHTS)
    pattern = pick(rng, TOP_PATTERNS, TOP_PATTERN_WEIGHTS)
    top = pick(rng, TOP_COLOURS, TOP_WEIGHTS)
    top2 = ""
    if pattern != "solid":
        top2 = pick(rng, [c for c in ACCENT_COLOURS if c != top])
    kind = pick(rng, BOTTOM_KINDS, BOTTOM_KIND_WEIGHTS)
    bpat = pick(rng, BOTTOM_PATTERNS, BOTTOM_PATTERN_WEIGHTS)
    bottom = pick(rng, BOTTOM_COLOURS, BOTTOM_WEIGHTS)
    bottom2 = pick(rng, [c for c in ACCENT_COLOURS if c != bottom]) if bpat != "solid" else ""
    bag = pick(rng, BAGS, BAG_WEIGHTS)
    # keyword arguments are evaluated in this order: it is the order of the random draws
    return PersonIdentity(
        skin=int(rng.integers(len(SKIN))),
        hair_colour=int(pick(rng, range(len(HAIR)), HAIR_WEIGHTS)),
        hair_style=style,
        hat_colour=pick(rng, HAT_COLOURS) if style == "cap" else "",
        top_colour=top,
        top_pattern=pattern,
        top_colour2=top2,
        sleeves=pick(rng, ("long", "short"), (3, 2)),
        bottom_kind=kind,
        bottom_colour=bottom,
        bottom_pattern=bpat,
        bottom_colour2=bottom2,
        shoes=pick(rng, SHOE_COLOURS, SHOE_WEIGHTS),
        bag=bag,
        bag_colour=pick(rng, BAG_COLOURS) if bag != "none" else "",
        bag_side=pick(rng, ("left", "right")) if bag in ("shoulder", "handbag") else "",
        height=float(np.round(rng.uniform(0.9, 1.05), 4)),
        build=float(np.round(rng.uniform(0.85, 1.15), 4)),
        tone=(float(np.round(rng.uniform(0.9, 1.1), 4)), float(np.round(rng.uniform(0.9, 1.1), 4))),
    )


def mix_identities(parent, fresh, groups: Iterable[str],
                   group_fields: dict[str, tuple[str, ...]] = PERSON_GROUP_FIELDS):
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
    seen: set | None = None,
) -> list[list]:
    """Draw disjoint pools of unique identities, about half of each a sibling of an earlier one.

    A sibling copies an earlier identity *of the same pool* and re-draws one major part group
    (plus, sometimes, a minor one), so a crop showing only the shared parts cannot tell them
    apart. Signatures are unique over all pools together.
    """
    seen = set() if seen is None else seen  # signatures already taken (by other pools drawn before)
    pools: list[list] = []
    for size in sizes:
        pool: list = []
        while len(pool) < size:
            fresh = sampler(rng)
            if pool and rng.random() < sibling_prob:
                parent = pool[int(rng.integers(len(pool)))]
                groups = [pick(rng, major)]
                if rng.random() < 0.5:
                    groups.append(pick(rng, minor))
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


def person_pools(seed: int, sizes: Sequence[int], seen: set | None = None, draw: int = 0) -> list[list[PersonIdentity]]:
    """Disjoint pedestrian pools (e.g. train, test, Partial-REID, Partial-iLIDS) for a seed, none
    repeating a signature in ``seen`` (``draw`` names another stream of the same seed)."""
    return identity_pools(stream(seed, "identities", draw), sizes, sample_identity, ("head", "top", "bottom"),
                          ("shoes", "bag"), PERSON_GROUP_FIELDS, seen=seen)

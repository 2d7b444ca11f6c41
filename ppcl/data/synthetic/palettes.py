"""Colour palettes and part vocabularies (RGB in [0, 1]), and the weighted pick from them.

Small on purpose, so identities share parts. Skin and hair are shared by pedestrians and faces.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RGB = tuple[float, float, float]

CLOTH: dict[str, RGB] = {
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
HAT_COLOURS = ("black", "white", "red", "navy", "beige", "grey")
SKIN: tuple[RGB, ...] = (
    (0.96, 0.80, 0.69), (0.91, 0.71, 0.57), (0.80, 0.59, 0.44), (0.62, 0.43, 0.30), (0.40, 0.27, 0.19))
HAIR: tuple[RGB, ...] = (
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


def pick(rng: np.random.Generator, options: Sequence, weights: Sequence[float] | None = None):
    """One of ``options``, uniformly or with relative ``weights`` (one draw from ``rng``)."""
    if weights is None:
        return options[int(rng.integers(len(options)))]
    p = np.asarray(weights, np.float64)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def colour(name: str) -> np.ndarray:
    """The float32 RGB of a :data:`CLOTH` colour name."""
    return np.asarray(CLOTH[name], np.float32)

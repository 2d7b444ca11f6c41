"""Random streams: one per (seed, split, id, index), never shared between images.

Every random draw of the generator comes from a stream named by its coordinates, so one seed
gives byte-identical files in any order and with any number of worker processes. An image's
detection box has a stream of its own (:func:`box_rng`), so drawing it or not leaves every other
draw of the image where it was.
"""
from __future__ import annotations

import numpy as np

SPLIT_CODES: dict[str, int] = {
    "market_train": 1,
    "market_query": 2,
    "market_gallery": 3,
    "market_distractor": 4,
    "market_junk": 5,
    "preid_whole": 6,
    "preid_partial": 7,
    "preid_occluded": 8,
    "ilids_probe": 9,
    "ilids_gallery": 10,
    "face_casia": 11,
    "face_lfw": 12,
    "preid_whole_large": 13,  # the larger test draws (``large/``): streams of their own
    "preid_partial_large": 14,
    "preid_occluded_large": 15,
    "ilids_probe_large": 16,
    "ilids_gallery_large": 17,
    "layout": 20,
    "camera": 30,
    "identities": 40,
    "names": 50,
    "detector_box": 60,  # one image's detection box: [seed, 60, its split's code, id, index]
}


def image_rng(seed: int, split: str, ident: int, index: int, *extra: int) -> np.random.Generator:
    """The random stream of one image: depends on nothing but its coordinates."""
    return np.random.default_rng([int(seed), SPLIT_CODES[split], int(ident), int(index), *map(int, extra)])


def stream(seed: int, split: str, *coords: int) -> np.random.Generator:
    """A named stream that is not one image's (identities, cameras, layouts): ``[seed, code, *coords]``."""
    return np.random.default_rng([int(seed), SPLIT_CODES[split], *map(int, coords)])


def box_rng(seed: int, split: str, ident: int, index: int) -> np.random.Generator:
    """The detection box's stream of the image ``(split, ident, index)``, apart from :func:`image_rng`'s."""
    return np.random.default_rng([int(seed), SPLIT_CODES["detector_box"], SPLIT_CODES[split], int(ident), int(index)])

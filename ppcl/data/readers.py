"""One entry point for every real-dataset reader, with the published counts to check against."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .casia_webface import load_casia_webface
from .common import FaceData, ReIDData
from .lfw import load_lfw
from .market1501 import load_market1501
from .partial_ilids import load_partial_ilids
from .partial_reid import load_partial_reid

READERS: dict[str, Callable[[str | Path], ReIDData | FaceData]] = {
    "market1501": load_market1501,
    "partial_reid": load_partial_reid,
    "partial_ilids": load_partial_ilids,
    "lfw": load_lfw,
    "casia_webface": load_casia_webface,
}

# Counts as the datasets' authors (and every peer reader) publish them, in the keys of
# ReIDData.counts() / FaceData.counts() plus a few layout extras that readers put in info.
PUBLISHED_COUNTS: dict[str, dict[str, int]] = {
    "market1501": {
        "train_images": 12_936,
        "train_ids": 751,
        "query_images": 3_368,
        "query_ids": 750,
        "gallery_images": 15_913,
        "gallery_ids": 751,  # 750 test ids + the distractor id 0
        "distractors": 2_793,
        "bounding_box_test_files": 19_732,
        "junk": 3_819,
    },
    "partial_reid": {
        "train_images": 0,
        "train_ids": 0,
        "query_images": 300,
        "query_ids": 60,
        "gallery_images": 300,
        "gallery_ids": 60,
    },
    "partial_ilids": {
        "train_images": 0,
        "train_ids": 0,
        "query_images": 119,
        "query_ids": 119,
        "gallery_images": 119,
        "gallery_ids": 119,
    },
    "lfw": {"images": 13_233, "ids": 5_749, "ids_with_2_or_more": 1_680},
    "casia_webface": {"images": 494_414, "ids": 10_575},
}


def load(name: str, root: str | Path) -> ReIDData | FaceData:
    """Load dataset ``name`` from ``root``; raise ``ValueError`` listing the known names."""
    try:
        reader = READERS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(sorted(READERS))}") from None
    return reader(root)


def observed_counts(data: ReIDData | FaceData) -> dict[str, int]:
    """The loaded counts in the keys of :data:`PUBLISHED_COUNTS` (info extras included)."""
    counts = dict(data.counts())
    for key in PUBLISHED_COUNTS.get(data.name, {}):
        if key not in counts and isinstance(data.info.get(key), int):
            counts[key] = data.info[key]
    return counts

"""Tiny on-disk copies of each real dataset layout, for the reader tests.

Each ``build_*`` function writes a tree under ``base`` that copies the real distribution's
folder names, file-name patterns and stray files exactly (junk ``-1`` and distractor
``0000`` files, ``Thumbs.db``, ``gt_bbox/``, ``occluded_body_images/``, list files,
``pairs.txt``), with 8x4 px JPEGs, and returns a :class:`Fixture`: the dataset folder and the
counts a reader should report.
"""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from PIL import Image


class Fixture(NamedTuple):
    root: Path
    expected: dict


@lru_cache(maxsize=None)
def _jpeg_bytes(shade: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 8), (shade % 256, (shade * 37) % 256, (shade * 91) % 256)).save(buf, "JPEG")
    return buf.getvalue()


def write_jpeg(path: Path, shade: int = 0) -> Path:
    """A valid 8x4 (HxW) JPEG at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_jpeg_bytes(shade))
    return path


def write_truncated_jpeg(path: Path, keep: float = 0.5, seed: int = 0) -> Path:
    """A 64x32 noise JPEG cut to ``keep`` of its bytes, as an interrupted download leaves it: the
    header is whole (the file opens and reports its size), the pixels stop part-way."""
    import numpy as np

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (64, 32, 3), dtype=np.uint8)).save(buf, "JPEG")
    data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _write_all(folder: Path, names: list[str]) -> None:
    for i, n in enumerate(names):
        write_jpeg(folder / n, i)


# ----------------------------------------------------------------------------- Market-1501

MARKET_TRAIN = [  # non-contiguous ids: relabelling must map 2, 7, 11 -> 0, 1, 2
    "0002_c1s1_000451_03.jpg", "0002_c2s1_000301_01.jpg", "0002_c3s1_000551_01.jpg",
    "0007_c1s6_028546_01.jpg", "0007_c5s3_090118_02.jpg",
    "0011_c6s1_002351_02.jpg", "0011_c4s1_002376_01.jpg", "0011_c2s1_002426_03.jpg",
]
MARKET_QUERY = [
    "0001_c1s1_001051_00.jpg", "0003_c2s1_002551_00.jpg", "0003_c5s1_022651_00.jpg", "0005_c6s1_004576_00.jpg",
]
MARKET_TEST_REAL = [
    "0001_c2s1_000301_01.jpg", "0001_c3s1_000551_02.jpg",
    "0003_c1s1_002301_01.jpg", "0003_c4s1_001926_05.jpg",
    "0005_c1s1_004551_03.jpg", "0005_c2s1_004626_01.jpg",
]
MARKET_DISTRACTORS = ["0000_c1s1_000151_01.jpg", "0000_c3s2_002512_04.jpg"]
MARKET_JUNK = ["-1_c1s1_000401_03.jpg", "-1_c3s1_000776_04.jpg", "-1_c6s4_001877_06.jpg"]


def build_market1501(base: Path, folder: str = "Market-1501-v15.09.15") -> Fixture:
    """``base/<folder>/`` as Market-1501-v15.09.15.zip extracts (tens of files)."""
    root = base / folder
    _write_all(root / "bounding_box_train", MARKET_TRAIN)
    _write_all(root / "query", MARKET_QUERY)
    _write_all(root / "bounding_box_test", MARKET_TEST_REAL + MARKET_DISTRACTORS + MARKET_JUNK)
    for split in ("bounding_box_train", "bounding_box_test", "query"):
        (root / split / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 not an image")
    _write_all(root / "gt_bbox", ["0001_c1s1_001051_00.jpg", "0001_c1s1_001051_01.jpg"])
    (root / "gt_query").mkdir()
    (root / "gt_query" / "0001_c1s1_001051_00_good.mat").write_bytes(b"MATLAB 5.0")
    (root / "gt_query" / "0001_c1s1_001051_00_junk.mat").write_bytes(b"MATLAB 5.0")
    (root / "readme.txt").write_text("Market-1501 (fixture)\n")
    expected = {
        "train_images": len(MARKET_TRAIN),
        "train_ids": 3,
        "query_images": len(MARKET_QUERY),
        "query_ids": 3,
        "gallery_images": len(MARKET_TEST_REAL) + len(MARKET_DISTRACTORS),
        "gallery_ids": 4,  # 1, 3, 5 and the distractor id 0
        "distractors": len(MARKET_DISTRACTORS),
        "junk": len(MARKET_JUNK),
        "bounding_box_test_files": len(MARKET_TEST_REAL) + len(MARKET_DISTRACTORS) + len(MARKET_JUNK),
        "train_pid_map": {2: 0, 7: 1, 11: 2},
    }
    return Fixture(root, expected)


# ----------------------------------------------------------------------------- Partial-REID

PARTIAL_REID_IDS = (1, 2, 5)
PARTIAL_REID_PER_ID = 3  # the real set has 5


def _partial_reid_names() -> list[str]:
    return [f"{pid:03d}_{k:03d}.jpg" for pid in PARTIAL_REID_IDS for k in range(1, PARTIAL_REID_PER_ID + 1)]


def build_partial_reid(base: Path, folder: str = "Partial-REID_Dataset", list_files: bool = False) -> Fixture:
    """``Partial-REID_Dataset/`` as distributed; ``list_files`` adds lingxiao-he's
    ``Probe.txt`` / ``Gallery.txt`` (use with ``folder="Partial_REID"``)."""
    root = base / folder
    names = _partial_reid_names()
    for split in ("partial_body_images", "whole_body_images", "occluded_body_images"):
        _write_all(root / split, names)
    (root / "whole_body_images" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    if list_files:
        (root / "Probe.txt").write_text("".join(f"partial_body_images/{n}\n" for n in names))
        (root / "Gallery.txt").write_text("".join(f"whole_body_images/{n}\n" for n in names))
    n = len(names)
    expected = {
        "query_images": n, "query_ids": len(PARTIAL_REID_IDS),
        "gallery_images": n, "gallery_ids": len(PARTIAL_REID_IDS),
        "train_images": 0, "train_ids": 0, "occluded_images_unused": n,
    }
    return Fixture(root, expected)


# ----------------------------------------------------------------------------- Partial-iLIDS

PARTIAL_ILIDS_IDS = (1, 2, 3, 17, 119)
ILIDS_LAYOUTS = {  # layout -> (default folder, query dir, gallery dir)
    "original": ("Partial_iLIDS", "Probe", "Gallery"),
    "fastreid": ("PartialiLIDS", "query", "gallery"),
    "bpbreid": ("Partial_iLIDS", "partial_body_images", "whole_body_images"),
}


def build_partial_ilids(base: Path, layout: str = "original", folder: str | None = None) -> Fixture:
    """``Partial_iLIDS/Probe|Gallery`` with ``Probe.txt`` / ``Gallery.txt`` (``original``), or
    fast-reid's / bpbreid's repackaging (no list files)."""
    default, qdir, gdir = ILIDS_LAYOUTS[layout]
    root = base / (folder or default)
    names = [f"{pid:03d}.jpg" for pid in PARTIAL_ILIDS_IDS]
    _write_all(root / qdir, names)
    _write_all(root / gdir, names)
    if layout == "original":
        (root / "Probe.txt").write_text("".join(f"Probe/{n}\n" for n in names))
        (root / "Gallery.txt").write_text("".join(f"Gallery/{n}\n" for n in names))
    k = len(PARTIAL_ILIDS_IDS)
    expected = {
        "query_images": k, "query_ids": k, "gallery_images": k, "gallery_ids": k,
        "train_images": 0, "train_ids": 0, "gallery_variant": f"{k}: one full image per id",
    }
    return Fixture(root, expected)


# ----------------------------------------------------------------------------- LFW

LFW_PEOPLE = {"Aaron_Peirsol": 2, "Abel_Pacheco": 1, "George_W_Bush": 3, "Tung_Chee-hwa": 1, "Zico": 2}
LFW_PAIRS = """2\t1
George_W_Bush\t1\t3
Abel_Pacheco\t1\tZico\t2
Aaron_Peirsol\t1\t2
Tung_Chee-hwa\t1\tGeorge_W_Bush\t2
"""


def build_lfw(base: Path, folder: str = "lfw", pairs: str | None = "beside") -> Fixture:
    """``lfw/<Name>/<Name>_NNNN.jpg`` (or ``lfw_funneled`` / ``lfw-deepfunneled``) with
    ``pairs.txt`` ``beside`` the image folder, ``inside`` it, or none."""
    root = base / folder
    for name, n in LFW_PEOPLE.items():
        _write_all(root / name, [f"{name}_{k:04d}.jpg" for k in range(1, n + 1)])
    pairs_path = None
    if pairs is not None:
        pairs_path = (base if pairs == "beside" else root) / "pairs.txt"
        pairs_path.write_text(LFW_PAIRS)
    expected = {
        "images": sum(LFW_PEOPLE.values()),
        "ids": len(LFW_PEOPLE),
        "ids_with_2_or_more": sum(1 for n in LFW_PEOPLE.values() if n >= 2),
        "names": sorted(LFW_PEOPLE),
        "pairs_path": str(pairs_path) if pairs_path else None,
    }
    return Fixture(root, expected)


# ----------------------------------------------------------------------------- CASIA-WebFace

CASIA_IDS = {"0000045": 3, "0000099": 1, "0000100": 2, "1000000": 2}


def build_casia_webface(base: Path, folder: str = "CASIA-WebFace") -> Fixture:
    """``CASIA-WebFace/<7-digit id>/<NNN>.jpg``."""
    root = base / folder
    for ident, n in CASIA_IDS.items():
        _write_all(root / ident, [f"{k:03d}.jpg" for k in range(1, n + 1)])
    expected = {
        "images": sum(CASIA_IDS.values()),
        "ids": len(CASIA_IDS),
        "ids_with_2_or_more": sum(1 for n in CASIA_IDS.values() if n >= 2),
        "names": sorted(CASIA_IDS),
    }
    return Fixture(root, expected)


# Each dataset's tree builder by the reader's name (ppcl.data.readers.READERS).
BUILDERS = {
    "market1501": build_market1501,
    "partial_reid": build_partial_reid,
    "partial_ilids": build_partial_ilids,
    "lfw": build_lfw,
    "casia_webface": build_casia_webface,
}

"""Labeled Faces in the Wild: 13,233 images of 5,749 people (1,680 with two or more).

Layout as distributed (``lfw.tgz``, ``lfw-funneled.tgz``, ``lfw-deepfunneled.tgz``)::

    lfw/ | lfw_funneled/ | lfw-deepfunneled/
        <Name>/<Name>_0001.jpg ...
    pairs.txt          (beside the image folder, or put inside it)

The image folder is recognised by what it holds, whatever the names of the folders above it:
``DATA/lfw/lfw-deepfunneled/`` with ``DATA/lfw/pairs.txt`` loads from ``DATA/lfw`` or ``DATA``.

``pairs.txt`` (LFW README, section 3c): a header ``<sets> <pairs per set>`` (``10 300``), then
per set that many matched lines ``name n1 n2`` followed by as many mismatched lines
``name1 n1 name2 n2``; ``n`` is the 1-based image number in ``<name>_<n:04d>.jpg``. The
View 1 files (``pairsDevTrain.txt``) have a single-number header and one set.

**Aligned faces.** A ``root`` that holds ``aligned/`` (``data_prep/align_faces.py``'s output,
``DATA/aligned/lfw``) is read from there, never from the raw download; an ``aligned/`` without
LFW, or with other people or images than the raw LFW beside it, is refused naming both folders
(:func:`ppcl.data.aligned.aligned_or_raw`). ``aligned=False`` reads the raw tree.

The paper's "7,749 people" is a slip for 5,749.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .aligned import aligned_or_raw
from .common import DatasetError, FaceData, Record, _listing, list_images, search_order

FOLDERS = ("lfw", "lfw_funneled", "lfw-deepfunneled")
PAIRS_FILE = "pairs.txt"


@dataclass(frozen=True)
class LFWPair:
    """One verification pair of ``pairs.txt``; ``fold`` is the 0-based set it belongs to."""

    name1: str
    n1: int
    name2: str
    n2: int
    same: bool
    fold: int

    def paths(self, image_root: str | Path) -> tuple[Path, Path]:
        """The two image files under an LFW image folder."""
        root = Path(image_root)
        return (lfw_image_path(root, self.name1, self.n1), lfw_image_path(root, self.name2, self.n2))


def lfw_image_path(image_root: Path, name: str, n: int) -> Path:
    return image_root / name / f"{name}_{n:04d}.jpg"


def _holds_people(folder: Path, sample: int = 20) -> bool:
    """Whether ``folder`` looks like an LFW image folder: one of its first ``sample`` sub-folders
    ``<Name>/`` holds a ``<Name>_NNNN.jpg`` (a content check; the folder's own name is ignored)."""
    try:
        dirs = [e for e in os.scandir(folder) if e.is_dir()]
    except OSError:
        return False
    for entry in sorted(dirs, key=lambda e: e.name)[:sample]:
        pattern = re.compile(re.escape(entry.name) + r"_\d{4}\.jpg")
        try:
            if any(pattern.fullmatch(n) for n in os.listdir(entry.path)):
                return True
        except OSError:
            continue
    return False


def find_image_folder(root: str | Path, skip: Path | None = None) -> Path:
    """The LFW image folder, recognised by what it holds (``<Name>/<Name>_NNNN.jpg``), never by
    its name or its parents' names: ``root`` itself, else :data:`FOLDERS` inside ``root``, else
    :data:`FOLDERS` inside any folder of ``root`` (``DATA/lfw/lfw-deepfunneled/`` from ``DATA``
    or from ``DATA/lfw``); never ``skip`` or a folder inside it."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(root, "an LFW image folder or its parent", "no such folder")
    order = [f for f in search_order(root, FOLDERS) if skip is None or not (f == skip or skip in f.parents)]
    for folder in order:
        if folder.is_dir() and _holds_people(folder):
            return folder
    found = "a folder holding " + _listing(root)
    near = [f for f in order[1:] if f.is_dir()]
    if near:
        found += f"; {near[0]} holds no <Name>/<Name>_NNNN.jpg either ({_listing(near[0])})"
    raise DatasetError(
        root,
        "an LFW image folder of <Name>/<Name>_NNNN.jpg: the folder itself, or lfw/, lfw_funneled/ "
        "or lfw-deepfunneled/ in it or in a folder inside it",
        found,
    )


def _aligned_name(raw: Path) -> str:
    """The folder under ``aligned/`` a raw LFW image folder is aligned into: its own name."""
    return raw.name if raw.name in FOLDERS else FOLDERS[0]


def _person_images(person: Path) -> list[Path]:
    pattern = re.compile(re.escape(person.name) + r"_(\d{4})\.jpg")
    files = list_images(person)
    for f in files:
        if pattern.fullmatch(f.name) is None:
            expected = f"an LFW file name {person.name}_NNNN.jpg matching its folder"
            raise DatasetError(f, expected, f"the name {f.name!r}")
    if not files:
        raise DatasetError(person, f"images {person.name}_NNNN.jpg", "no image in the folder")
    return files


def load_lfw(root: str | Path, aligned: bool = True) -> FaceData:
    """Load LFW; ``names`` sorted, ``pid`` = index into ``names``, ``camid`` None. With ``aligned``,
    ``root/aligned/`` is read when it exists (see the module docstring); ``info["aligned_from"]``
    then names the raw image folder it was checked against (None if there is none)."""
    root = Path(root).expanduser()
    if aligned:
        folder, where = aligned_or_raw(root, find_image_folder, _aligned_name, "LFW")
    else:
        folder, where = find_image_folder(root), {"aligned_root": None, "aligned_from": None}
    stray = list_images(folder)
    if stray:
        raise DatasetError(stray[0], f"only <Name>/ person folders of images in {folder}", "an image outside them")
    names = sorted(e.name for e in os.scandir(folder) if e.is_dir())
    if not names:
        raise DatasetError(folder, "<Name>/ person folders", _listing(folder))
    records = [Record(str(f), pid, None) for pid, n in enumerate(names) for f in _person_images(folder / n)]
    tops = [Path(where["aligned_root"])] if where["aligned_root"] else []
    near = (folder / PAIRS_FILE, folder.parent / PAIRS_FILE, *(t / PAIRS_FILE for t in tops), root / PAIRS_FILE)
    pairs = [p for p in near if p.is_file()]
    info = {"folder": str(folder), "variant": folder.name, "pairs_path": str(pairs[0]) if pairs else None, **where}
    return FaceData("lfw", folder, records, names, info=info)


def _int(field: str, path: Path, lineno: int) -> int:
    try:
        return int(field)
    except ValueError:
        raise DatasetError(path, f"an image number on line {lineno}", repr(field)) from None


def read_lfw_pairs(path: str | Path) -> list[LFWPair]:
    """Parse an LFW ``pairs.txt`` (or ``pairsDevTrain.txt`` / ``pairsDevTest.txt``)."""
    path = Path(path)
    try:
        lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(path, "an LFW pairs file", f"an unreadable file ({e})") from None
    header = lines[0] if lines else []
    if not 1 <= len(header) <= 2 or not all(f.isdigit() for f in header):
        raise DatasetError(path, "a header line '<sets> <pairs per set>' (e.g. '10 300')", repr(" ".join(header)))
    sets, per_set = (1, int(header[0])) if len(header) == 1 else (int(header[0]), int(header[1]))
    body = lines[1:]
    if len(body) != 2 * sets * per_set:
        expected = f"{2 * sets * per_set} pair lines after the header ({sets} sets x {per_set} x 2)"
        raise DatasetError(path, expected, f"{len(body)} lines")
    pairs = []
    for i, fields in enumerate(body):
        fold, same, lineno = i // (2 * per_set), (i % (2 * per_set)) < per_set, i + 2
        if same and len(fields) == 3:
            n1, n2 = _int(fields[1], path, lineno), _int(fields[2], path, lineno)
            pairs.append(LFWPair(fields[0], n1, fields[0], n2, True, fold))
        elif not same and len(fields) == 4:
            n1, n2 = _int(fields[1], path, lineno), _int(fields[3], path, lineno)
            pairs.append(LFWPair(fields[0], n1, fields[2], n2, False, fold))
        else:
            want = "a matched pair 'name n1 n2'" if same else "a mismatched pair 'name1 n1 name2 n2'"
            raise DatasetError(path, f"{want} on line {lineno}", repr(" ".join(fields)))
    return pairs

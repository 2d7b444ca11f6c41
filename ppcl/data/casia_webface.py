"""CASIA-WebFace (Yi et al., 2014): 494,414 images of 10,575 ids.

Layout as distributed::

    CASIA-WebFace/
        0000045/001.jpg 002.jpg ...     7-digit id folders, 3-digit image numbers
        0000099/...

Cleaned copies circulate under other folder names, so ``root`` may be any folder of 7-digit
id folders, or a folder holding ``CASIA-WebFace/`` (directly or one folder down), whatever its
name. Non-image files (a ``names.txt``, say) are ignored; anything else that is not the layout
is refused. ``names`` are the id folder names sorted; ``pid`` indexes them; ``camid`` is None.

**Aligned faces.** A ``root`` that holds ``aligned/`` (``data_prep/align_faces.py``'s output,
``DATA/aligned/CASIA-WebFace``) is read from there, never from the raw download; an ``aligned/``
without CASIA-WebFace, or with other identities or images than the raw download beside it, is
refused naming both folders (:func:`ppcl.data.aligned.aligned_or_raw`). ``aligned=False`` reads
the raw tree.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .aligned import aligned_or_raw
from .common import IMAGE_SUFFIXES, DatasetError, FaceData, Record, _listing, list_images, search_order

FOLDER = "CASIA-WebFace"
ID_RE = re.compile(r"\d{7}")
IMAGE_RE = re.compile(r"\d{3,}\.jpg")


def _holds_ids(folder: Path) -> bool:
    """Whether ``folder`` holds 7-digit id folders (a content check; its own name is ignored)."""
    try:
        return any(e.is_dir() and ID_RE.fullmatch(e.name) for e in os.scandir(folder))
    except OSError:
        return False


def find_image_folder(root: str | Path, skip: Path | None = None) -> Path:
    """The folder of 7-digit id folders, recognised by what it holds: ``root`` itself, else
    ``root/CASIA-WebFace``, else ``CASIA-WebFace/`` inside any folder of ``root``; never ``skip``
    or a folder inside it."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(root, "a CASIA-WebFace folder or its parent", "no such folder")
    for folder in search_order(root, (FOLDER,)):
        if skip is not None and (folder == skip or skip in folder.parents):
            continue
        if folder.is_dir() and _holds_ids(folder):
            return folder
    raise DatasetError(
        root, f"a folder of 7-digit id folders (e.g. 0000045/001.jpg): the folder itself, or {FOLDER}/ in it "
        "or in a folder inside it",
        "a folder holding " + _listing(root),
    )


def _images(folder: Path) -> list[Path]:
    files = list_images(folder)
    for f in files:
        if IMAGE_RE.fullmatch(f.name) is None:
            raise DatasetError(f, "a CASIA-WebFace image name NNN.jpg", f"the name {f.name!r}")
    if not files:
        raise DatasetError(folder, "images NNN.jpg", "no image in the folder")
    return files


def load_casia_webface(root: str | Path, aligned: bool = True) -> FaceData:
    """Load CASIA-WebFace (or a cleaned copy in the same layout). With ``aligned``, ``root/aligned/``
    is read when it exists (see the module docstring); ``info["aligned_from"]`` then names the raw
    folder it was checked against (None if there is none)."""
    if aligned:
        folder, where = aligned_or_raw(root, find_image_folder, lambda raw: FOLDER, "CASIA-WebFace")
    else:
        folder, where = find_image_folder(root), {"aligned_root": None, "aligned_from": None}
    names = []
    for e in os.scandir(folder):
        if e.is_dir():
            if ID_RE.fullmatch(e.name) is None:
                raise DatasetError(e.path, "a 7-digit id folder name (e.g. 0000045)", f"the folder {e.name!r}")
            names.append(e.name)
        elif Path(e.name).suffix.lower() in IMAGE_SUFFIXES:
            raise DatasetError(e.path, f"only 7-digit id folders of images in {folder}", "an image outside them")
    if not names:
        raise DatasetError(folder, "7-digit id folders (e.g. 0000045/001.jpg)", _listing(folder))
    names.sort()
    records = [Record(str(f), pid, None) for pid, name in enumerate(names) for f in _images(folder / name)]
    return FaceData("casia_webface", folder, records, names, info={"folder": str(folder), **where})

"""Partial-REID (Zheng et al., ICCV 2015): 60 ids, 5 partial + 5 whole-body images each.

Layout as distributed (``Partial-REID_Dataset.rar``)::

    Partial-REID_Dataset/
        partial_body_images/   001_001.jpg ...  300 images  -> query
        whole_body_images/     001_001.jpg ...  300 images  -> gallery
        occluded_body_images/  ...                          -> not used (counted in info)

lingxiao-he's repackaging (used by fast-reid, DSR and light-reid) is the same tree named
``Partial_REID/``, with ``Probe.txt`` / ``Gallery.txt`` at the top listing
``partial_body_images/001_001.jpg``-style paths; when present they must list exactly the
folder contents, else :class:`DatasetError`.

File names are ``PPP_NNN.jpg``: a 3-digit person id and an image index. The index numbers the
images of one person; it is **never** a camera id (fast-reid's ``([-\\d]+)_(\\d*)`` reads it as
one, so query and gallery image 1 of a person share a "camera" and the true match is
filtered away). Every record has ``camid=None`` and the data ``has_cameras=False``. The
protocol is partial (query) against whole (gallery); the occluded images are not a query
set for this benchmark. There is no training split.
"""
from __future__ import annotations

import re
from pathlib import Path

from .common import (
    DatasetError,
    Record,
    ReIDData,
    check_list_file,
    list_images,
    require_nonempty,
    resolve_root,
)

FOLDERS = ("Partial-REID_Dataset", "Partial_REID", "PartialREID")
CANDIDATES = ("", *FOLDERS)
QUERY_DIR, GALLERY_DIR, OCCLUDED_DIR = "partial_body_images", "whole_body_images", "occluded_body_images"
LIST_FILES = {"Probe.txt": QUERY_DIR, "Gallery.txt": GALLERY_DIR}
NAME_RE = re.compile(r"^(\d{3})_(\d+)\.jpg$")


def parse_name(path: Path) -> int:
    """Person id from a ``PPP_NNN.jpg`` name; the image index is deliberately discarded."""
    m = NAME_RE.match(path.name)
    if m is None:
        expected = "a Partial-REID file name PPP_NNN.jpg (3-digit id, image index)"
        raise DatasetError(path, expected, f"the name {path.name!r}")
    return int(m.group(1))


def read_split(folder: Path, what: str) -> list[Record]:
    """Records of one ``PPP_NNN.jpg`` folder, with no camera."""
    records = [Record(str(f), parse_name(f), None) for f in list_images(folder)]
    require_nonempty(records, folder, what)
    return records


def load_partial_reid(root: str | Path) -> ReIDData:
    """Load Partial-REID (query = partial, gallery = whole) from its folder or a parent."""
    folder, _ = resolve_root(root, CANDIDATES, [(QUERY_DIR, GALLERY_DIR)], "Partial-REID")
    query = read_split(folder / QUERY_DIR, "partial-body query images PPP_NNN.jpg")
    gallery = read_split(folder / GALLERY_DIR, "whole-body gallery images PPP_NNN.jpg")
    checked = []
    for name, split in LIST_FILES.items():
        if (folder / name).is_file():
            check_list_file(folder / name, folder / split, query if split == QUERY_DIR else gallery)
            checked.append(name)
    occluded = folder / OCCLUDED_DIR
    info = {
        "folder": str(folder),
        "camid": "none: the image index in PPP_NNN.jpg is not a camera",
        "occluded_images_unused": len(list_images(occluded)) if occluded.is_dir() else 0,
        "list_files_checked": checked,
        "query_ids_without_gallery": sorted({r.pid for r in query} - {r.pid for r in gallery}),
    }
    return ReIDData("partial_reid", folder, [], query, gallery, has_cameras=False, info=info)

"""Partial-iLIDS (Zheng et al., ICCV 2015, from QMUL iLIDS): 119 ids, one partial probe and
one full gallery image each.

Layout as distributed by lingxiao-he/Partial-Person-ReID::

    Partial_iLIDS/
        Probe/      <pid>.jpg   119 partial images -> query
        Gallery/    <pid>.jpg   119 full images    -> gallery
        Probe.txt   lines "Probe/<pid>.jpg"    (optional; must match Probe/)
        Gallery.txt lines "Gallery/<pid>.jpg"  (optional; must match Gallery/)

Repackagings also accepted: bpbreid's ``Partial_iLIDS/partial_body_images|whole_body_images``
(``<pid>.jpg``) and fast-reid's ``PartialiLIDS/query|gallery``, whose reader needs a
``<pid>_<n>.jpg`` name, so that form is accepted there (``n`` is an image index, never a
camera). A Partial-REID folder handed to this reader is refused at its first ``PPP_NNN.jpg``.

The file name is the person id (any number of digits). There are no camera ids:
``camid=None`` everywhere and ``has_cameras=False``. The gallery is 119 images (the
maintainers confirmed it in JDAI-CV/Partial-Person-ReID#7); the "238" quoted elsewhere
(fast-reid's README, HOReID#4) is probe + gallery together. ``info["gallery_images"]`` and
``info["gallery_variant"]`` report which one was found.
"""
from __future__ import annotations

import re
from collections import Counter
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

FOLDERS = ("Partial_iLIDS", "PartialiLIDS", "partial_ilids")
CANDIDATES = ("", *FOLDERS)
LAYOUTS = (("Probe", "Gallery"), ("query", "gallery"), ("partial_body_images", "whole_body_images"))
LIST_FILES = ("Probe.txt", "Gallery.txt")
ORIGINAL_RE = re.compile(r"^(\d+)\.jpg$")
REPACKAGED_RE = re.compile(r"^(\d+)(?:_\d+)?\.jpg$")


def parse_name(path: Path, pattern: re.Pattern[str] = ORIGINAL_RE) -> int:
    """Person id from a ``<pid>.jpg`` name; raise naming the file otherwise."""
    m = pattern.match(path.name)
    if m is None:
        expected = "<pid>.jpg" if pattern is ORIGINAL_RE else "<pid>.jpg or <pid>_<n>.jpg"
        raise DatasetError(path, f"a Partial-iLIDS file name {expected}", f"the name {path.name!r}")
    return int(m.group(1))


def read_split(folder: Path, what: str, pattern: re.Pattern[str]) -> list[Record]:
    records = [Record(str(f), parse_name(f, pattern), None) for f in list_images(folder)]
    require_nonempty(records, folder, what)
    return records


def gallery_variant(gallery: list[Record]) -> str:
    """Describe the gallery found: the distributed one has one full image per id."""
    n, per_id = len(gallery), Counter(r.pid for r in gallery)
    if all(c == 1 for c in per_id.values()):
        return f"{n}: one full image per id"
    return (
        f"{n}: {n / len(per_id):.2f} images per id over {len(per_id)} ids "
        "(not the distributed one-full-image-per-id gallery)"
    )


def load_partial_ilids(root: str | Path) -> ReIDData:
    """Load Partial-iLIDS (query = partial probe, gallery = full) from its folder or a parent."""
    folder, (qname, gname) = resolve_root(root, CANDIDATES, LAYOUTS, "Partial-iLIDS")
    pattern = REPACKAGED_RE if qname == "query" else ORIGINAL_RE
    query = read_split(folder / qname, "partial probe images <pid>.jpg", pattern)
    gallery = read_split(folder / gname, "full gallery images <pid>.jpg", pattern)
    checked = []
    for name, split, records in zip(LIST_FILES, (qname, gname), (query, gallery)):
        if (folder / name).is_file():
            check_list_file(folder / name, folder / split, records)
            checked.append(name)
    info = {
        "folder": str(folder),
        "layout": f"{qname}/ + {gname}/",
        "camid": "none: Partial-iLIDS carries no camera ids",
        "gallery_images": len(gallery),
        "gallery_variant": gallery_variant(gallery),
        "list_files_checked": checked,
        "query_ids_without_gallery": sorted({r.pid for r in query} - {r.pid for r in gallery}),
    }
    return ReIDData("partial_ilids", folder, [], query, gallery, has_cameras=False, info=info)

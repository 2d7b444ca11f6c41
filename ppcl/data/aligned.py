"""Where aligned face sets live, and the rule every face reader follows to read them.

``data_prep/align_faces.py`` (:func:`ppcl.data.align.align_tree`) writes each aligned set to
``DATA/aligned/<the download's folder name>`` (``DATA/aligned/CASIA-WebFace``, ``DATA/aligned/lfw``),
with :data:`MANIFEST` (and its progress log :data:`PROGRESS_LOG`) at the top of its output.

**The rule** (:func:`aligned_or_raw`): a face reader given a folder that holds :data:`ALIGNED_DIR`
reads the face set from there and never from the raw download; it refuses an ``aligned/`` that
lacks the set (a run would train on aligned faces and test on raw ones, or the reverse), and one
whose identity folders and images differ from the raw download beside it (an interrupted or stale
alignment), naming both folders and the command that fixes it. A folder without ``aligned/`` (a
single download, the kit's synthetic sets) is read as it is. The raw download may be deleted once
aligned; then nothing is compared.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .common import DatasetError, list_images

ALIGNED_DIR = "aligned"  # <data root>/aligned/<download's folder name>: the aligned face sets the readers read
MANIFEST = "align_manifest.json"  # every image's detection and transform, at the top of an alignment's output
PROGRESS_LOG = "align_manifest.jsonl"  # the same, one line an image as it goes (an interrupted run resumes from it)


def _identity_images(folder: Path) -> dict[str, set[str]]:
    """``{identity folder name: its image file names}`` for a folder-per-identity face tree."""
    return {e.name: {f.name for f in list_images(Path(e.path))} for e in os.scandir(folder) if e.is_dir()}


def _some(items: list[str], what: str) -> str:
    return f"{len(items)} {what} (e.g. {', '.join(items[:3])})"


def check_aligned_copy(raw: Path, aligned: Path, command: str) -> None:
    """Refuse an aligned tree whose identity folders or images differ from the raw one's (an
    interrupted alignment, or a raw download changed after aligning): the error names both
    folders, what differs (counts and examples) and ``command``, the alignment that fixes it."""
    a, b = _identity_images(raw), _identity_images(aligned)
    both = sorted(set(a) & set(b))
    diffs = [(sorted(set(a) - set(b)), "identities of the raw tree missing"),
             (sorted(f"{i}/{f}" for i in both for f in a[i] - b[i]), "images of the raw tree missing"),
             (sorted(set(b) - set(a)), "identities not in the raw tree"),
             (sorted(f"{i}/{f}" for i in both for f in b[i] - a[i]), "images not in the raw tree")]
    found = [_some(items, what) for items, what in diffs if items]
    if found:
        raise DatasetError(aligned, f"the aligned copy of {raw}: the same identity folders and images",
                           "; ".join(found) + f". Finish or redo the alignment: {command}")


def _resume_command(raw: Path, aligned: Path) -> str:
    """The alignment that resumes (or redoes) the run that wrote ``aligned`` from ``raw``: its output
    root is where its progress log lies, the image folder or the one above it."""
    for src, dst in ((raw, aligned), (raw.parent, aligned.parent)):
        if (dst / PROGRESS_LOG).is_file():
            return f"python data_prep/align_faces.py {src} {dst} (with the settings recorded in {dst / PROGRESS_LOG})"
    return f"python data_prep/align_faces.py {raw} {aligned}"


def aligned_or_raw(
    root: str | Path,
    find: Callable[[Path, Path | None], Path],
    dst_name: Callable[[Path], str],
    what: str,
) -> tuple[Path, dict]:
    """The image folder a face reader reads under ``root``, by the rule of the module docstring.

    ``find(folder, skip)`` is the reader's search for its image folder under ``folder`` (never
    inside ``skip``); ``dst_name(raw)`` the folder name under ``aligned/`` that the raw image
    folder ``raw`` is aligned into; ``what`` the dataset's name for messages. Returns the folder
    and ``{"aligned_root": <root>/aligned or None, "aligned_from": the raw image folder or None}``.
    """
    root = Path(root).expanduser()
    aligned_root = root / ALIGNED_DIR
    if not aligned_root.is_dir():
        return find(root, None), {"aligned_root": None, "aligned_from": None}
    try:
        raw: Path | None = find(root, aligned_root)
    except DatasetError:
        raw = None
    try:
        folder = find(aligned_root, None)
    except DatasetError as e:
        fix = (f"; align the raw download {raw}: python data_prep/align_faces.py {raw} {aligned_root / dst_name(raw)}"
               if raw is not None else "")
        raise DatasetError(
            aligned_root, f"{what} aligned by data_prep/align_faces.py (a folder holding {ALIGNED_DIR}/ has its face "
            "sets read from there, never from the raw downloads)", f"no {what} there ({e.found}){fix}",
        ) from None
    if raw is not None:
        check_aligned_copy(raw, folder, _resume_command(raw, folder))
    return folder, {"aligned_root": str(aligned_root), "aligned_from": None if raw is None else str(raw)}

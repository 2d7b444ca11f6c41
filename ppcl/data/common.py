"""Records, splits and errors shared by every dataset reader.

A reader turns a dataset folder, exactly as it is distributed, into plain lists of
:class:`Record`. Nothing here opens an image except :func:`read_image`.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
import os
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class DatasetError(ValueError):
    """A dataset on disk is not what a reader expects.

    The message always names the path, what was expected there and what was found.
    """

    def __init__(self, path: str | Path, expected: str, found: str):
        self.path, self.expected, self.found = str(path), expected, found
        super().__init__(f"{path}: expected {expected}; found {found}")


@dataclass(frozen=True)
class Record:
    """One image: its file, identity label and camera.

    ``camid`` is ``None`` for datasets that carry no camera ids (Partial-REID,
    Partial-iLIDS, faces): evaluation then never applies same-camera filtering.
    """

    path: str
    pid: int
    camid: int | None = None


@dataclass
class ReIDData:
    """A re-ID dataset as query / gallery (and optionally train) record lists."""

    name: str
    root: Path
    train: list[Record]
    query: list[Record]
    gallery: list[Record]
    has_cameras: bool
    info: dict = field(default_factory=dict)

    @property
    def num_train_pids(self) -> int:
        return len({r.pid for r in self.train})

    def counts(self) -> dict[str, int]:
        """Image and identity counts per split, in the keys ``data_prep/verify.py`` prints."""
        return {
            "train_images": len(self.train),
            "train_ids": len({r.pid for r in self.train}),
            "query_images": len(self.query),
            "query_ids": len({r.pid for r in self.query}),
            "gallery_images": len(self.gallery),
            "gallery_ids": len({r.pid for r in self.gallery}),
        }


@dataclass
class FaceData:
    """A face dataset: one record per image, ``names[pid]`` the identity's name or folder."""

    name: str
    root: Path
    records: list[Record]
    names: list[str]
    info: dict = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        per_id: dict[int, int] = {}
        for r in self.records:
            per_id[r.pid] = per_id.get(r.pid, 0) + 1
        return {
            "images": len(self.records),
            "ids": len(per_id),
            "ids_with_2_or_more": sum(1 for n in per_id.values() if n >= 2),
        }


def read_image(path: str | Path) -> Image.Image:
    """Open an image as RGB, or raise :class:`DatasetError` naming the file."""
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except FileNotFoundError:
        raise DatasetError(path, "an image file", "no such file") from None
    except (UnidentifiedImageError, OSError) as e:
        raise DatasetError(path, "a readable JPEG/PNG image", f"an unreadable file ({e})") from None


def require_dir(path: Path, what: str) -> Path:
    """Return ``path`` if it is a directory, else raise naming what it should have been."""
    if not path.is_dir():
        parent = path.parent
        found = (
            "nothing there; the parent holds " + _listing(parent)
            if parent.is_dir()
            else "no such folder"
        )
        raise DatasetError(path, what, found)
    return path


def _listing(folder: Path, limit: int = 8) -> str:
    names = sorted(p.name for p in folder.iterdir())
    if not names:
        return "an empty folder"
    more = f" … ({len(names)} entries)" if len(names) > limit else ""
    return "[" + ", ".join(names[:limit]) + "]" + more


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (stray non-images skipped)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def check_images(records: Iterable[Record]) -> int:
    """Open every record's image; raise :class:`DatasetError` on the first bad one.

    Readers never open images themselves (a Market-1501 load would read 32k files);
    ``data_prep/verify.py`` decodes them all with :func:`unreadable_images`. Returns the number
    checked.
    """
    n = 0
    for r in records:
        read_image(r.path)
        n += 1
    return n


def decode_error(path: str | Path) -> str | None:
    """Why the image at ``path`` cannot be decoded in full (``None`` if it can): every pixel is
    decoded, so a truncated JPEG or PNG is caught, not only a bad header."""
    try:
        with Image.open(path) as im:
            im.load()
        return None
    except FileNotFoundError:
        return "no such file"
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError ... on broken files
        return f"{type(e).__name__}: {e}"


def unreadable_images(paths: Sequence[str | Path], workers: int | None = None, progress: bool = False) -> list[tuple[str, str]]:
    """Decode every image of ``paths`` (``workers`` threads; PIL decodes outside the GIL) with a
    progress bar when ``progress``: ``(path, reason)`` for each one that fails, in input order."""
    from concurrent.futures import ThreadPoolExecutor

    from PIL import ImageFile
    from tqdm.auto import tqdm

    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set: truncated images would pass the check")
    workers = workers or min(32, (os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        reasons = list(tqdm(pool.map(decode_error, paths), total=len(paths), desc="decode",
                            unit="img", disable=None if progress else True))
    return [(str(p), r) for p, r in zip(paths, reasons) if r is not None]


def require_nonempty(records: Sequence[Record], folder: Path, what: str) -> None:
    """Raise if a split came out empty, naming the folder it was read from."""
    if not records:
        raise DatasetError(folder, what, "no usable image (" + _listing(folder) + ")")


def search_order(root: Path, names: Sequence[str]) -> list[Path]:
    """Where a reader looks for its dataset folder, nearest first: ``root`` itself, ``root/<name>``
    for each known ``name``, then ``root/<any folder>/<name>``. The folders above the dataset are
    recognised by what they hold, never by their own names (``DATA/lfw/lfw-deepfunneled/``,
    ``DATA/downloads/Market-1501-v15.09.15/``)."""
    names = [n for n in names if n]
    order = [root, *(root / n for n in names)]
    try:
        children = sorted(e.name for e in os.scandir(root) if e.is_dir())
    except OSError:
        children = []
    order += [root / c / n for c in children for n in names]
    seen: set[Path] = set()
    return [p for p in order if not (p in seen or seen.add(p))]


def resolve_root(
    root: str | Path, candidates: Sequence[str], layouts: Sequence[Sequence[str]], what: str
) -> tuple[Path, tuple[str, ...]]:
    """Find the dataset folder under ``root`` and which layout of split folders it has.

    ``candidates`` are the dataset folder's known names (paths relative to a parent; ``""`` is
    ``root`` itself); ``layouts`` are alternative tuples of split-folder names. The folders of
    :func:`search_order` are tried nearest first, and the first holding every folder of some
    layout wins, whatever the names of the folders above it. A folder holding only part of a
    layout is taken as the dataset folder with a split missing, and the missing split is named
    in the error.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(root, f"a {what} folder", "no such folder")
    order = search_order(root, candidates)
    for folder in order:
        if not folder.is_dir():
            continue
        for layout in layouts:
            if all((folder / d).is_dir() for d in layout):
                return folder, tuple(layout)
    for folder in order:
        if not folder.is_dir():
            continue
        for layout in layouts:
            if any((folder / d).is_dir() for d in layout):
                for d in layout:
                    require_dir(folder / d, f"the {what} split folder '{d}/'")
    names = ", ".join(f"{c}/" for c in candidates if c)
    wanted = " or ".join("{" + ", ".join(f"{d}/" for d in lay) + "}" for lay in layouts)
    raise DatasetError(
        root,
        f"a {what} folder holding {wanted}: <root>/ itself, or one of {names} in it or in a folder inside it",
        "a folder holding " + _listing(root),
    )


def read_list_file(path: Path) -> list[str]:
    """Entries of a ``Probe.txt`` / ``Gallery.txt`` style list: the first field of each non-empty line."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(path, "a readable text list of image paths", f"an unreadable file ({e})") from None
    return [ln.split()[0].replace("\\", "/") for ln in lines if ln.strip()]


def check_list_file(list_path: Path, folder: Path, records: Sequence[Record]) -> None:
    """A list file (``Probe.txt``, ``Gallery.txt``) must name exactly the images read from ``folder``.

    Entries are ``<folder name>/<file name>``, as the partial re-ID sets write them.
    """
    listed = set(read_list_file(list_path))
    present = {f"{folder.name}/{Path(r.path).name}" for r in records}
    if listed == present:
        return
    missing, extra = sorted(listed - present), sorted(present - listed)
    found = []
    if missing:
        found.append(f"{len(missing)} listed but not in {folder.name}/ (e.g. {missing[0]})")
    if extra:
        found.append(f"{len(extra)} in {folder.name}/ but not listed (e.g. {extra[0]})")
    raise DatasetError(list_path, f"a list of exactly the images in {folder.name}/", "; ".join(found))


def to_device(t: Tensor, device: torch.device | str) -> Tensor:
    """A host tensor on ``device``: unchanged on the CPU; on a GPU through pinned memory, without
    waiting (the copy is queued on the current stream, as the work that reads it)."""
    device = torch.device(device)
    if device.type == "cpu" or t.device == device:
        return t.to(device)
    if device.type == "cuda":
        t = t.pin_memory()
    return t.to(device, non_blocking=True)

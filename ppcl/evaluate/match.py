"""PPCL on your own images: rank a gallery of holistic images for one partial query (§3.4).

``ppcl.match(query, gallery, checkpoint)`` loads a trained PPCL model from its checkpoint (read
with :func:`ppcl.models.ppcl_from_checkpoint`, never unpickled), encodes the query and every
gallery image as the kit's evaluation does (method ``+R``: GLRec rectifies, F maps), runs CRLoc
for every (query, gallery image) pair and ranks the gallery by PPCL's region distance ``+R+L``
(the query's region at its GLRec layout box against CRLoc's box in the gallery image, cosine
distance of the two pooled regions). Each match carries CRLoc's box, in the gallery image's own
``[-1, 1]`` frame (t convention of :mod:`ppcl.geometry`; outside ``[-1, 1]`` only where GLRec
shrank a gallery image it took for a partial one); the result carries GLRec's gate score and
layout box for the query. Images of another size than the model's input are resized to it (as
the evaluation does) and the result says so; an image with no pixels is refused.

From a shell::

    python -m ppcl.evaluate.match QUERY GALLERY CHECKPOINT [--top 10] [--json OUT] [--device cuda]

``GALLERY`` is a folder (its image files: ``.jpg``, ``.png``, ...; other files and subfolders
are skipped) or several image paths. Errors name the file, what was expected and what was found,
and exit with status 2.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from PIL import Image

from ..data.common import DatasetError, read_image
from ..models.ppcl import PPCL
from .engine import encode, pil_to_tensor
from .localisation import to_image
from .pairwise import all_pairs

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
CHUNK = 256  # gallery images read and encoded at once


@dataclass(frozen=True)
class Match:
    """One gallery image: its 1-based ``rank``, ``path``, PPCL's ``distance`` (+R+L, lower is
    closer) and CRLoc's ``box`` (sx, sy, tx, ty) in the gallery image's frame."""

    rank: int
    path: str
    distance: float
    box: tuple[float, float, float, float]


@dataclass
class Matches:
    """The ranked gallery for one query (the first ``top``), with GLRec's view of the query: its gate
    score ``gate`` (η; ``partial`` when η reaches the model's threshold) and its layout box
    ``layout`` (where GLRec places the query in a holistic frame; the whole frame when it is
    called holistic). ``notes`` say what was adjusted (resized images)."""

    query: str
    checkpoint: str
    gate: float
    partial: bool
    layout: tuple[float, float, float, float]
    input_size: tuple[int, int]
    gallery_size: int
    matches: list[Match]
    notes: list[str] = field(default_factory=list)

    def frame(self):
        """The matches as a DataFrame: ``rank, path, distance, box_sx, box_sy, box_tx, box_ty``."""
        import pandas as pd

        return pd.DataFrame([{"rank": m.rank, "path": m.path, "distance": m.distance,
                              **dict(zip(("box_sx", "box_sy", "box_tx", "box_ty"), m.box))} for m in self.matches],
                            columns=["rank", "path", "distance", "box_sx", "box_sy", "box_tx", "box_ty"])

    def to_dict(self) -> dict:
        """Plain values (JSON)."""
        return asdict(self)

    def __str__(self) -> str:
        h, w = self.input_size
        head = [f"query {self.query}: GLRec gate η = {self.gate:.3f} ({'partial' if self.partial else 'holistic'}), "
                f"layout box (sx, sy, tx, ty) = ({', '.join(f'{v:.3f}' for v in self.layout)})",
                f"the top {len(self.matches)} of {self.gallery_size} gallery images under PPCL's +R+L distance "
                f"(model input {w}x{h}, width x height; {self.checkpoint}):"]
        return "\n".join([*head, self.frame().to_string(index=False, float_format=lambda v: f"{v:.4f}"), *self.notes])


# ---------------------------------------------------------------------- inputs


def gallery_paths(gallery: str | Path | Sequence[str | Path], what: str = "gallery") -> list[Path]:
    """The gallery's image files: a folder's files with an image suffix (:data:`IMAGE_SUFFIXES`,
    sorted; hidden files, other files and subfolders skipped), or the given list of paths as it
    is. An empty result is refused, naming the folder and what it holds (``what``: the role of
    the images in the messages)."""
    if isinstance(gallery, (str, Path)):
        folder = Path(gallery).expanduser()
        if not folder.exists():
            raise FileNotFoundError(f"{folder}: expected a folder of {what} images; found no such folder")
        if not folder.is_dir():
            raise ValueError(f"{folder}: expected a folder of {what} images (or a list of image paths); found a file")
        entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        paths = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if not paths:
            subs = [p.name for p in entries if p.is_dir()]
            others = [p.name for p in entries if p.is_file()]
            found = (f"{len(others)} other file(s) ({', '.join(others[:5])})" if others else "no files") + \
                (f" and {len(subs)} subfolder(s) ({', '.join(subs[:5])}): point at the one holding the images" if subs else "")
            raise ValueError(f"{folder}: expected a folder of {what} images ({', '.join(IMAGE_SUFFIXES)}); found {found}")
        return paths
    paths = [Path(p).expanduser() for p in gallery]
    if not paths:
        raise ValueError(f"{what}: expected a folder of images or at least one image path; found an empty list")
    return paths


def open_image(image: str | Path | Image.Image, what: str = "image") -> tuple[Image.Image, str]:
    """``(RGB image, name)`` of a path or a PIL image; refused (naming the file and ``what`` it was
    meant to be) when missing, unreadable or without pixels."""
    if isinstance(image, Image.Image):
        name, img = f"<{what}: a PIL image>", image
    else:
        name = str(Path(image).expanduser())
        if Path(name).is_dir():
            raise ValueError(f"{name}: expected an image file for the {what}; found a folder")
        try:
            img = read_image(name)
        except DatasetError as e:
            raise ValueError(f"{e.path}: expected {e.expected} for the {what}; found {e.found}") from None
    if img.width * img.height == 0:
        raise ValueError(f"{name}: expected an image with pixels for the {what}; found a {img.width}x{img.height} image")
    return img.convert("RGB"), name


def load_model(checkpoint: str | Path | PPCL) -> tuple[PPCL, str]:
    """``(model, name)``: a PPCL model from a checkpoint file (``checkpoints/ppcl-s0.pt`` of a run
    folder), read with :func:`ppcl.models.ppcl_from_checkpoint` (never unpickled), or a model
    already loaded. Refusals name the file and what it holds."""
    from ..models import ppcl_from_checkpoint

    if isinstance(checkpoint, PPCL):
        return checkpoint.eval(), "<a loaded PPCL model>"
    path = Path(checkpoint).expanduser()
    hint = "a trained PPCL model's checkpoint (e.g. a run folder's checkpoints/ppcl-s0.pt)"
    if path.is_dir():
        found = sorted(p.name for p in (path / "checkpoints").glob("ppcl-s*.pt")) if (path / "checkpoints").is_dir() else []
        raise ValueError(f"{path}: expected {hint}; found a folder" + (f" (its checkpoints/ holds {', '.join(found)})"
                                                                       if found else ""))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expected {hint}; found no such file")
    try:
        model = ppcl_from_checkpoint(path)
    except ValueError as e:
        raise ValueError(f"{e} (wanted: {hint})") from None
    except (RuntimeError, TypeError, KeyError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ValueError(f"{path}: expected {hint} whose weights fit its architecture; found one that does not load "
                         f"({type(e).__name__}: {first[:300]})") from None
    return model, str(path)


def resized_note(what: str, sizes: list[tuple[str, tuple[int, int]]], size: tuple[int, int]) -> str | None:
    """One note for the images of ``sizes`` (name, (width, height)) not already ``size`` (h, w)."""
    h, w = size
    off = [(n, s) for n, s in sizes if s != (w, h)]
    if not off:
        return None
    n, (sw, sh) = off[0]
    which = f"the {what} image ({sw}x{sh})" if len(sizes) == 1 else \
        f"{len(off)} of the {len(sizes)} {what} images (e.g. {Path(n).name}, {sw}x{sh})"
    return f"note: {which} resized to {w}x{h}, the model's input size (width x height)"


def prepare(images: Sequence, size: tuple[int, int], what: str) -> tuple[torch.Tensor, list[str], list[tuple]]:
    """Images (paths or PIL images) as one normalised ``(N, 3, H, W)`` tensor at ``size`` (resized,
    :func:`ppcl.evaluate.engine.pil_to_tensor`), their names and original sizes."""
    out, names, sizes = torch.empty(len(images), 3, *size), [], []
    for i, im in enumerate(images):
        img, name = open_image(im, what)
        out[i] = pil_to_tensor(img, size)
        names.append(name)
        sizes.append((name, img.size))
    return out, names, sizes


# ---------------------------------------------------------------------- matching


@torch.no_grad()
def match(query: str | Path | Image.Image, gallery: str | Path | Sequence[str | Path], checkpoint: str | Path | PPCL,
          top: int | None = 10, device: str | torch.device | None = None, progress: bool = True) -> Matches:
    """Rank ``gallery`` (a folder of images or a list of paths) for the partial ``query`` (an image
    path or a PIL image) under the PPCL model of ``checkpoint``; keep the first ``top`` (``None``
    or 0: all). See the module docstring. Resized images are listed in ``notes`` and warned about."""
    from tqdm.auto import tqdm

    from ..train import default_device

    if top is not None and top < 0:
        raise ValueError(f"top: expected a number of matches >= 0 (0: all); found {top}")
    model, ckpt_name = load_model(checkpoint)
    paths = gallery_paths(gallery)
    device = torch.device(device) if device is not None else default_device()
    size = model.input_size
    x_q, q_names, q_sizes = prepare([query], size, "query")
    q = encode(model, x_q, "+R", device=device)
    dist, boxes, sizes = [], [], []
    for s in tqdm(range(0, len(paths), CHUNK), desc="gallery", leave=False, disable=not progress or len(paths) <= CHUNK):
        x, _, chunk_sizes = prepare(paths[s : s + CHUNK], size, "gallery")
        g = encode(model, x, "+R", device=device)
        d, b = all_pairs(model, q.maps, q.t, g.maps, "crloc", device=device, return_boxes=True)
        dist.append(d[0])
        boxes.append(to_image(b[0], g.t))  # CRLoc's box in each gallery image's own frame
        sizes += chunk_sizes
    dist_t, boxes_t = torch.cat(dist), torch.cat(boxes)
    order = torch.argsort(dist_t, stable=True)[: (top or None)]
    notes = [n for n in (resized_note("query", q_sizes, size), resized_note("gallery", sizes, size)) if n]
    for n in notes:
        warnings.warn(n, stacklevel=2)
    eta = float(q.eta[0]) if q.eta is not None else float("nan")
    return Matches(query=q_names[0], checkpoint=ckpt_name, gate=eta, partial=bool(eta >= float(model.glrec.threshold)),
                   layout=tuple(float(v) for v in q.t[0]), input_size=tuple(size), gallery_size=len(paths),
                   matches=[Match(rank=r + 1, path=str(paths[j]), distance=float(dist_t[j]),
                                  box=tuple(float(v) for v in boxes_t[j])) for r, j in enumerate(order.tolist())],
                   notes=notes)


def main(argv: list[str] | None = None) -> int:
    from ..io import write_json

    ap = argparse.ArgumentParser(prog="python -m ppcl.evaluate.match",
                                 description="Rank a folder of holistic images for one partial query with a trained PPCL model.")
    ap.add_argument("query", help="the partial query image")
    ap.add_argument("gallery", nargs="+", help="a folder of gallery images, or image paths")
    ap.add_argument("checkpoint", help="a trained PPCL checkpoint (a run folder's checkpoints/ppcl-s0.pt)")
    ap.add_argument("--top", type=int, default=10, help="how many matches to keep (0: all; default 10)")
    ap.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    ap.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    args = ap.parse_args(argv)
    gallery = args.gallery[0] if len(args.gallery) == 1 and Path(args.gallery[0]).is_dir() else args.gallery
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the notes are printed below
            result = match(args.query, gallery, args.checkpoint, top=args.top, device=args.device)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(result)
    if args.json is not None:
        print(f"written: {write_json(args.json, result.to_dict())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

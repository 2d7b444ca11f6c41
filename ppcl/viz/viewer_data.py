"""What the correspondence viewer (:mod:`ppcl.viz.viewer`, notebook 06) shows, computed once.

For one partial set (Partial-REID or Partial-iLIDS) and one seed, :class:`ViewerData` holds,
for each of two models of that seed,

* ``"+R"``: the +R model (GLRec's rectified views, no CRLoc losses), and
* ``"ppcl"``: the PPCL model (both constraints),

the encoded partial images and holistic images (feature maps, GLRec's layout boxes ``t``, gate
scores ``eta``, descriptors; :func:`ppcl.evaluate.engine.encode` with method ``"+R"``) and one
distance matrix ``(partial, holistic)``: the +R distance for the +R model and PPCL's region
distance (+R+L, the partial image always CRLoc's anchor) for the PPCL model, exactly as
:func:`ppcl.evaluate.protocols.evaluate_partial` computes them for Tables 2 and 3.

Both models are given, never trained here (:mod:`ppcl.pipeline.viewer` loads them from the model
store or from a finished run folder's ``checkpoints/``).

**Your own images** (dataset :data:`FOLDER`): a folder of holistic images as the gallery and one
partial query image (or several), one PPCL model from its checkpoint and no ``+R`` model; the
images carry no identities (``ground_truth=False``), so no item is marked a true match, no rank of
a first true match exists, and only partial images as queries make sense (:attr:`ViewerData.directions`).
Those encodings are not cached. The
encodings are cached in ``<run>/features/<dataset>-s<seed>.pt``, a plain dict of tensors,
strings and lists written with :func:`ppcl.io.save_checkpoint` and read with
:func:`ppcl.io.read_checkpoint` (never unpickling objects), so a second open is instant:

* a cache made for other models or other images (the models' store keys, the images' paths and
  identities are recorded in it) is recomputed and rewritten;
* a file that is not a viewer cache at all (another format, a truncated file, a file that would
  need pickle, missing or mis-shaped entries) is refused with a ``ValueError`` naming its path;
  nothing in it is executed. Delete it to recompute.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..data.common import Record
from ..evaluate.engine import Encoded, distance_matrix, global_distance, load_images
from ..io import read_checkpoint, save_checkpoint

DATASETS = {"partial_reid": "Partial-REID", "partial_ilids": "Partial-iLIDS"}
FOLDER = "folder"  # a user's own images (no identities, no ground truth)
MODELS = ("+R", "ppcl")  # the +R model (+R distance) and the PPCL model (+R+L distance)
DIRECTIONS = ("query", "gallery")  # partial images as query (Table 2) / as gallery (Table 3)
CACHE_FORMAT = "ppcl-viewer-features"
CACHE_VERSION = 1
_ENC_FIELDS = ("maps", "t", "eta", "desc")


def _display_name(records: list[Record]) -> list[str]:
    """``folder/file`` of each record (unique within a list; an index is appended to a repeat)."""
    names, seen = [], {}
    for r in records:
        p = Path(r.path)
        n = f"{p.parent.name}/{p.name}"
        if n in seen:
            seen[n] += 1
            n = f"{n} ({seen[n]})"
        else:
            seen[n] = 0
        names.append(n)
    return names


@dataclass
class ViewerData:
    """Everything the viewer shows for one partial set and seed (see the module docstring).

    ``encoded[m] = (partial, holistic)`` and ``dist[m]`` ``(P, H)`` for ``m`` in ``("+R", "ppcl")``;
    ``models[m]`` the loaded model (CRLoc's box and correlation of a shown pair and GLRec's
    rectification of a shown image are computed from it on demand); ``keys[m]`` its store key.
    """

    dataset: str
    seed: int
    partial: list[Record]
    holistic: list[Record]
    models: dict
    keys: dict
    encoded: dict
    dist: dict
    cache_path: Path | None = None
    source: str = ""  # where the models came from (a run's store or a run folder)
    from_cache: bool = False  # True when the encodings were read from the cache file
    bodies: dict | None = None  # every image's body frame (the kit's synthetic sets; None for real data)
    ground_truth: bool = True  # False for a user's own images: no identities, no true-match marks
    name: str = ""  # the label of a user's folder (the kit's sets are named by DATASETS)
    notes: list = field(default_factory=list)  # what was adjusted while loading (e.g. resized images)
    _images: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def build(cls, dataset: str, seed: int, models: dict, keys: dict, partial: list[Record], holistic: list[Record],
              cache: Path | None = None, topk: int | None = None, device: torch.device | str = "cpu",
              bodies: dict | None = None, source: str = "", ground_truth: bool = True, name: str = "",
              notes: list | None = None) -> "ViewerData":
        """The viewer's data for the +R and PPCL ``models`` (``{"+R": PPCL, "ppcl": PPCL}``, their store
        keys in ``keys``) on ``partial`` and ``holistic`` images: the encodings read from ``cache``
        when it holds these models' and images' (see the module docstring), else computed and
        written there. The models come from the caller (the pipeline loads them:
        :mod:`ppcl.pipeline.viewer`); nothing is trained here. A user's own images
        (``dataset=FOLDER``) come with the PPCL model alone, ``ground_truth=False`` and their
        folder's ``name``, and are never cached."""
        _check_dataset(dataset)
        if "ppcl" not in models or any(m not in MODELS for m in models):
            raise ValueError(f"models: expected the PPCL model under 'ppcl' (and the +R model under '+R'); found {list(models)}")
        if dataset == FOLDER and (ground_truth or cache is not None):
            raise ValueError("dataset 'folder' (your own images): expected ground_truth=False and no cache")
        partial, holistic = list(partial), list(holistic)
        expected = {"dataset": dataset, "seed": int(seed), "keys": dict(keys), "topk": int(topk or 0),
                    "partial_paths": [r.path for r in partial], "holistic_paths": [r.path for r in holistic],
                    "partial_pids": [int(r.pid) for r in partial], "holistic_pids": [int(r.pid) for r in holistic]}
        found = read_cache(cache, expected) if cache is not None and cache.is_file() else None
        if found is not None:
            encoded, dist = found
        else:
            encoded, dist = compute(models, partial, holistic, topk=topk, device=device)
            if cache is not None:
                write_cache(cache, expected, encoded, dist)
        return cls(dataset, int(seed), partial, holistic, models, keys, encoded, dist, cache, source, found is not None,
                   bodies, ground_truth, name, list(notes or []))

    # ------------------------------------------------------------------ what the viewer asks

    @property
    def label(self) -> str:
        return DATASETS.get(self.dataset) or self.name or self.dataset

    @property
    def directions(self) -> tuple[str, ...]:
        """The directions that make sense: both for the kit's sets, partial as query for your images."""
        return DIRECTIONS if self.ground_truth else ("query",)

    def has(self, model: str) -> bool:
        """Whether ``model`` (``"+R"`` or ``"ppcl"``) was given (a user's folder has the PPCL model only)."""
        return model in self.dist

    @property
    def partial_names(self) -> list[str]:
        return _display_name(self.partial)

    @property
    def holistic_names(self) -> list[str]:
        return _display_name(self.holistic)

    def records(self, direction: str) -> tuple[list[Record], list[Record]]:
        """(queries, gallery) of ``direction``: partial images as ``"query"`` or as ``"gallery"``."""
        _check_direction(direction)
        return (self.partial, self.holistic) if direction == "query" else (self.holistic, self.partial)

    def names(self, direction: str) -> tuple[list[str], list[str]]:
        _check_direction(direction)
        return (self.partial_names, self.holistic_names) if direction == "query" else (self.holistic_names, self.partial_names)

    def distances(self, model: str, direction: str) -> Tensor:
        """``(queries, gallery)`` distances of ``model`` (``"+R"`` or ``"ppcl"``) in ``direction``
        (the ``(partial, holistic)`` matrix, transposed for partial images as gallery)."""
        _check_direction(direction)
        d = self.dist[model]
        return d if direction == "query" else d.T

    def ranking(self, qi: int, direction: str, model: str = "ppcl") -> np.ndarray:
        """Gallery indices of query ``qi`` from nearest to farthest (a stable sort)."""
        return np.argsort(self.distances(model, direction)[qi].numpy(), kind="stable")

    def true_matches(self, qi: int, direction: str) -> np.ndarray:
        """``(G,)`` booleans: gallery items of the query's identity (none without ground truth)."""
        q, g = self.records(direction)
        if not self.ground_truth:
            return np.zeros(len(g), dtype=bool)
        return np.array([r.pid == q[qi].pid for r in g], dtype=bool)

    def first_match_rank(self, qi: int, direction: str, model: str) -> int | None:
        """1-based rank of the first true match of query ``qi`` under ``model`` (None: no match in the gallery)."""
        hits = np.flatnonzero(self.true_matches(qi, direction)[self.ranking(qi, direction, model)])
        return int(hits[0]) + 1 if len(hits) else None

    @torch.no_grad()
    def pairs(self, qi: int, gallery: list[int], direction: str) -> dict:
        """CRLoc of the PPCL model on the pairs (query ``qi``, each of ``gallery``) of ``direction``.

        The partial image is always the anchor (its rectified map cut at its GLRec layout box is
        the query patch) and the holistic image the reference, as in the distance matrix. Returns
        ``partial`` and ``holistic`` (the indices of each pair in the partial / holistic lists),
        ``boxes`` ``(k, 4)`` (CRLoc's box, in the holistic image's frame), ``corr``
        ``(k, U, h, w)`` (Eq. 8: for each query-patch cell u, a distribution over the holistic
        map's cells) and ``true`` ``(k, 4)``, the true corresponding region in the same frame (from
        the body frames of the kit's synthetic sets; ``None`` for real data)."""
        _check_direction(direction)
        model = self.models["ppcl"]
        part, whole = self.encoded["ppcl"]
        gallery = [int(j) for j in gallery]
        if direction == "query":
            pi, hi = [int(qi)] * len(gallery), gallery
        else:
            pi, hi = gallery, [int(qi)] * len(gallery)
        if not gallery:
            u = int(np.prod(model.crloc.cfg.patch_size))
            return {"partial": [], "holistic": [], "boxes": torch.empty(0, 4),
                    "corr": torch.empty(0, u, *whole.maps.shape[-2:]), "true": None}
        model.eval()
        patch = model.crloc.cut(part.maps[pi], part.t[pi].to(part.maps.dtype))
        boxes, corr = model.crloc(patch, whole.maps[hi])
        return {"partial": pi, "holistic": hi, "boxes": boxes, "corr": corr, "true": self.true_regions(pi, hi)}

    def true_regions(self, partial: list[int], holistic: list[int]) -> Tensor | None:
        """``(k, 4)``: for each pair (``partial[i]``, ``holistic[i]``) the region of the holistic
        image that shows the partial image (:func:`ppcl.evaluate.localisation.true_regions`), in
        the frame CRLoc's boxes are drawn in (the holistic image as GLRec placed it); ``None``
        without body frames (real data)."""
        from ..evaluate.localisation import bodies_of, true_regions
        from ..geometry import compose_t

        p = bodies_of([self.partial[i] for i in partial], self.bodies)
        h = bodies_of([self.holistic[j] for j in holistic], self.bodies)
        if p is None or h is None or not partial:
            return None
        truth = torch.stack([true_regions([a], [b])[0, 0] for a, b in zip(p, h)])
        return compose_t(self.encoded["ppcl"][1].t[list(holistic)].to(truth.dtype), truth)

    @torch.no_grad()
    def rectified(self, side: str, index: int) -> dict:
        """The image ``index`` of ``side`` (``"partial"`` or ``"holistic"``) as the models see it:
        ``x`` the input at the backbone's size, ``x_r`` GLRec's rectification (the frame every box
        is drawn in: T of the input at the layout box ``t`` GLRec chose, as
        :meth:`ppcl.models.GLRec.rectify` does; ``t`` is the whole frame when the gate called the
        image holistic), ``t`` and ``eta`` the gate score (from the encodings; cached per image)."""
        from ..geometry import paste

        key = (side, int(index))
        if key not in self._images:
            rec = {"partial": self.partial, "holistic": self.holistic}[side][int(index)]
            size = self.models["ppcl"].input_size
            enc = self.encoded["ppcl"][0 if side == "partial" else 1]
            x = load_images([rec], size)
            t = enc.t[int(index)]
            self._images[key] = {"x": x[0], "x_r": paste(x, t[None].to(x.dtype), size=size)[0], "t": t,
                                 "eta": float(enc.eta[int(index)]) if enc.eta is not None else float("nan")}
        return self._images[key]


# ---------------------------------------------------------------------- computing and caching


@torch.no_grad()
def compute(models: dict, partial: list[Record], holistic: list[Record], topk: int | None = None,
            device: torch.device | str = "cpu") -> tuple[dict, dict]:
    """The encodings (method ``"+R"``) of both image lists under each model given, the +R model's +R
    distance and the PPCL model's +R+L distance ``(partial, holistic)``."""
    from ..evaluate.engine import encode

    encoded, dist = {}, {}
    for m in (m for m in MODELS if m in models):
        model = models[m]
        size = model.input_size
        part = encode(model, load_images(partial, size), "+R", device=device)
        whole = encode(model, load_images(holistic, size), "+R", device=device)
        encoded[m] = (part, whole)
        if m == "+R":
            dist[m] = global_distance(part, whole)
        else:
            dist[m] = distance_matrix(model, part, whole, "+R+L", anchor="query", topk=topk, device=device)
    return encoded, dist


def write_cache(path: Path, expected: dict, encoded: dict, dist: dict) -> Path:
    """The encodings as a plain dict of tensors, strings and lists (no pickle needed to read it)."""
    def enc(e: Encoded) -> dict:
        return {"maps": e.maps.contiguous(), "t": e.t.contiguous(), "desc": e.desc.contiguous(),
                "eta": e.eta.contiguous() if e.eta is not None else torch.full((len(e.maps),), float("nan"))}

    obj = {"format": CACHE_FORMAT, "version": CACHE_VERSION, **expected,
           "encoded": {m: {"partial": enc(encoded[m][0]), "holistic": enc(encoded[m][1])} for m in MODELS},
           "dist": {m: dist[m].contiguous() for m in MODELS}}
    return save_checkpoint(obj, path)


def read_cache(path: Path, expected: dict) -> tuple[dict, dict] | None:
    """The cached encodings if ``path`` holds them for ``expected`` (models, images); ``None`` when
    it is a viewer cache made for other models or images (to be recomputed). Anything that is not
    a viewer cache is refused with a ``ValueError`` naming ``path`` (nothing in it is executed)."""
    path = Path(path)
    obj = read_checkpoint(path, required=())  # weights_only: refuses pickle, names the path
    what = f"a viewer feature cache ({CACHE_FORMAT!r} version {CACHE_VERSION})"
    if obj.get("format") != CACHE_FORMAT or obj.get("version") != CACHE_VERSION:
        raise ValueError(f"{path}: expected {what}; found format {obj.get('format')!r} version {obj.get('version')!r} "
                         "(delete the file to recompute it)")
    if any(obj.get(k) != v for k, v in expected.items()):
        return None  # a cache of other models or other images: stale, recomputed by the caller
    n = {"partial": len(expected["partial_paths"]), "holistic": len(expected["holistic_paths"])}
    try:
        encoded = {}
        for m in MODELS:
            sides = []
            for side in ("partial", "holistic"):
                d = obj["encoded"][m][side]
                e = Encoded(d["maps"], d["t"], d["eta"], d["desc"])
                if not all(isinstance(getattr(e, f), Tensor) for f in _ENC_FIELDS):
                    raise TypeError("an entry is not a tensor")
                if not (e.maps.dim() == 4 and len(e.maps) == len(e.t) == len(e.eta) == len(e.desc) == n[side]
                        and tuple(e.t.shape[1:]) == (4,)):
                    raise TypeError(f"encoded[{m!r}][{side!r}] has shapes maps {tuple(e.maps.shape)}, t {tuple(e.t.shape)}, "
                                    f"desc {tuple(e.desc.shape)} for {n[side]} images")
                sides.append(e)
            encoded[m] = tuple(sides)
        dist = {m: obj["dist"][m] for m in MODELS}
        if not all(isinstance(d, Tensor) and tuple(d.shape) == (n["partial"], n["holistic"]) for d in dist.values()):
            raise TypeError(f"a distance matrix is not a ({n['partial']}, {n['holistic']}) tensor")
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{path}: expected {what} with encodings and distance matrices of its images; found a malformed "
                         f"file ({type(e).__name__}: {e}); delete it to recompute") from None
    return encoded, dist


def _check_dataset(dataset: str, folder: bool = True) -> None:
    """Refuse a dataset name the viewer does not know (``folder``: also accept :data:`FOLDER`)."""
    known = [*DATASETS, FOLDER] if folder else list(DATASETS)
    if dataset not in known:
        raise ValueError(f"dataset: expected one of {known}; found {dataset!r}")


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction: expected one of {list(DIRECTIONS)} (partial images as query / as gallery); "
                         f"found {direction!r}")

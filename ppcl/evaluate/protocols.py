"""Partial re-ID protocols: Partial-REID and Partial-iLIDS, both directions (Tables 2 and 3).

These sets have no camera ids. Peers have read an image index as a camera (so a query and
its true match "share a camera" and the match is filtered away) or given every image the
same camera (so every true match is filtered away). Here the protocol refuses any record
that carries a camera id and never passes camera ids to :func:`ppcl.evaluate.rank`, so
same-camera filtering cannot happen.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..data.common import ReIDData, Record
from ..models.ppcl import PPCL
from .engine import METHODS, PAIRWISE, Encoded, distance_matrix, encode, fuse_distances, global_distance, load_images
from .rank import rank


def require_no_cameras(data: ReIDData) -> None:
    """Refuse a partial dataset whose records carry camera ids (they never should)."""
    with_cam = [r for r in (*data.query, *data.gallery) if r.camid is not None]
    if data.has_cameras or with_cam:
        where = with_cam[0].path if with_cam else data.root
        raise ValueError(
            f"{where}: expected a {data.name} record without a camera id (the set has no cameras, "
            f"so same-camera filtering must not apply); found camid={with_cam[0].camid if with_cam else '?'}"
        )


def fold_count(data: ReIDData) -> int:
    """How many galleries ``data`` is scored in: its ``info["folds"]`` (a larger draw's
    :func:`ppcl.data.sources.identity_folds`), or 1."""
    return len(set(data.info.get("folds", {}).values())) or 1


def partial_rank(distmat: Tensor, partial: Sequence[Record], holistic: Sequence[Record], direction: str,
                 folds: dict[int, int] | None = None) -> dict:
    """Rank a ``(partial, holistic)`` distance matrix with partial images as ``direction``
    ("query": Table 2, "gallery": Table 3). No camera ids are ever used. With ``folds`` (identity
    -> fold, a larger draw's :func:`ppcl.data.sources.identity_folds`) each query is ranked
    against its own fold's gallery only, and the folds' queries are pooled.

    >>> d = torch.tensor([[0.5, 0.1], [0.9, 0.2]])  # partial 1 and 2; holistic 1 and 2
    >>> p, h = [Record("a", 1, None), Record("b", 2, None)], [Record("c", 1, None), Record("d", 2, None)]
    >>> partial_rank(d, p, h, "query")["rank1"], partial_rank(d, p, h, "query", folds={1: 0, 2: 1})["rank1"]
    (0.5, 1.0)
    """
    p_pids = [r.pid for r in partial]
    h_pids = [r.pid for r in holistic]
    if folds:
        pf = torch.tensor([folds[p] for p in p_pids])
        hf = torch.tensor([folds[p] for p in h_pids])
        distmat = distmat.masked_fill(pf[:, None] != hf[None, :], float("inf"))
    if direction == "query":
        return rank(distmat, p_pids, h_pids)
    if direction == "gallery":
        return rank(distmat.T, h_pids, p_pids)
    raise ValueError(f"direction must be 'query' or 'gallery'; got {direction!r}")


def encode_records(model: PPCL, records: Sequence[Record], method: str, **kw) -> Encoded:
    mode = "pad" if method == "pad" else "resize"
    return encode(model, load_images(records, model.input_size, mode), method, **kw)


def evaluate_partial(
    model: PPCL,
    data: ReIDData,
    methods: Sequence[str] = METHODS,
    topk: int | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    fuse: float | None = None,
) -> dict[str, dict]:
    """Every method on a partial set, both directions.

    ``+R+L+G`` needs ``fuse`` (from :func:`ppcl.evaluate.validation.fusion_weight`, never from
    a test set); it reuses ``+R+L``'s pairwise distances, so CRLoc runs once per pair.

    Returns ``{method: {"query": rank(...), "gallery": rank(...), "distmat": (P, H) tensor,
    "encoded": (partial, holistic) Encoded, "seconds": {"encode", "distance"}}}`` where the
    distance matrix is (partial, holistic); the region methods scored on every pair also keep
    ``"boxes"`` ``(P, H, 4)``, the reference region of each pair (CRLoc's, or the fixed box).
    Feature maps are computed once per image and shared between ``+R`` and ``+R+L`` and between
    the two directions.
    """
    import time

    require_no_cameras(data)
    folds = data.info.get("folds")
    if folds and topk and topk < len(data.gallery):
        raise ValueError(f"{data.root}: a larger draw is scored in folds (each query against its fold's gallery); "
                         f"expected topk 0 or None (every pair), as a top-{topk} over the whole draw would re-rank "
                         f"other folds' images; found topk={topk}")
    if "+R+L+G" in methods and fuse is None:
        raise ValueError("+R+L+G needs the fusion weight `fuse` (choose it on a validation split)")
    out: dict[str, dict] = {}
    region: Tensor | None = None  # +R+L's pairwise distances, shared with +R+L+G
    region_boxes: dict = {}
    region_s = 0.0
    cache: dict[str, tuple[Encoded, Encoded, float]] = {}
    groups = None  # a larger draw: CRLoc scores only each fold's pairs (the ranking looks at no other)
    if folds:
        groups = (torch.tensor([folds[r.pid] for r in data.query]), torch.tensor([folds[r.pid] for r in data.gallery]))
    for m in methods:
        key = "+R" if m in ("+R", *PAIRWISE) else m
        if key not in cache:
            t0 = time.perf_counter()
            part = encode_records(model, data.query, m, device=device, progress=progress)
            whole = encode_records(model, data.gallery, "resize" if key == "pad" else m, device=device, progress=progress)
            cache[key] = (part, whole, time.perf_counter() - t0)
        part, whole, enc_s = cache[key]
        t0 = time.perf_counter()
        # The partial side anchors CRLoc in both directions; Table 3 transposes.
        if m in ("+R+L", "+R+L+G"):
            if region is None:
                region = distance_matrix(model, part, whole, "+R+L", anchor="query", topk=topk, device=device,
                                         progress=progress, boxes=region_boxes, groups=groups)
                region_s = time.perf_counter() - t0
                t0 = time.perf_counter()
            d = region if m == "+R+L" else fuse_distances(region, global_distance(part, whole), fuse)
            dist_s = region_s + time.perf_counter() - t0
            kept = region_boxes if m == "+R+L" else {}
        else:
            kept = {}
            d = distance_matrix(model, part, whole, m, anchor="query", topk=topk, device=device, progress=progress,
                                boxes=kept, groups=groups if m in PAIRWISE else None)
            dist_s = time.perf_counter() - t0
        out[m] = {"query": partial_rank(d, data.query, data.gallery, "query", folds),
                  "gallery": partial_rank(d, data.query, data.gallery, "gallery", folds), "distmat": d,
                  "encoded": (part, whole), "seconds": {"encode": enc_s, "distance": dist_s}, **kept}
    return out

"""Simulated partial evaluation on the Market-style test split (§4.3: Figure 5, Table 1b, the
holistic check).

The public partial sets fix their crops, so the paper simulates partial inputs of a chosen
visible-area ratio by cropping Market-1501's evaluation images. The kit does the same:
:func:`crop_at_ratio` cuts each image to a region of exactly ``ratio`` of its area (side drawn
with a seed: top, bottom, left, right or free), and :func:`market_rank` scores a distance
matrix with Market's protocol (same-camera true matches filtered, distractors kept).

**Reading of Table 1b's percentages** (the paper does not define them; ``shared/paper``'s
notes): the rank-1 values rise with the percentage on both axes, so a percentage is read as the
*visible-area ratio* of the simulated partial images (20% = a fifth of the person visible), not
as the share of partial images. Every query (and, for the gallery axis, every gallery image) is
cropped at that ratio, and GLRec's gate decides which images to rectify.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from ..data.common import Record
from ..data.partial import SIDES, sample_partial_t
from ..geometry import crop
from ..models.ppcl import PPCL
from .engine import Encoded, distance_matrix, encode, load_images
from .rank import rank


def crop_at_ratio(images: Tensor, ratio: float, seed: int = 0, sides: Sequence[str] = SIDES) -> tuple[Tensor, Tensor]:
    """Each image ``(N, 3, H, W)`` cut to a region of visible-area ratio ``ratio`` (a side drawn
    per image with ``seed``) and resized back to ``(H, W)``: ``(crops, t (N, 4))``. ``ratio=1``
    returns the images unchanged (holistic).

    Promise (tests/test_invariants_boxes.py): every t lies inside the canvas with ``sx * sy ==
    ratio`` (the band sides exactly; a ``free`` box inherits :func:`sample_partial_t`'s known
    shortfall above about 0.5), ``crops == crop(images, t)``, and the same seed gives the same
    crops."""
    n = len(images)
    if ratio >= 1.0:
        return images, torch.tensor([[1.0, 1.0, 0.0, 0.0]]).repeat(n, 1)
    rng = np.random.default_rng(seed)
    t = torch.stack([torch.from_numpy(sample_partial_t(rng, (ratio, ratio), tuple(sides))[0]) for _ in range(n)]).float()
    return crop(images, t, tuple(images.shape[-2:])), t


def market_rank(distmat: Tensor, query: Sequence[Record], gallery: Sequence[Record]) -> dict:
    """:func:`ppcl.evaluate.rank` with Market's camera rule."""
    return rank(distmat, [r.pid for r in query], [r.pid for r in gallery], [r.camid for r in query], [r.camid for r in gallery])


@torch.no_grad()
def simulated_partial_eval(model: PPCL, method: str, query: Sequence[Record], gallery: Sequence[Record],
                           query_ratio: float, gallery_ratio: float = 1.0, seed: int = 0, topk: int | None = 20,
                           gallery_images: Tensor | None = None, device="cpu", encoded_gallery: Encoded | None = None) -> dict:
    """One cell of Figure 5 / Table 1b: queries cropped at ``query_ratio``, gallery images at
    ``gallery_ratio`` (1 = holistic), ``method`` of the engine (``resize``, ``+R``, ``+R+L``; GLRec's
    gate decides which images it rectifies), CRLoc anchored on the query, the top-``topk`` of the
    +R ranking re-ranked. Returns :func:`market_rank`'s result plus ``"encoded_gallery"`` (reuse it
    for the next query ratio) and the gate's verdicts on the queries (``"query_partial"``)."""
    size = model.input_size
    qx, _ = crop_at_ratio(load_images(query, size), query_ratio, seed)
    if encoded_gallery is None:
        gx = gallery_images if gallery_images is not None else load_images(gallery, size)
        gx, _ = crop_at_ratio(gx, gallery_ratio, seed + 1)
        encoded_gallery = encode(model, gx, method, device=device)
    q = encode(model, qx, method, device=device)
    d = distance_matrix(model, q, encoded_gallery, method, anchor="query", topk=topk, device=device)
    out = market_rank(d, query, gallery)
    out["encoded_gallery"] = encoded_gallery
    out["query_partial"] = None if q.eta is None else (q.eta >= 0.5)
    return out

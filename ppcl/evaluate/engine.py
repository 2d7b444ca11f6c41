"""The evaluation engine: encode every image once, then distances for each method.

Methods (Table 1a):

* ``pad`` — the partial image padded with zeros to the holistic aspect, resized, F, GAP;
* ``resize`` — the partial image resized to the holistic size, F, GAP;
* ``+R`` — GLRec rectifies (x^r), F, and the descriptor pools the feature map over the
  layout box GLRec chose (the whole map for images the gate calls holistic);
* ``+R+L`` — as ``+R``, plus CRLoc for every (partial, reference) pair: the partial side's
  region locates its corresponding region in the other image, and the pair's distance is
  between those two regions only (§3.4). Optionally only the top-K of the ``+R`` ranking
  are re-ranked this way.
* ``+R+box`` — the kit's control for CRLoc: as ``+R+L`` but the reference region is the partial
  side's own GLRec layout box cut from the reference map (no locator, blind to the reference),
  so ``+R+L`` against ``+R+box`` tells whether a *learned* locator beats a fixed box;
* ``+R+L+G`` — the kit's option, not the paper's: ``+R+L``'s region distance plus ``fuse``
  times the ``+R`` distance, ``fuse`` chosen on a validation split
  (:func:`ppcl.evaluate.validation.fusion_weight`); ``fuse = 0`` is ``+R+L``.

Descriptors are the backbone's pooled features through its ``embed`` (re-ID: GAP then BNNeck;
faces: the GDC descriptor, :class:`ppcl.models.backbone.Backbone`), L2-normalised; distances are
cosine (1 - cos), which on unit vectors ranks exactly as Euclidean (``|a - b|^2 = 2 (1 - cos)``).
Feature maps are computed once per image and reused by every pair; the pairwise step runs
over pairs in large batches (no Python loop over pairs).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from torch import Tensor
from tqdm.auto import tqdm

from ..data.common import Record, read_image
from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..geometry import crop, identity_t
from .pairwise import all_pairs, listed_pairs, region_weights  # noqa: F401  (region_weights re-exported)
from ..models.ppcl import PPCL

METHODS = ("pad", "resize", "+R", "+R+box", "+R+L", "+R+L+G")
PAIRWISE = ("+R+box", "+R+L", "+R+L+G")  # region-to-region methods, per pair (on +R's feature maps)
BEHIND = 4.0  # added to entries a top-K re-ranking leaves out: beyond any cosine distance


def pil_to_tensor(img, size: tuple[int, int], mode: str = "resize") -> Tensor:
    """A PIL image to a normalised ``(3, H, W)`` tensor: resized, or zero-padded to the
    target aspect (centred) and then resized (the ``pad`` baseline)."""
    x = TF.normalize(TF.to_tensor(img), IMAGENET_MEAN, IMAGENET_STD)
    if mode == "pad":
        h, w = x.shape[-2:]
        th, tw = size
        if h / w > th / tw:  # too tall: pad width
            new_w = round(h * tw / th)
            left = (new_w - w) // 2
            x = F.pad(x, (left, new_w - w - left, 0, 0))
        else:
            new_h = round(w * th / tw)
            top = (new_h - h) // 2
            x = F.pad(x, (0, 0, top, new_h - h - top))
    elif mode != "resize":
        raise ValueError(f"mode must be 'resize' or 'pad'; got {mode!r}")
    return F.interpolate(x[None], size=size, mode="bilinear", align_corners=False, antialias=True)[0]


def load_images(records: Sequence[Record], size: tuple[int, int], mode: str = "resize") -> Tensor:
    """Read and prepare images ``(N, 3, H, W)``; each unreadable file raises naming its path."""
    return torch.stack([pil_to_tensor(read_image(r.path), size, mode) for r in records])


@dataclass
class Encoded:
    """Everything the distances need about a set of images, computed once."""

    maps: Tensor  # (N, C, h, w): F of the (rectified) images
    t: Tensor  # (N, 4): the layout box the descriptor pools over (identity: whole map)
    eta: Tensor | None  # GLRec's gate score, if GLRec ran
    desc: Tensor  # (N, D): unit-norm descriptor of the region t

    def __len__(self) -> int:
        return len(self.maps)


@torch.no_grad()
def region_descriptor(model: PPCL, maps: Tensor, t: Tensor) -> Tensor:
    """Unit-norm descriptor of region t of each map: crop to the CRLoc patch, the backbone's
    ``pool`` (re-ID: GAP; faces: the GDC), its ``embed`` (re-ID: BNNeck)."""
    patch = crop(maps, t.to(maps.dtype), model.crloc.cfg.patch_size)
    return F.normalize(model.backbone.embed(model.backbone.pool(patch)), dim=-1)


@torch.no_grad()
def encode(
    model: PPCL,
    images: Tensor,
    method: str,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> Encoded:
    """Feature maps (on the CPU) for ``images`` already prepared at the backbone's input size.

    For ``pad``/``resize`` the images go straight into F; for ``+R`` and the pairwise methods GLRec first.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    home = next(model.parameters()).device
    model.eval().to(device)
    maps, ts, etas = [], [], []
    for s in tqdm(range(0, len(images), batch_size), desc=f"encode {method}", leave=False, disable=not progress):
        x = images[s : s + batch_size].to(device)
        if method in ("+R", *PAIRWISE):
            r = model.glrec.rectify(x, out_size=model.input_size)
            x, t, eta = r["x_r"], r["t"], r["eta"]
            etas.append(eta.cpu())
        else:
            t = identity_t(len(x), device=device)
        maps.append(model.backbone(x).float().cpu())
        ts.append(t.float().cpu())
    maps_t, t_t = torch.cat(maps), torch.cat(ts)
    model.to("cpu")
    desc = region_descriptor(model, maps_t, t_t)
    model.to(home)
    return Encoded(maps_t, t_t, torch.cat(etas) if etas else None, desc)


def global_distance(a: Encoded, b: Encoded) -> Tensor:
    """Cosine distance between the descriptors of two encoded sets ``(len(a), len(b))``."""
    return 1.0 - a.desc @ b.desc.T


@torch.no_grad()
def crloc_pair_distance(
    model: PPCL,
    anchors: Encoded,
    refs: Encoded,
    pairs: Tensor,
    chunk: int = 256,
    device: torch.device | str = "cpu",
    progress: bool = False,
    return_boxes: bool = False,
    comparison: str = "pooled",
) -> Tensor | tuple[Tensor, Tensor]:
    """PPCL's pair distance for ``pairs`` ``(P, 2)`` of (anchor index, reference index).

    The anchor's region (its layout box t) is the query patch; CRLoc locates the corresponding
    box in the reference map; the distance compares the two regions (see
    :mod:`ppcl.evaluate.pairwise`). Optionally returns CRLoc's boxes ``(P, 4)``.
    """
    return listed_pairs(model, anchors.maps, anchors.t, refs.maps, pairs, "crloc", comparison, chunk, device, progress,
                        return_boxes)


@torch.no_grad()
def fixed_box_distance(model: PPCL, anchors: Encoded, refs: Encoded, comparison: str = "pooled") -> Tensor:
    """``(len(anchors), len(refs))``: each anchor's region (its layout box t) against the same box
    cut from every reference map — ``+R+L`` with GLRec's reference-blind box instead of CRLoc's."""
    return all_pairs(model, anchors.maps, anchors.t, refs.maps, "fixed", comparison)


def distance_matrix(
    model: PPCL,
    query: Encoded,
    gallery: Encoded,
    method: str,
    anchor: str = "query",
    topk: int | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    fuse: float = 0.0,
    comparison: str = "pooled",
    boxes: dict | None = None,
) -> Tensor:
    """``(Q, G)`` distances for ``method``. For the region methods, ``anchor`` names the partial
    side (the query in Table 2, the gallery in Table 3), ``comparison`` how two regions are
    compared, and ``topk`` re-ranks only each query's top-K of the ``+R`` ranking (the rest keep
    their order, behind them); ``+R+L+G`` adds ``fuse`` times the ``+R`` distance. A ``boxes``
    dict receives the reference boxes of every (anchor, reference) pair under ``"boxes"``
    (``(A, R, 4)``, when every pair is scored)."""
    d0 = global_distance(query, gallery)
    if method not in PAIRWISE:
        return d0
    if anchor not in ("query", "gallery"):
        raise ValueError(f"anchor must be 'query' or 'gallery'; got {anchor!r}")
    home = next(model.parameters()).device  # a model being trained stays where it is (validation callbacks)
    model = model.eval().to(device)
    a, r = (query, gallery) if anchor == "query" else (gallery, query)
    box = "fixed" if method == "+R+box" else "crloc"
    if topk is None or topk >= d0.shape[1]:
        d, b = all_pairs(model, a.maps, a.t, r.maps, box, comparison, device, progress, return_boxes=True)
        out = d if anchor == "query" else d.T
        if boxes is not None:
            boxes["boxes"] = b
    else:
        gi = d0.topk(topk, dim=1, largest=False).indices.reshape(-1)
        qi = torch.arange(d0.shape[0]).repeat_interleave(topk)
        pairs = torch.stack([qi, gi], 1) if anchor == "query" else torch.stack([gi, qi], 1)
        d = listed_pairs(model, a.maps, a.t, r.maps, pairs, box, comparison, device=device, progress=progress)
        out = d0 + BEHIND  # non-re-ranked entries stay behind, in +R order
        out[qi, gi] = d
    model.to(home)
    return fuse_distances(out, d0, fuse) if method == "+R+L+G" else out


def fuse_distances(region: Tensor, d0: Tensor, weight: float) -> Tensor:
    """``+R+L+G`` from a ``+R+L`` matrix and the ``+R`` one: ``region + weight * d0`` where the
    pair was re-ranked; entries a top-K left out (marked ``d0 + BEHIND``) stay behind every
    fused one, in ``+R`` order. ``weight = 0`` returns ``region`` unchanged."""
    if weight < 0:
        raise ValueError(f"the fusion weight must be >= 0; got {weight}")
    left_out = region >= BEHIND
    return torch.where(left_out, d0 + BEHIND * (1 + weight), region + weight * d0)

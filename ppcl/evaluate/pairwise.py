"""Region-to-region distances for (partial, reference) pairs (§3.4), computed in blocks.

For an anchor (the partial side: its rectified feature map and GLRec's layout box t) and a
reference map, the pair's distance compares the anchor's region with a region of the reference:

* the **box** in the reference is CRLoc's (``+R+L``: Eq. 8 correlation, then the locator) or the
  anchor's own layout box t (``+R+box``, the kit's fixed-box control, blind to the reference);
* the **comparison** is ``"pooled"`` (the paper's reading: each region average-pooled, BNNeck,
  cosine) or ``"cells"`` (cell-aligned: the reference region resampled to the anchor's patch
  cells and each cell compared with the anchor cell at the same place, cosine averaged over
  cells).

Regions are pooled by the backbone's own ``pool`` (:class:`ppcl.models.backbone.Backbone`).
Bilinear sampling is linear in the map, so when that pooling is GAP (``backbone.linear_pool``:
the re-ID backbone) a cut region's pooled feature (or its cells) is a fixed weighting of the
reference's cells (:func:`region_weights`, :func:`cell_weights`): no map is copied per pair.
Every anchor of a block is correlated with every reference in one matrix product, the locator
runs on the whole block at once, and regions are pooled with one batched product per block,
which keeps the pairwise step at the speed of dense linear algebra. A pooling that weighs
positions (the face backbone's GDC) takes the **generic path** instead: each pair's region is
cut from its reference map with :func:`ppcl.geometry.crop` at the patch size and pooled
(:func:`pool_regions`, in chunks), exactly what :func:`ppcl.evaluate.engine.region_descriptor`
does for one region.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..geometry import crop
from ..models.ppcl import PPCL

COMPARISONS = ("pooled", "cells")
POOL_CHUNK = 1 << 22  # floats of cut regions pooled at once on the generic path
REFS_ON_DEVICE = 2 << 30  # bytes: listed pairs copy their reference maps to an accelerator once when they fit (CUDA: a quarter of its free memory)


def axis_weights(centre: Tensor, scale: Tensor, n_out: int, n_in: int) -> Tensor:
    """Bilinear sampling along one axis, as :func:`ppcl.geometry.crop` does it (``align_corners=False``,
    border padding): ``(N,)`` box centres and half-sizes in [-1, 1] units -> ``(N, n_out, n_in)``, the
    weight with which each of ``n_out`` sample points reads each of ``n_in`` cells.

    >>> axis_weights(torch.tensor([0.0]), torch.tensor([1.0]), 2, 4)  # halve 4 cells: each sample averages two
    tensor([[[0.5000, 0.5000, 0.0000, 0.0000],
             [0.0000, 0.0000, 0.5000, 0.5000]]])
    """
    g = (torch.arange(n_out, device=centre.device, dtype=centre.dtype) * 2 + 1) / n_out - 1
    pix = (((centre[:, None] + scale[:, None] * g) + 1) * n_in - 1) / 2  # (N, n_out) cell coordinates
    pix = pix.clamp(0, n_in - 1)  # border padding: a sample outside reads the edge cell
    i0 = pix.floor().clamp(max=n_in - 1)
    frac = pix - i0
    w = torch.zeros(len(centre), n_out, n_in, device=centre.device, dtype=centre.dtype)
    w.scatter_add_(2, i0.long()[..., None], (1 - frac)[..., None])
    w.scatter_add_(2, (i0 + 1).clamp(max=n_in - 1).long()[..., None], frac[..., None])
    return w


def cell_weights(t: Tensor, map_size: tuple[int, int], patch_size: tuple[int, int]) -> Tensor:
    """``(N, 4)`` boxes -> ``(N, U, H*W)`` with ``crop(h, t, patch_size).flatten(2)[n] == h[n].flatten(1) @ w[n].T``
    (U = patch cells, row-major): each cell of the cut region as a weighting of the map's cells
    (bilinear sampling is separable: the outer product of the two axes' weights)."""
    (h, w), (ph, pw) = map_size, patch_size
    wy = axis_weights(t[:, 3], t[:, 1], ph, h)  # (N, ph, H)
    wx = axis_weights(t[:, 2], t[:, 0], pw, w)  # (N, pw, W)
    return torch.einsum("niy,njx->nijyx", wy, wx).reshape(len(t), ph * pw, h * w)


def region_weights(t: Tensor, map_size: tuple[int, int], patch_size: tuple[int, int]) -> Tensor:
    """``(N, 4)`` boxes -> ``(N, H*W)`` with ``gap(crop(h, t, patch_size)) == w @ h``: the pooled cut,
    the outer product of each axis' mean sampling weights (``O(N (H + W))``, no map resampled)."""
    (h, w), (ph, pw) = map_size, patch_size
    wy = axis_weights(t[:, 3], t[:, 1], ph, h).mean(1)  # (N, H)
    wx = axis_weights(t[:, 2], t[:, 0], pw, w).mean(1)  # (N, W)
    return (wy[:, :, None] * wx[:, None, :]).reshape(len(t), h * w)


def anchor_patches(model: PPCL, maps: Tensor, t: Tensor) -> Tensor:
    """Each anchor's region ``(A, C, ph, pw)``: its map cut at its layout box."""
    return crop(maps, t.to(maps.dtype), model.crloc.cfg.patch_size)


def _describe(model: PPCL, pooled: Tensor) -> Tensor:
    return F.normalize(model.backbone.embed(pooled), dim=-1)


def linear_pool(model: PPCL) -> bool:
    """Whether F pools by GAP (the fast weighted path applies) or not (the generic path)."""
    return bool(getattr(model.backbone, "linear_pool", False))


def pool_regions(model: PPCL, refs: Tensor, ref_index: Tensor, boxes: Tensor, patch_size: tuple[int, int]) -> Tensor:
    """The generic path: region ``boxes[n]`` ``(N, 4)`` of reference map ``refs[ref_index[n]]``
    cut to ``patch_size`` with :func:`ppcl.geometry.crop` and pooled by ``model.backbone.pool``,
    in chunks of about :data:`POOL_CHUNK` floats -> ``(N, D)``."""
    c, h, w = refs.shape[1:]
    step = max(1, POOL_CHUNK // max(1, c * (h * w + patch_size[0] * patch_size[1])))
    out = [model.backbone.pool(crop(refs[ref_index[s : s + step]], boxes[s : s + step], patch_size))
           for s in range(0, len(boxes), step)]
    return torch.cat(out) if out else boxes.new_zeros(0, 0)


def block_distances(model: PPCL, patches: Tensor, refs: Tensor, box: str = "crloc", comparison: str = "pooled",
                    anchor_t: Tensor | None = None, return_boxes: bool = False,
                    given: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """Distances ``(A, R)`` between anchor regions ``patches`` ``(A, C, ph, pw)`` and reference maps
    ``refs`` ``(R, C, H, W)``, every anchor against every reference.

    ``box="crloc"`` locates each anchor in each reference (Eqs. 8-9); ``box="fixed"`` uses the
    anchor's own layout box ``anchor_t`` ``(A, 4)``; ``box="given"`` takes one box per pair,
    ``given`` ``(A, R, 4)`` (e.g. the true corresponding region, :mod:`ppcl.evaluate.localisation`).
    Returns the distances and, if asked, the boxes ``(A, R, 4)``.
    """
    if comparison not in COMPARISONS:
        raise ValueError(f"comparison must be one of {COMPARISONS}; got {comparison!r}")
    loc = model.crloc
    a, c, ph, pw = patches.shape
    r, _, h, w = refs.shape
    u, v = ph * pw, h * w
    ref_flat = refs.flatten(2)  # (R, C, V)
    q = F.normalize(patches.flatten(2), dim=1).transpose(1, 2)  # (A, U, C)
    cos = None
    if box == "crloc" or comparison == "cells":
        rn = F.normalize(ref_flat, dim=1)  # (R, C, V)
        cos = (q.reshape(a * u, c) @ rn.transpose(0, 1).reshape(c, r * v)).view(a, u, r, v).permute(0, 2, 1, 3)  # (A, R, U, V)
    if box == "crloc":
        corr = (cos * loc.log_temperature.exp()).softmax(dim=-1).reshape(a * r, u, h, w)
        boxes = loc.locate(corr)  # (A*R, 4)
    elif box == "fixed":
        if anchor_t is None:
            raise ValueError("box='fixed' needs the anchors' layout boxes anchor_t")
        boxes = anchor_t.to(refs.dtype).repeat_interleave(r, dim=0)
    elif box == "given":
        if given is None or tuple(given.shape) != (a, r, 4):
            raise ValueError(f"box='given' needs one box per pair, given of shape {(a, r, 4)}; "
                             f"found {None if given is None else tuple(given.shape)}")
        boxes = given.to(refs.dtype).reshape(a * r, 4)
    else:
        raise ValueError(f"box must be 'crloc', 'fixed' or 'given'; got {box!r}")
    if comparison == "pooled":
        if linear_pool(model):  # GAP: each region pooled through its sampling weights
            wts = region_weights(boxes, (h, w), (ph, pw)).view(a, r, v)  # (A, R, V)
            pooled = torch.bmm(wts.transpose(0, 1), ref_flat.transpose(1, 2)).transpose(0, 1).reshape(a * r, c)  # (A*R, C)
        else:  # the generic path: cut each (anchor, reference) pair's region, then pool
            pooled = pool_regions(model, refs, torch.arange(r, device=refs.device).repeat(a), boxes, (ph, pw))
        ref_desc = _describe(model, pooled).view(a, r, -1)
        anc_desc = _describe(model, model.backbone.pool(patches))  # (A, D)
        d = 1.0 - (ref_desc * anc_desc[:, None, :]).sum(-1)
    else:
        wc = cell_weights(boxes, (h, w), (ph, pw)).view(a, r, u, v)
        d = 1.0 - (wc * cos).sum(-1).mean(-1)  # expected cosine of aligned cells
    return d, (boxes.view(a, r, 4) if return_boxes else None)


def _block_size(u: int, v: int, refs: int, budget: int = 1 << 24) -> int:
    """Anchors per block so that the (anchors, refs, U, V) correlation stays near ``budget`` floats."""
    return max(1, budget // max(1, refs * u * v))


@torch.no_grad()
def all_pairs(model: PPCL, anchor_maps: Tensor, anchor_t: Tensor, ref_maps: Tensor, box: str = "crloc",
              comparison: str = "pooled", device: torch.device | str = "cpu", progress: bool = False,
              return_boxes: bool = False, given: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
    """``(A, R)`` region distances for every (anchor, reference) pair, in blocks of anchors (and,
    with ``return_boxes``, the reference boxes ``(A, R, 4)``); ``given`` as in :func:`block_distances`."""
    from tqdm.auto import tqdm

    model.eval()
    patches = anchor_patches(model, anchor_maps, anchor_t)
    ph, pw = patches.shape[-2:]
    h, w = ref_maps.shape[-2:]
    step = _block_size(ph * pw, h * w, len(ref_maps))
    refs = ref_maps.to(device)
    out = torch.empty(len(patches), len(ref_maps))
    boxes = torch.empty(len(patches), len(ref_maps), 4) if return_boxes else None
    for s in tqdm(range(0, len(patches), step), desc=f"pairs ({box})", leave=False, disable=not progress):
        d, b = block_distances(model, patches[s : s + step].to(device), refs, box, comparison,
                               anchor_t[s : s + step].to(device), return_boxes,
                               None if given is None else given[s : s + step].to(device))
        out[s : s + step] = d.cpu()
        if boxes is not None:
            boxes[s : s + step] = b.cpu()
    return (out, boxes) if return_boxes else out


def grouped_pairs(model: PPCL, anchor_maps: Tensor, anchor_t: Tensor, ref_maps: Tensor, anchor_groups: Tensor,
                  ref_groups: Tensor, box: str = "crloc", comparison: str = "pooled", device: torch.device | str = "cpu",
                  progress: bool = False, return_boxes: bool = False,
                  given: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
    """:func:`all_pairs` within groups only: ``(A, R)`` region distances for the pairs whose anchor and
    reference share a group (``anchor_groups`` ``(A,)``, ``ref_groups`` ``(R,)``: a larger test draw's
    folds, each query ranked against its own fold's gallery), ``inf`` elsewhere (boxes NaN). The
    work grows with the folds' sizes, not with the square of the whole draw.

    >>> from ppcl.models import build_ppcl
    >>> m = build_ppcl({"depth": "resnet10", "width": 4, "input_size": (32, 16)},
    ...                {"depth": "resnet10", "width": 4, "input_size": (32, 16), "num_classes": 2}, {"patch_size": (2, 1)})
    >>> maps, t = torch.rand(3, 32, 4, 2), torch.tensor([[1.0, 1.0, 0.0, 0.0]]).repeat(3, 1)
    >>> d = grouped_pairs(m, maps, t, maps, torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1]))
    >>> torch.isinf(d).tolist()
    [[False, True, True], [False, True, True], [True, False, False]]
    """
    out = torch.full((len(anchor_maps), len(ref_maps)), float("inf"))
    boxes = torch.full((len(anchor_maps), len(ref_maps), 4), float("nan")) if return_boxes else None
    for g in torch.unique(anchor_groups).tolist():
        ai = torch.nonzero(anchor_groups == g).squeeze(1)
        ri = torch.nonzero(ref_groups == g).squeeze(1)
        if len(ai) == 0 or len(ri) == 0:
            continue
        sub = None if given is None else given[ai][:, ri]
        r = all_pairs(model, anchor_maps[ai], anchor_t[ai], ref_maps[ri], box, comparison, device, progress,
                      return_boxes, sub)
        d, b = r if return_boxes else (r, None)
        out[ai[:, None], ri[None, :]] = d
        if boxes is not None:
            boxes[ai[:, None], ri[None, :]] = b
    return (out, boxes) if return_boxes else out


def paired_distances(model: PPCL, patches: Tensor, refs: Tensor, box: str = "crloc", comparison: str = "pooled",
                     anchor_t: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Distances ``(N,)`` and boxes ``(N, 4)`` for N one-to-one pairs: anchor region ``patches[n]``
    ``(N, C, ph, pw)`` against reference map ``refs[n]`` ``(N, C, H, W)``."""
    if comparison not in COMPARISONS:
        raise ValueError(f"comparison must be one of {COMPARISONS}; got {comparison!r}")
    n, c, ph, pw = patches.shape
    h, w = refs.shape[-2:]
    ref_flat = refs.flatten(2)  # (N, C, V)
    q = F.normalize(patches.flatten(2), dim=1).transpose(1, 2)  # (N, U, C)
    cos = torch.bmm(q, F.normalize(ref_flat, dim=1))  # (N, U, V)
    if box == "crloc":
        boxes = model.crloc.locate((cos * model.crloc.log_temperature.exp()).softmax(-1).view(n, ph * pw, h, w))
    elif box == "fixed" and anchor_t is not None:
        boxes = anchor_t.to(refs.dtype)
    else:
        raise ValueError(f"box must be 'crloc' or 'fixed' (with anchor_t); got {box!r}")
    if comparison == "pooled":
        if linear_pool(model):
            pooled = torch.bmm(region_weights(boxes, (h, w), (ph, pw))[:, None, :], ref_flat.transpose(1, 2))[:, 0]
        else:
            pooled = pool_regions(model, refs, torch.arange(n, device=refs.device), boxes, (ph, pw))
        d = 1.0 - (_describe(model, pooled) * _describe(model, model.backbone.pool(patches))).sum(-1)
    else:
        d = 1.0 - (cell_weights(boxes, (h, w), (ph, pw)) * cos).sum(-1).mean(-1)
    return d, boxes


@torch.no_grad()
def listed_pairs(model: PPCL, anchor_maps: Tensor, anchor_t: Tensor, ref_maps: Tensor, pairs: Tensor, box: str = "crloc",
                 comparison: str = "pooled", chunk: int = 256, device: torch.device | str = "cpu", progress: bool = False,
                 return_boxes: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Region distances ``(P,)`` for ``pairs`` ``(P, 2)`` of (anchor index, reference index), in
    chunks of ``chunk`` pairs (a top-K re-ranking, or one reference per query)."""
    from tqdm.auto import tqdm

    model.eval()
    pairs = pairs.long()
    patches = anchor_patches(model, anchor_maps, anchor_t).to(device)
    anchor_t = anchor_t.to(device)
    refs, ref_index, dev = ref_maps, pairs[:, 1], torch.device(device)
    if dev.type != "cpu":  # copy each listed reference map to the device once (when they fit), not once per pair
        used, inverse = ref_index.unique(return_inverse=True)
        budget = torch.cuda.mem_get_info(dev)[0] // 4 if dev.type == "cuda" else REFS_ON_DEVICE
        if len(used) * ref_maps[0].numel() * ref_maps.element_size() <= budget:
            refs, ref_index = ref_maps[used].to(dev), inverse
    out = torch.empty(len(pairs))
    boxes = torch.empty(len(pairs), 4) if return_boxes else None
    for s in tqdm(range(0, len(pairs), chunk), desc=f"pairs ({box})", leave=False, disable=not progress):
        i, j = pairs[s : s + chunk, 0].to(device), ref_index[s : s + chunk]
        d, b = paired_distances(model, patches[i], refs[j].to(device), box, comparison, anchor_t[i])
        out[s : s + chunk] = d.cpu()
        if boxes is not None:
            boxes[s : s + chunk] = b.cpu()
    return (out, boxes) if return_boxes else out

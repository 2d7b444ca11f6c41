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

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from torch import Tensor
from tqdm.auto import tqdm

from ..data.common import Record, read_image
from ..data.stores import run_threads
from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..geometry import crop, identity_t
from .pairwise import all_pairs, grouped_pairs, listed_pairs, region_weights  # noqa: F401  (region_weights re-exported)
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


def load_images(records: Sequence[Record], size: tuple[int, int], mode: str = "resize",
                threads: int | None = None) -> Tensor:
    """Read and prepare images ``(N, 3, H, W)`` (:func:`pil_to_tensor`), decoded by ``threads``
    threads (default: the CPUs this process may use, at most 16) into one preallocated tensor, each
    into its own slot: the same tensor, bit for bit, as preparing them one after another. An
    unreadable file raises naming its path (the first in ``records`` order)."""
    if mode not in ("resize", "pad"):
        raise ValueError(f"mode must be 'resize' or 'pad'; got {mode!r}")
    out = torch.empty((len(records), 3, *size))

    def one(i: int) -> None:
        out[i] = pil_to_tensor(read_image(records[i].path), size, mode)

    run_threads(one, len(records), threads)
    return out


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


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def encode_dtype(precision: str, device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype encoding runs F and GLRec under (``None``: fp32). ``"auto"`` is bf16 on
    a GPU that supports it (fp16 on one that does not) and fp32 on the CPU, so the CPU's numbers
    never depend on it.

    >>> encode_dtype("auto", "cpu") is None, encode_dtype("bf16", "cpu")
    (True, torch.bfloat16)
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {PRECISIONS}; found {precision!r}")
    device = torch.device(device)
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def reduced_precision(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """The autocast region encoding runs in: ``dtype`` on ``device`` (off where ``dtype`` is None).

    On the CPU a reduced dtype also turns oneDNN off for the region: oneDNN's AMX bf16 convolution,
    as shipped with torch 2.14.1, returns garbage (values near 1e37, different on every call) for
    small feature maps such as a 3x3 stride-2 convolution over 4x2 (tests/test_encode_precision.py
    holds the reproducer), so on CPUs with AMX the ATen kernels run instead: slower, correct.
    """
    stack = contextlib.ExitStack()
    if dtype is not None and device.type == "cpu":
        stack.enter_context(_onednn_off())
    stack.enter_context(torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not None))
    return stack


@contextlib.contextmanager
def _onednn_off():
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


def batch_for_memory(free_bytes: int, per_image_bytes: float, share: float = 0.5, lo: int = 32, hi: int = 1024) -> int:
    """Images per batch that use at most ``share`` of ``free_bytes`` at ``per_image_bytes`` each,
    within ``[lo, hi]``.

    >>> batch_for_memory(8 * 2**30, 2**20), batch_for_memory(2**20, 2**20), batch_for_memory(2**40, 2**20)
    (1024, 32, 1024)
    >>> batch_for_memory(2**30, 4 * 2**20)
    128
    """
    if per_image_bytes <= 0:
        return hi
    return int(min(hi, max(lo, share * free_bytes // per_image_bytes)))


def _conv_weights_channels_last(model: torch.nn.Module) -> bool:
    w = next((m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)), None)
    return w is not None and w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()


def _free_cuda_bytes(device: torch.device) -> int:
    free, _ = torch.cuda.mem_get_info(device)
    return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)


@torch.no_grad()
def encode(
    model: PPCL,
    images: Tensor,
    method: str,
    batch_size: int | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    precision: str = "auto",
) -> Encoded:
    """Feature maps (on the CPU) for ``images`` already prepared at the backbone's input size.

    For ``pad``/``resize`` the images go straight into F; for ``+R`` and the pairwise methods GLRec first.
    ``precision`` (:func:`encode_dtype`) is the autocast dtype of those passes; the maps come back
    in fp32 and descriptors, distances and ranking are computed in fp32. On a GPU the weights are
    laid out channels-last while encoding, the descriptors are computed there (in fp32) and
    ``batch_size`` (default) is sized by the free memory after a first batch of 32 images; on the
    CPU the default is 128 and everything runs as it always has.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size: expected 1 or more images (or None: sized by free memory); found {batch_size}")
    device = torch.device(device)
    dtype = encode_dtype(precision, device)
    cuda = device.type == "cuda"
    home = next(model.parameters()).device
    model.eval().to(device)
    relayout = cuda and not _conv_weights_channels_last(model)
    if relayout:
        model.to(memory_format=torch.channels_last)
    bs = batch_size or (32 if cuda else 128)
    maps, ts, etas, descs = [], [], [], []
    bar = tqdm(total=len(images), desc=f"encode {method}", leave=False, disable=not progress)
    s = 0
    while s < len(images):
        probe = cuda and batch_size is None and s == 0
        if probe:
            torch.cuda.reset_peak_memory_stats(device)
            before = torch.cuda.memory_allocated(device)
        x = images[s : s + bs].to(device)
        with reduced_precision(device, dtype):
            if method in ("+R", *PAIRWISE):
                r = model.glrec.rectify(x, out_size=model.input_size)
                x, t, eta = r["x_r"], r["t"], r["eta"]
                etas.append(eta.float().cpu())
            else:
                t = identity_t(len(x), device=device)
            m = model.backbone(x).float()
        t = t.float()
        if cuda:
            descs.append(region_descriptor(model, m, t).cpu())
        maps.append(m.cpu())
        ts.append(t.cpu())
        bar.update(len(x))
        s += len(x)
        if probe:
            per_image = (torch.cuda.max_memory_allocated(device) - before) / len(x)
            bs = batch_for_memory(_free_cuda_bytes(device), per_image)
    bar.close()
    maps_t, t_t = torch.cat(maps), torch.cat(ts)
    if relayout:
        model.to(memory_format=torch.contiguous_format)
    if cuda:
        desc = torch.cat(descs)
    else:
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
    groups: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """``(Q, G)`` distances for ``method``. For the region methods, ``anchor`` names the partial
    side (the query in Table 2, the gallery in Table 3), ``comparison`` how two regions are
    compared, and ``topk`` re-ranks only each query's top-K of the ``+R`` ranking (the rest keep
    their order, behind them); ``+R+L+G`` adds ``fuse`` times the ``+R`` distance. A ``boxes``
    dict receives the reference boxes of every (anchor, reference) pair under ``"boxes"``
    (``(A, R, 4)``, when every pair is scored). ``groups`` ``((Q,), (G,))`` scores only the pairs of a
    query and a gallery image in the same group (a larger draw's folds); the others are left behind
    every scored pair (``inf``; for ``+R+L+G``, behind in ``+R`` order), boxes NaN."""
    d0 = global_distance(query, gallery)
    if method not in PAIRWISE:
        return d0
    if anchor not in ("query", "gallery"):
        raise ValueError(f"anchor must be 'query' or 'gallery'; got {anchor!r}")
    home = next(model.parameters()).device  # a model being trained stays where it is (validation callbacks)
    model = model.eval().to(device)
    a, r = (query, gallery) if anchor == "query" else (gallery, query)
    box = "fixed" if method == "+R+box" else "crloc"
    if groups is not None:
        ga, gr = groups if anchor == "query" else groups[::-1]
        d, b = grouped_pairs(model, a.maps, a.t, r.maps, ga, gr, box, comparison, device, progress, return_boxes=True)
        out = d if anchor == "query" else d.T
        if boxes is not None:
            boxes["boxes"] = b
    elif topk is None or topk >= d0.shape[1]:
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

"""The localisation ruler: PPCL's region distance with the reference region chosen four ways.

PPCL compares a partial image's region (the anchor: its rectified map cut at GLRec's layout
box) with *a region of the reference* (§3.4). Which region is the whole question of CRLoc, and
the kit's synthetic data knows the right answer: every image's body frame is recorded
(:mod:`ppcl.data.bodies`), so for every (partial, holistic) pair, genuine or impostor, the
region of the holistic image that shows what the partial image shows is known (flips and
detector framing included). The ruler keeps the network and the anchor fixed and varies only
the reference region:

========== =======================================================================================
``crloc``  CRLoc's box for the pair (PPCL's own distance, ``+R+L``)
``fixed``  GLRec's layout box of the partial image, cut from the reference (``+R+box``)
``true``   the true corresponding region (ground truth, synthetic data only)
``whole``  the whole reference image (the ``+R`` comparison, through the same region pipeline)
========== =======================================================================================

If ``true`` is no better than ``whole``, no locator can show anything on that data; if
``crloc`` is near ``whole`` and far below ``true``, the locator is what fails. The boxes are
scored too: IoU with the true region and area (the share of the reference image the box covers)
on genuine pairs. The true region is clipped to the reference frame and kept at least
``min_scale`` wide and high (the smallest box CRLoc can give), so a part the reference does not
show becomes a thin strip at its edge rather than an empty box.

**Two frames.** A holistic reference is encoded as the evaluation encodes it (method ``+R``):
GLRec's rectification ``x^r = paste(x, t_h)`` puts the image at its layout box ``t_h`` (the
identity when the gate calls it holistic), so CRLoc's boxes and the fixed box live in the frame
of ``x^r``, while the body frames give the true region in the frame of the image ``x`` itself.
:func:`to_rectified` and :func:`to_image` map a region between the two (``compose_t(t_h, box)``
and back); regions are cut in the ``x^r`` frame, IoU and area are measured in the image's frame
(IoU is the same in both). ``whole`` is the whole reference image, ``t_h`` in the ``x^r`` frame:
exactly the region the ``+R`` descriptor of the reference pools over.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..data.bodies import Body, corresponding_region
from ..data.common import ReIDData
from ..geometry import box_intersection, box_iou, identity_t, t_to_box
from ..models.ppcl import PPCL
from .engine import Encoded
from .pairwise import all_pairs, grouped_pairs
from .protocols import encode_records, partial_rank, require_no_cameras

REGIONS: dict[str, str] = {
    "crloc": "CRLoc's box",
    "fixed": "GLRec's fixed box",
    "true": "true region (ground truth)",
    "whole": "whole reference",
}


def true_regions(partial: Sequence[Body], holistic: Sequence[Body], min_scale: float = 0.1) -> Tensor:
    """``(P, H, 4)``: for every (partial image, holistic image) the region of the holistic frame
    that shows the whole partial image (t convention of :mod:`ppcl.geometry`), clipped to the
    frame and at least ``min_scale`` in each scale.

    >>> top = Body(cx=0.5, top=0.0, width_scale=1.0, ph=2.0)  # a partial image showing the upper half of a body
    >>> right = Body(cx=0.0, top=0.0, width_scale=2.0, ph=1.0)  # one showing the body's right half (u > 0)
    >>> whole, mirrored = Body(0.5, 0.0, 1.0, 1.0), Body(0.5, 0.0, 1.0, 1.0, flipped=True)  # bodies filling the frame
    >>> true_regions([top, right], [whole, mirrored])  # a flip moves the right half to the other side
    tensor([[[ 1.0000,  0.5000,  0.0000, -0.5000],
             [ 1.0000,  0.5000,  0.0000, -0.5000]],
    <BLANKLINE>
            [[ 0.5000,  1.0000,  0.5000,  0.0000],
             [ 0.5000,  1.0000, -0.5000,  0.0000]]])
    """
    n_p, n_h = len(partial), len(holistic)
    if n_p == 0 or n_h == 0:
        raise ValueError(f"true_regions needs partial and holistic bodies; got {n_p} and {n_h}")
    full = identity_t(n_p * n_h)
    out = corresponding_region(full, [b for b in partial for _ in range(n_h)], list(holistic) * n_p)
    lo = torch.full_like(out[:, :2], min_scale)
    return torch.cat([torch.maximum(out[:, :2], lo), out[:, 2:]], dim=1).clamp(-1, 1).view(n_p, n_h, 4)


def to_rectified(box: Tensor, t: Tensor) -> Tensor:
    """Regions ``box`` ``(..., 4)`` of images, in the frame of their GLRec rectifications
    ``x^r = paste(x, t)`` (layout boxes ``t``, broadcast against ``box``): ``compose_t(t, box)``.

    >>> to_rectified(torch.tensor([1.0, 0.5, 0.0, -0.5]), torch.tensor([0.5, 0.5, 0.5, 0.0]))  # the upper half
    tensor([ 0.5000,  0.2500,  0.5000, -0.2500])
    """
    return torch.cat([t[..., :2] * box[..., :2], t[..., 2:] + t[..., :2] * box[..., 2:]], dim=-1)


def to_image(box_r: Tensor, t: Tensor) -> Tensor:
    """The inverse of :func:`to_rectified`: regions ``box_r`` ``(..., 4)`` of rectifications
    ``x^r = paste(x, t)`` in the frame of the images ``x`` (outside ``[-1, 1]`` where a region
    covers the canvas around the image).

    >>> to_image(torch.tensor([0.5, 0.25, 0.5, -0.25]), torch.tensor([0.5, 0.5, 0.5, 0.0]))
    tensor([ 1.0000,  0.5000,  0.0000, -0.5000])
    """
    return torch.cat([box_r[..., :2] / t[..., :2], (box_r[..., 2:] - t[..., 2:]) / t[..., :2]], dim=-1)


def image_share(box: Tensor) -> Tensor:
    """``(...)``: the share of an image that regions ``box`` ``(..., 4)`` (its own frame) cover,
    the part outside the image left out.

    >>> image_share(torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.5, 1.0, 0.5, 0.0], [1.0, 1.0, 1.0, 0.0]]))
    tensor([1.0000, 0.5000, 0.5000])
    """
    full = torch.tensor([-1.0, -1.0, 1.0, 1.0], dtype=box.dtype, device=box.device)
    return box_intersection(t_to_box(box), full) / 4.0


def bodies_of(records: Sequence, bodies: dict[str, Body] | None) -> list[Body] | None:
    """The body frames of ``records`` (by path), or ``None`` when any is unknown (real data)."""
    if bodies is None:
        return None
    found = [bodies.get(str(r.path)) for r in records]
    return None if any(b is None for b in found) else found


@torch.no_grad()
def region_boxes_and_distances(model: PPCL, part: Encoded, whole: Encoded, region: str,
                               truth: Tensor | None = None, device="cpu",
                               groups: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """``(distances (P, H), boxes (P, H, 4))`` of the anchor regions of ``part`` against
    ``whole``'s maps with the reference region ``region`` (:data:`REGIONS`); ``truth``
    ``(P, H, 4)`` for ``"true"``. Boxes (and ``truth``) are in the frame of each reference's
    rectification (see the module docstring): ``whole`` is each reference's layout box ``t_h``."""
    n_p, n_h = len(part), len(whole)
    if region == "crloc":
        if groups is not None:
            return grouped_pairs(model, part.maps, part.t, whole.maps, *groups, "crloc", device=device, return_boxes=True)
        return all_pairs(model, part.maps, part.t, whole.maps, "crloc", device=device, return_boxes=True)
    if region == "fixed":
        given = part.t[:, None, :].expand(n_p, n_h, 4)
    elif region == "whole":
        given = whole.t[None, :, :].expand(n_p, n_h, 4)
    elif region == "true":
        if truth is None:
            raise ValueError("region 'true' needs the true regions (synthetic data with body frames)")
        given = truth
    else:
        raise ValueError(f"region: expected one of {list(REGIONS)}; found {region!r}")
    if groups is not None:  # a folded draw: each fold's pairs only (ranked within folds)
        d = grouped_pairs(model, part.maps, part.t, whole.maps, *groups, "given", device=device, given=given.contiguous())
    else:
        d = all_pairs(model, part.maps, part.t, whole.maps, "given", device=device, given=given.contiguous())
    return d, given


_SCORED = {"crloc": "+R+L", "fixed": "+R+box"}  # the regions evaluate_partial's methods already score


@torch.no_grad()
def ruler(model: PPCL, data: ReIDData, bodies: dict[str, Body] | None, regions: Sequence[str] = tuple(REGIONS),
          device="cpu", scored: dict | None = None) -> dict:
    """The ruler on a partial set (partial images ``data.query``, holistic ``data.gallery``).

    Returns ``{region: {"query": rank, "gallery": rank, "iou": (n,), "area": (n,)}}`` for each
    region that applies (``true`` only with body frames), ``iou`` and ``area`` (:func:`image_share`)
    on genuine pairs in the reference image's frame, plus ``"true_area"`` (the true regions' areas
    on genuine pairs). Both directions rank one
    matrix (Table 3 transposes), the partial image anchoring every region. ``scored`` is
    :func:`ppcl.evaluate.protocols.evaluate_partial`'s output for the same model and set: its
    encodings and its ``+R+L`` / ``+R+box`` distances and boxes are reused, not recomputed.
    """
    require_no_cameras(data)
    scored = scored or {}
    done = next((scored[m] for m in ("+R+L", "+R+box", "+R") if m in scored), None)
    if done is not None:
        part, whole = done["encoded"]
    else:
        part = encode_records(model, data.query, "+R", device=device)
        whole = encode_records(model, data.gallery, "+R", device=device)
    p_bodies, h_bodies = bodies_of(data.query, bodies), bodies_of(data.gallery, bodies)
    t_h = whole.t[None, :, :]  # each reference's layout box: the frame its map is in
    truth = true_regions(p_bodies, h_bodies, model.crloc.cfg.min_scale) if p_bodies and h_bodies else None
    truth_r = None if truth is None else to_rectified(truth, t_h)
    genuine = torch.tensor([r.pid for r in data.query])[:, None] == torch.tensor([r.pid for r in data.gallery])[None, :]
    folds = data.info.get("folds")
    out: dict = {}
    for region in regions:
        if region == "true" and truth is None:
            continue
        m = _SCORED.get(region)
        if m in scored and "boxes" in scored[m]:
            d, boxes = scored[m]["distmat"], scored[m]["boxes"]
        else:
            groups = None if not folds else (torch.tensor([folds[r.pid] for r in data.query]),
                                             torch.tensor([folds[r.pid] for r in data.gallery]))
            d, boxes = region_boxes_and_distances(model, part, whole, region, truth_r, device, groups)
        boxes = to_image(boxes, t_h)[genuine]  # in the reference image's own frame
        entry = {"query": partial_rank(d, data.query, data.gallery, "query", folds),
                 "gallery": partial_rank(d, data.query, data.gallery, "gallery", folds), "area": image_share(boxes)}
        if truth is not None:
            entry["iou"] = box_iou(t_to_box(boxes), t_to_box(truth[genuine]))
        out[region] = entry
    if truth is not None:
        out["true_area"] = image_share(truth[genuine])
    return out


def ruler_rows(result: dict, dataset: str, network: str, seed: int) -> list[dict]:
    """Flat rows of one :func:`ruler` result: ``dataset, direction, network, region, seed,
    rank1, mAP, iou, area`` (IoU NaN without ground truth)."""
    rows = []
    for region, entry in result.items():
        if region not in REGIONS:
            continue
        for direction in ("query", "gallery"):
            rows.append({"dataset": dataset, "direction": direction, "network": network, "region": REGIONS[region],
                         "seed": seed, "rank1": entry[direction]["rank1"], "mAP": entry[direction]["mAP"],
                         "iou": float(entry["iou"].mean()) if "iou" in entry else float("nan"),
                         "area": float(entry["area"].mean())})
    return rows


NETWORKS = {"ppcl": "PPCL", "+R": "+R"}  # the variant whose network the ruler measures -> its label
RULER_PAIRS: tuple[tuple[str, str], ...] = (
    ("true region (ground truth), PPCL", "whole reference, PPCL"),
    ("true region (ground truth), PPCL", "CRLoc's box, PPCL"),
    ("CRLoc's box, PPCL", "GLRec's fixed box, PPCL"),
    ("true region (ground truth), PPCL", "GLRec's fixed box, PPCL"),
    ("CRLoc's box, PPCL", "whole reference, PPCL"),
    ("true region (ground truth), +R", "whole reference, +R"),
)


def ruler_over_seeds(models: dict[tuple[str, int], PPCL], data: dict[str, ReIDData], seeds: Sequence[int],
                     bodies: dict[str, Body] | None, raw: dict | None = None, labels: dict[str, str] | None = None,
                     device="cpu", progress: bool = True) -> tuple[list[dict], dict]:
    """:func:`ruler` on every set of ``data`` for the PPCL network (every region) and the +R
    network (every region but CRLoc's) of each seed. ``raw`` is
    :func:`ppcl.pipeline.experiments.benchmarks.score_seeds`' third output for the same sets, whose distances
    and boxes are reused; ``labels`` names the sets in the rows (default: their keys).

    Returns ``(rows, per_query)``: :func:`ruler_rows` rows (``network`` the label of
    :data:`NETWORKS`) and ``per_query[(dataset, direction, "<region>, <network>")]`` over seeds,
    for :func:`ppcl.evaluate.compare.differences` with :data:`RULER_PAIRS`.
    """
    from tqdm.auto import tqdm

    labels = labels or {}
    rows, per_query = [], {}
    for s in tqdm(seeds, desc="the localisation ruler", disable=not progress):
        for ds, d in data.items():
            name = labels.get(ds, ds)
            for variant, net in NETWORKS.items():
                regions = tuple(REGIONS) if variant == "ppcl" else ("fixed", "true", "whole")
                scored = (raw or {}).get(s, {}).get((ds, variant))
                result = ruler(models[(variant, s)], d, bodies, regions, device=device, scored=scored)
                rows += ruler_rows(result, name, net, s)
                for region in regions:
                    if region in result:
                        for direction in ("query", "gallery"):
                            key = (name, direction, f"{REGIONS[region]}, {net}")
                            per_query.setdefault(key, []).append(result[region][direction]["per_query"])
    return rows, per_query


def localisation_summary(rows: Sequence[dict]):
    """``tables/03_localisation.csv``: one row per (dataset, direction, network, region) with
    ``seeds, rank1_mean, rank1_std, iou_mean, area_mean`` over seeds (percent for rank-1;
    IoU with the true region and the box's area as a fraction of the reference frame, on genuine
    pairs) and ``ground_truth`` (the row uses the true region, which real data does not have)."""
    import numpy as np
    import pandas as pd

    df = pd.DataFrame(list(rows))
    keys = ["dataset", "direction", "network", "region"]
    out = df.groupby(keys, sort=False).agg(
        seeds=("seed", lambda s: ",".join(str(int(v)) for v in sorted(s))),
        rank1_mean=("rank1", lambda v: 100 * float(np.mean(v))),
        rank1_std=("rank1", lambda v: 100 * float(np.std(v, ddof=1)) if len(v) > 1 else 0.0),
        iou_mean=("iou", "mean"), area_mean=("area", "mean")).reset_index()
    out["ground_truth"] = out.region == REGIONS["true"]
    return out[["dataset", "direction", "region", "seeds", "rank1_mean", "rank1_std", "iou_mean", "area_mean",
                "network", "ground_truth"]]


def capture_table(loc):
    """How much of the true region's headroom each box takes, per setting on the PPCL network:
    ``true - whole`` (what the data rewards), ``true - fixed``, ``CRLoc - fixed`` and the capture
    ratio ``(CRLoc - fixed) / (true - fixed)`` (rank-1 points, means over seeds; NaN without
    ground truth or headroom)."""
    import numpy as np
    import pandas as pd

    rows = []
    ppcl = loc[loc.network == NETWORKS["ppcl"]]
    for (ds, direction), g in ppcl.groupby(["dataset", "direction"], sort=False):
        r1 = dict(zip(g.region, g.rank1_mean))
        true, fixed, crloc, whole = (r1.get(REGIONS[k], np.nan) for k in ("true", "fixed", "crloc", "whole"))
        head = true - fixed
        rows.append({"dataset": ds, "direction": direction, "true - whole": true - whole, "true - fixed": head,
                     "CRLoc - fixed": crloc - fixed,
                     "capture (CRLoc - fixed) / (true - fixed)": (crloc - fixed) / head if head > 0 else np.nan})
    return pd.DataFrame(rows)

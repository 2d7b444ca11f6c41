"""The localisation ruler for any region-matching method: plug a method in, read its rows.

A *region-matching method* is shown pairs of (partial image, holistic reference) and answers,
for each pair, either **which region of the reference** matches the partial image (a box) or
**how far apart** the two are (a distance). The kit's synthetic partial sets know the true
corresponding region of every pair, genuine or impostor (:mod:`ppcl.evaluate.localisation`), so
any such method can be measured the way notebook 03 measures CRLoc:

* a **box method** is scored by the IoU of its box with the true region and the share of the
  reference the box covers (genuine pairs), and by rank-1 with the distance a fixed *scorer*
  network (a trained PPCL) computes between the partial image's region (its GLRec layout box,
  the anchor, held fixed) and the method's region of the reference (§3.4's region distance);
* a **distance method** is scored by rank-1 with its own distance (lower is closer);

beside the scorer's rank-1 with three regions that need no method: the **true region** (ground
truth), **GLRec's fixed box** and the **whole reference**. Rank-1 differences get the intervals of
:func:`ppcl.evaluate.compare.differences` over seeds (one scorer network per seed), and the table
is :func:`ppcl.evaluate.localisation.localisation_summary`'s. The kit's own CRLoc, its fixed box
and a plain whole-image baseline are the first entries, written through the same interface
(:class:`CRLocBox`, :class:`FixedBox`, :func:`whole_reference`); docs/ruler.md shows another.

**The interface.** A method is any callable ``method(pairs: Pairs) -> Tensor`` returning
``(N, 4)`` boxes or ``(N,)`` distances for the ``N`` pairs of a batch. Images are normalised
(ImageNet mean and std) ``(N, 3, H, W)`` tensors at the scorer's input size, resized as the
evaluation resizes them; ``pairs.partial_index`` / ``pairs.holistic_index`` say which images of
the set they are, so a method can compute per image once. A method may also define
``prepare(images: RulerSet)``, called once per (scorer, set) before its batches with every image
of the set. A box is ``(sx, sy, tx, ty)`` in the t convention of :mod:`ppcl.geometry`, in the
``[-1, 1]`` coordinates of the reference image the method was shown; the ruler maps it into the
frame of the scorer's map of that reference (:func:`ppcl.evaluate.localisation.to_rectified`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from ..data.bodies import Body
from ..data.common import ReIDData, Record
from ..geometry import box_iou, identity_t, t_to_box
from ..models.ppcl import PPCL
from .engine import Encoded, load_images
from .localisation import REGIONS, bodies_of, image_share, to_image, to_rectified, true_regions
from .pairwise import all_pairs
from .protocols import encode_records, partial_rank, require_no_cameras

TRUE, FIXED, WHOLE, CRLOC = REGIONS["true"], REGIONS["fixed"], REGIONS["whole"], REGIONS["crloc"]
REFERENCES = (TRUE, FIXED, WHOLE)  # every method is compared with the scorer's rank-1 on these regions
KINDS = ("box", "distance")
_PLURAL = {"box": "boxes", "distance": "distances"}


@dataclass(frozen=True)
class Pairs:
    """A batch of ``N`` (partial image, holistic reference) pairs.

    ``partial``, ``holistic``: ``(N, 3, H, W)`` normalised images at ``size``; ``partial_index``,
    ``holistic_index``: ``(N,)`` long, each image's index in the set's partial (``data.query``)
    and holistic (``data.gallery``) lists."""

    partial: Tensor
    holistic: Tensor
    partial_index: Tensor
    holistic_index: Tensor

    def __len__(self) -> int:
        return len(self.partial_index)

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.partial.shape[-2:])


@dataclass(frozen=True)
class RulerSet:
    """What ``method.prepare`` receives, once per (scorer, set): every image (``(P, 3, H, W)`` and
    ``(G, 3, H, W)``, normalised at ``size``), their records, and the scorer with its ``+R``
    encodings ``(partial, holistic)`` (feature maps of GLRec's rectifications, layout boxes ``t``,
    gate scores): what the kit's own methods read; any other method may ignore them."""

    partial: Tensor
    holistic: Tensor
    partial_records: list[Record]
    holistic_records: list[Record]
    scorer: PPCL
    encoded: tuple[Encoded, Encoded]
    device: torch.device | str = "cpu"

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.partial.shape[-2:])


@runtime_checkable
class RegionMethod(Protocol):
    """``(pairs: Pairs) -> Tensor``: ``(N, 4)`` boxes (t convention, the reference image's frame)
    or ``(N,)`` distances; optionally ``prepare(images: RulerSet) -> None``."""

    def __call__(self, pairs: Pairs) -> Tensor: ...


# ---------------------------------------------------------------------- the kit's methods


class CRLocBox:
    """CRLoc's box (PPCL's ``+R+L``): the scorer's own locator, for every pair of the set at once."""

    boxes: Tensor | None = None

    def prepare(self, images: RulerSet) -> None:
        part, whole = images.encoded
        _, boxes_r = all_pairs(images.scorer, part.maps, part.t, whole.maps, "crloc", device=images.device,
                               return_boxes=True)
        self.boxes = to_image(boxes_r, whole.t[None])  # (P, G, 4) in each reference image's frame

    def __call__(self, pairs: Pairs) -> Tensor:
        if self.boxes is None:
            raise RuntimeError("CRLocBox: prepare(images) must run before the pairs (the ruler calls it)")
        return self.boxes[pairs.partial_index, pairs.holistic_index]


class FixedBox:
    """GLRec's fixed box (``+R+box``): the partial image's own layout box, cut from the reference
    where its map has it (blind to the reference)."""

    part_t: Tensor | None = None
    whole_t: Tensor | None = None

    def prepare(self, images: RulerSet) -> None:
        part, whole = images.encoded
        self.part_t, self.whole_t = part.t, whole.t

    def __call__(self, pairs: Pairs) -> Tensor:
        if self.part_t is None:
            raise RuntimeError("FixedBox: prepare(images) must run before the pairs (the ruler calls it)")
        return to_image(self.part_t[pairs.partial_index], self.whole_t[pairs.holistic_index])


def whole_reference(pairs: Pairs) -> Tensor:
    """The plain baseline: the whole reference image, whatever the partial image shows."""
    return identity_t(len(pairs), device=pairs.partial.device)


def kit_methods() -> dict[str, RegionMethod]:
    """The kit's three entries, fresh: CRLoc's box, GLRec's fixed box, the whole reference."""
    return {CRLOC: CRLocBox(), FIXED: FixedBox(), WHOLE: whole_reference}


# ---------------------------------------------------------------------- running a method


def _check_output(name: str, out, n: int) -> tuple[str, Tensor]:
    """``(kind, tensor)`` of one batch's answer, refused (naming the method) unless it is ``(n, 4)``
    boxes with positive scales or ``(n,)`` distances, all finite."""
    if not isinstance(out, Tensor):
        raise TypeError(f"method {name!r}: expected a Tensor of (N, 4) boxes or (N,) distances; found {type(out).__name__}")
    if tuple(out.shape) == (n, 4):
        kind = "box"
    elif tuple(out.shape) == (n,):
        kind = "distance"
    else:
        raise ValueError(f"method {name!r}: expected ({n}, 4) boxes or ({n},) distances for a batch of {n} pairs; "
                         f"found shape {tuple(out.shape)}")
    out = out.detach().float().cpu()
    if not torch.isfinite(out).all():
        raise ValueError(f"method {name!r}: expected finite {_PLURAL[kind]}; found NaN or infinity")
    if kind == "box" and not (out[:, :2] > 0).all():
        raise ValueError(f"method {name!r}: expected boxes (sx, sy, tx, ty) with sx, sy > 0; found "
                         f"{out[(out[:, :2] <= 0).any(1)][0].tolist()}")
    return kind, out


def run_method(name: str, method: RegionMethod, images: RulerSet, batch_size: int = 512,
               progress: bool = False) -> tuple[str, Tensor]:
    """``method`` on every (partial, holistic) pair of ``images``, partial-major, in batches of
    ``batch_size`` pairs: ``("box", (P, G, 4))`` or ``("distance", (P, G))``."""
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size: expected 1 or more pairs; found {batch_size}")
    if hasattr(method, "prepare"):
        method.prepare(images)
    n_p, n_g = len(images.partial), len(images.holistic)
    kind, parts = None, []
    for s in tqdm(range(0, n_p * n_g, batch_size), desc=f"ruler: {name}", leave=False, disable=not progress):
        idx = torch.arange(s, min(s + batch_size, n_p * n_g))
        pi, gi = idx // n_g, idx % n_g
        k, out = _check_output(name, method(Pairs(images.partial[pi], images.holistic[gi], pi, gi)), len(idx))
        if kind is not None and k != kind:
            raise ValueError(f"method {name!r}: expected the same kind of answer for every batch; found "
                             f"{_PLURAL[kind]}, then {_PLURAL[k]}")
        kind = k
        parts.append(out)
    out = torch.cat(parts)
    return kind, out.view(n_p, n_g, 4) if kind == "box" else out.view(n_p, n_g)


def _methods(methods: Mapping[str, RegionMethod] | None, with_kit: bool) -> dict[str, RegionMethod]:
    kit = kit_methods() if with_kit else {}
    given = dict(methods or {})
    clash = [n for n in given if n in kit or n == TRUE]
    if clash:
        raise ValueError(f"methods: expected names other than the kit's entries {[*kit, TRUE]}; found {clash}")
    for n, m in given.items():
        if not callable(m):
            raise TypeError(f"methods[{n!r}]: expected a callable (pairs) -> boxes or distances; found {type(m).__name__}")
    return {**kit, **given}


@torch.no_grad()
def measure(methods: Mapping[str, RegionMethod] | None, scorer: PPCL, data: ReIDData, bodies: dict[str, Body] | None,
            device: torch.device | str = "cpu", batch_size: int = 512, encoded: tuple[Encoded, Encoded] | None = None,
            with_kit: bool = True, progress: bool = False) -> dict:
    """Every method (the kit's three first, with ``with_kit``) and the true region on a partial set
    (partial images ``data.query``, holistic ``data.gallery``), one scorer network.

    Returns ``{name: entry}`` with ``entry = {"kind", "query": rank, "gallery": rank, "distances":
    (P, G)}`` and, for box methods, ``"boxes"`` ``(P, G, 4)`` (each reference image's frame),
    ``"area"`` ``(n,)`` (:func:`~ppcl.evaluate.localisation.image_share`) and, with body frames,
    ``"iou"`` ``(n,)`` with the true region, on the ``n`` genuine pairs; the true region's entry
    (:data:`TRUE`) when ``bodies`` cover the set. ``encoded``: the scorer's ``+R`` encodings of
    the set, when already computed (else computed here).
    """
    require_no_cameras(data)
    chosen = _methods(methods, with_kit)
    scorer = scorer.eval()
    part, whole = encoded if encoded is not None else (encode_records(scorer, data.query, "+R", device=device),
                                                       encode_records(scorer, data.gallery, "+R", device=device))
    size = scorer.input_size
    images = RulerSet(load_images(data.query, size), load_images(data.gallery, size), list(data.query),
                      list(data.gallery), scorer, (part, whole), device)
    p_bodies, g_bodies = bodies_of(data.query, bodies), bodies_of(data.gallery, bodies)
    truth = true_regions(p_bodies, g_bodies, scorer.crloc.cfg.min_scale) if p_bodies and g_bodies else None
    genuine = torch.tensor([r.pid for r in data.query])[:, None] == torch.tensor([r.pid for r in data.gallery])[None, :]
    folds = data.info.get("folds")
    answers = {n: run_method(n, m, images, batch_size, progress) for n, m in chosen.items()}
    if truth is not None:
        answers[TRUE] = ("box", truth)
    out = {}
    for name, (kind, ans) in answers.items():
        if kind == "box":
            given = to_rectified(ans, whole.t[None]).contiguous()  # where the scorer's map of each reference has it
            d = all_pairs(scorer, part.maps, part.t, whole.maps, "given", device=device, given=given)
        else:
            d = ans
        entry = {"kind": kind, "query": partial_rank(d, data.query, data.gallery, "query", folds),
                 "gallery": partial_rank(d, data.query, data.gallery, "gallery", folds), "distances": d}
        if kind == "box":
            entry.update(boxes=ans, area=image_share(ans[genuine]))
            if truth is not None:
                entry["iou"] = box_iou(t_to_box(ans[genuine]), t_to_box(truth[genuine]))
        out[name] = entry
    return out


def measure_rows(result: dict, dataset: str, seed: int, network: str = "PPCL") -> list[dict]:
    """Flat rows of one :func:`measure` result, the columns of
    :func:`ppcl.evaluate.localisation.ruler_rows` (``region`` the method's name; IoU and area NaN
    where they do not apply) plus ``kind``: ready for
    :func:`ppcl.evaluate.localisation.localisation_summary`."""
    nan = float("nan")
    rows = []
    for name, e in result.items():
        for direction in ("query", "gallery"):
            rows.append({"dataset": dataset, "direction": direction, "network": network, "region": name, "seed": seed,
                         "rank1": e[direction]["rank1"], "mAP": e[direction]["mAP"],
                         "iou": float(e["iou"].mean()) if "iou" in e else nan,
                         "area": float(e["area"].mean()) if "area" in e else nan, "kind": e["kind"]})
    return rows


def measure_over_seeds(methods: Mapping[str, RegionMethod] | None, scorers: Mapping[int, PPCL],
                       data: Mapping[str, ReIDData], bodies: dict[str, Body] | None, labels: dict[str, str] | None = None,
                       device: torch.device | str = "cpu", batch_size: int = 512, with_kit: bool = True,
                       encoded: Callable[[int, str], tuple[Encoded, Encoded] | None] | None = None,
                       progress: bool = True) -> tuple[list[dict], dict]:
    """:func:`measure` on every set of ``data`` with the scorer of every seed (``scorers[seed]``,
    e.g. the PPCL network each seed trained); ``labels`` name the sets in the rows (default: their
    keys); ``encoded(seed, set)`` may return the scorer's encodings already computed.

    Returns ``(rows, per_query)``: :func:`measure_rows` rows and ``per_query[(dataset, direction,
    name)]`` over seeds, for :func:`ppcl.evaluate.compare.differences` with :func:`method_pairs`.
    """
    from tqdm.auto import tqdm

    labels = labels or {}
    rows, per_query = [], {}
    for s, scorer in tqdm(scorers.items(), desc="the localisation ruler", disable=not progress):
        for ds, d in data.items():
            name = labels.get(ds, ds)
            result = measure(methods, scorer, d, bodies, device=device, batch_size=batch_size, with_kit=with_kit,
                             encoded=encoded(s, ds) if encoded else None)
            rows += measure_rows(result, name, s)
            for method, e in result.items():
                for direction in ("query", "gallery"):
                    per_query.setdefault((name, direction, method), []).append(e[direction]["per_query"])
    return rows, per_query


def method_pairs(names: Sequence[str]) -> list[tuple[str, str]]:
    """``(method, reference)`` for every method of ``names`` that is not itself a reference region,
    against each of :data:`REFERENCES` (the true region, GLRec's fixed box, the whole reference)."""
    return [(m, r) for m in dict.fromkeys(names) if m not in REFERENCES for r in REFERENCES]


def ruler_table(rows: Sequence[dict], per_query: dict, primary: Sequence[tuple[str, str]] = (), n_boot: int = 5000):
    """``(summary, differences)``: :func:`~ppcl.evaluate.localisation.localisation_summary` of
    ``rows`` with each method's ``kind``, and :func:`ppcl.evaluate.compare.differences` of every
    method against the three reference regions (:func:`method_pairs`; ``primary`` the pairs declared
    before the run, Holm-adjusted)."""
    from .compare import differences
    from .localisation import localisation_summary

    summary = localisation_summary(rows)
    kinds = {r["region"]: r["kind"] for r in rows}
    summary["kind"] = summary.region.map(kinds)
    names = list(dict.fromkeys(r["region"] for r in rows))
    return summary, differences(per_query, method_pairs(names), primary=primary, n_boot=n_boot)


__all__ = ["CRLOC", "FIXED", "KINDS", "REFERENCES", "TRUE", "WHOLE", "CRLocBox", "FixedBox", "Pairs", "RegionMethod",
           "RulerSet", "kit_methods", "measure", "measure_over_seeds", "measure_rows", "method_pairs", "ruler_table",
           "run_method", "whole_reference"]

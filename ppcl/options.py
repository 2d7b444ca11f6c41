"""The kit's own options, beside Algorithm 1: small named pieces :class:`ppcl.algorithm.PPCLObjective`
calls at fixed places, each off in the ``paper`` profile (docs/readings.md says why each exists and
how it was chosen, on validation).

Where the paper's path has a piece, the kit's option replaces it:

* **line 5, the view** (:func:`view_for`): the paper crops a region of the image
  (:func:`ppcl.draws.paper_view`); ``view_width`` cuts it from the image narrowed about its centre
  (:func:`narrowed_view`); ``known_pairs`` frames each image twice, as two detections of one
  person would, and cuts the view from one framing while L_F sees the other, so the region of the
  holistic image that shows the view is known (:func:`known_pair_view`);
* **what CRLoc's constraints see** (:func:`constraint_features`): the paper trains F through them;
  ``crloc_trains_F = False`` detaches the maps so PP-Cycle and PP-Triplet train CRLoc only;
* **PP-Triplet's inputs** (:func:`triplet_inputs`): ``triplet_trains_F = False`` relocates on
  detached maps so PP-Triplet's gradient reaches CRLoc's boxes only.

Where the paper has nothing, the option adds to the step after Eqs. 4-12 (:func:`extras`):

* ``known_region_id``: L_F also sees the known corresponding region of the holistic image;
* ``region_id``: L_F also sees the regions CRLoc locates in another image of the same identity
  and in y, with those images' labels, so the distance used at test time is trained;
* ``lam_loc``: L_loc, the grid loss of CRLoc's box for (anchor, holistic image) against the known
  region.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .data.framing import framings_from, map_region, mirror_t, narrow_framing, narrowed_region
from .draws import StepDraws, ViewFn, paper_view
from .geometry import compose_t
from .losses import grid_loss


# ---- line 5: the view --------------------------------------------------------------------------
def narrowed_view(width: tuple[float, float]) -> ViewFn:
    """The crop drawn in the image narrowed about its centre to ``U(width)`` of its width (the
    training image has no body box; a detection centres the person): ``t_known`` is the region of
    the whole image it shows."""

    def view(t_src: Tensor, u: Tensor, z: Tensor) -> dict:
        t = narrowed_region(t_src, width, u[:, 0])
        return {**paper_view(t_src, u, z), "src": t, "t_known": t}

    return view


def known_pair_view(width: tuple[float, float] = (1.0, 1.0)) -> ViewFn:
    """Two detector-like framings of each image (:mod:`ppcl.data.framing`): the partial view is the
    crop of framing a (narrowed to ``U(width)`` of its width), L_F's holistic image is framing b, and
    ``t_known`` the region of b that shows the view."""

    def view(t_src: Tensor, u: Tensor, z: Tensor) -> dict:
        f_a, flip_a = framings_from(z[:, :4], u[:, 1])
        f_b, flip_b = framings_from(z[:, 4:], u[:, 2])
        f_a = narrow_framing(f_a, width, u[:, 0])
        return {"src": compose_t(f_a, mirror_t(t_src, flip_a)), "src_flip": flip_a, "frame": f_b, "frame_flip": flip_b,
                "t_known": map_region(t_src, f_a, flip_a, f_b, flip_b), "framed": True}

    return view


def view_for(cfg) -> ViewFn:
    """Line 5's view under ``cfg`` (a :class:`ppcl.algorithm.PPCLLossConfig`)."""
    width = tuple(cfg.view_width)
    if cfg.known_pairs:
        return known_pair_view(width)
    return paper_view if width == (1.0, 1.0) else narrowed_view(width)


# ---- what the constraints see ------------------------------------------------------------------
def constraint_features(cfg) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """``(anchor, h_x) -> (anchor, h_x)`` as CRLoc's constraints see them: as they are (the paper's
    joint training), or detached (``crloc_trains_F = False``: the constraints train CRLoc only)."""
    if cfg.crloc_trains_F:
        return lambda a, h: (a, h)
    return lambda a, h: (a.detach(), h.detach())


def triplet_inputs(cfg) -> Callable:
    """``(loc, anchor, h_y, box_xy, pos) -> (anchor, h_y, box, pos)`` for PP-Triplet: Eq. 4's as they
    are (the paper's), or (``triplet_trains_F = False``) Eq. 4 again on detached maps, so the
    triplet's gradient reaches CRLoc's boxes only."""
    if cfg.triplet_trains_F:
        return lambda loc, a, h_y, box, pos: (a, h_y, box, pos)

    def detached(loc, a, h_y, box, pos):
        a, h_y = a.detach(), h_y.detach()
        box = loc(a, h_y)[0]
        return a, h_y, box, loc.cut(h_y, box)

    return detached


# ---- what the kit adds after Eqs. 4-12 ---------------------------------------------------------
@dataclass
class Step:
    """What one step has computed, for the pieces that add to it."""

    pids: Tensor  # (B,) labels
    draws: StepDraws
    anchor: Tensor  # (B, C, ph, pw): h_x^r cut at GLRec's layout box, as L_F sees it
    h_x: Tensor  # (B, C, h, w): F of the holistic images, as L_F sees them
    t_in: Tensor  # (B, 4): where x^p's content lies in x, as a box CRLoc can give (PP-Cycle's target)
    a_c: Tensor | None = None  # the anchor and maps as CRLoc's constraints see them
    h_x_c: Tensor | None = None
    box_xy: Tensor | None = None  # Eq. 4's box in h_y
    extra: dict = field(default_factory=dict)


def same_identity_partner(pids: Tensor, u: Tensor) -> Tensor:
    """For each image of a batch, the index of another image of the same identity, drawn at random
    from the uniforms ``u`` ``(B, B)`` (itself when it is its identity's only image in the batch).
    ``(B,)`` -> ``(B,)``, on ``pids``' device, without waiting for it.

    >>> same_identity_partner(torch.tensor([0, 0, 1]), torch.full((3, 3), 0.5)).tolist()
    [1, 0, 2]
    """
    b = len(pids)
    same = (pids[:, None] == pids[None, :]) & ~torch.eye(b, dtype=torch.bool, device=pids.device)
    score = torch.where(same, u.to(pids.device) + 1.0, torch.zeros_like(u, device=pids.device))
    return torch.where(same.any(1), score.argmax(1), torch.arange(b, device=pids.device))


def known_region_id(obj, s: Step, terms: dict, emb: list) -> None:
    """``known_region_id``: L_F on the holistic image's region that shows the partial view."""
    emb.append((obj.model.backbone.pool(obj.model.crloc.cut(s.h_x, s.t_in)), s.pids))


def region_id(obj, s: Step, terms: dict, emb: list) -> None:
    """``region_id``: the anchor located (Eq. 4) in another image of its identity and in y, both
    regions into L_F with the labels of the images they were cut from."""
    loc, pool = obj.model.crloc, obj.model.backbone.pool
    mate = same_identity_partner(s.pids, s.draws.mate)
    box_m = loc(s.a_c, s.h_x_c[mate])[0]
    emb.append((pool(loc.cut(s.h_x[mate], box_m)), s.pids[mate]))
    emb.append((pool(loc.cut(s.h_x[s.draws.perm], s.box_xy)), s.pids[s.draws.perm]))


def localisation_loss(obj, s: Step, terms: dict, emb: list) -> None:
    """``lam_loc``: L_loc, CRLoc's box of (anchor, holistic image) against the known region."""
    box = obj.model.crloc(s.a_c, s.h_x_c)[0]
    terms["L_loc"] = grid_loss(box, s.t_in, obj.points)


def extras(cfg) -> list[Callable]:
    """The pieces ``cfg`` turns on, in the order they add to the step (none in the paper's)."""
    constraints = cfg.lam_cyc > 0 or cfg.lam_tri > 0
    out: list[Callable] = []
    if cfg.known_region_id:
        out.append(known_region_id)
    if cfg.region_id and constraints:
        out.append(region_id)
    if cfg.lam_loc > 0 and constraints:
        out.append(localisation_loss)
    return out


def kit_options_on(cfg) -> list[str]:
    """The names of the kit's options ``cfg`` turns on (empty for the paper's reading).

    >>> from ppcl.algorithm import PPCLLossConfig
    >>> kit_options_on(PPCLLossConfig()), kit_options_on(PPCLLossConfig(region_id=True, view_width=(0.4, 0.6)))
    ([], ['region_id', 'view_width'])
    """
    on = {"region_id": cfg.region_id, "crloc_trains_F": not cfg.crloc_trains_F, "triplet_trains_F": not cfg.triplet_trains_F,
          "negatives": cfg.negatives != "log-uniform", "known_pairs": cfg.known_pairs, "lam_loc": cfg.lam_loc > 0,
          "known_region_id": cfg.known_region_id, "view_width": tuple(cfg.view_width) != (1.0, 1.0)}
    return [k for k, v in on.items() if v]


__all__ = ["Step", "constraint_features", "extras", "kit_options_on", "known_pair_view", "narrowed_view",
           "same_identity_partner", "triplet_inputs", "view_for"]

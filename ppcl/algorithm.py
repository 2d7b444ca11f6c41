"""Algorithm 1: one PPCL training step, Eqs. 2-6 and 10-13.

For a PK batch X of holistic images (labels for L_F):

1. crop each x to a partial x^p with known region t (line 5);
2. x^r = T(G(R(x^p))) with the pretrained GLRec (line 6, Eq. 2);
3. one pass of F over [x^r; x] gives h_x^r and h_x; Y = shuffle(X), so h_y = h_x[perm] is a
   permutation, not a third pass (line 7, Eq. 3/10);
4. the anchor a is h_x^r cut at GLRec's layout box (the query region of x^r);
5. h_{x->y} = L(a, h_y) (Eq. 4) and h_{y->x} = L(h_{x->y}, h_x) (Eq. 5);
6. PP-Cycle (Eq. 11): the box of h_{y->x} against t, the region x^p came from;
7. PP-Triplet (Eq. 12): anchor a, positive h_{x->y}, negative h_{y*} drawn inside h_y with
   IoU and containment below beta;
8. L = L_F + lam_cyc * L_cyc + lam_tri * L_tri (Eqs. 6 and 13; L_R too if GLRec trains; the
   kit's lam_loc * L_loc with known pairs, below).

Every feature the losses compare is pooled by the backbone's own ``pool`` (GAP for the re-ID
backbone, the GDC descriptor for the face backbone, :mod:`ppcl.models.backbone`), so the same
step trains F and CRLoc on persons and on faces (§5).

**Where the paper is silent.** L_F is "determined by the specific task"; the kit applies it to
the holistic images *and* to their partial views (the anchor region of x^r, pooled), with the
identity labels of the batch, so F learns to describe a rectified partial image in the same
space as a holistic one. The baselines get the same budget through ``partial_input``:

* ``"rectify"`` — the partial views are GLRec's x^r (the +R recipe, and PPCL's);
* ``"resize"`` — the partial views are the crops resized to the full input (the Resize recipe;
  Pad is evaluated on the same F);
* ``None`` — holistic images only (a plain re-ID step: the cost benchmark's, and the ``holistic``
  variant, the paper's Resize baseline as it reads).

``lam_cyc = 0`` or ``lam_tri = 0`` gives the single-constraint ablations of Table 1a; both zero
trains no CRLoc.

**The kit's option ``region_id``** (chosen on validation; off is the paper). At test time PPCL
compares a partial region with the region CRLoc finds in a holistic image, a descriptor that no
identity loss sees in the paper's recipe (L_F sees whole images and the partial view). With
``region_id`` each anchor region is also located in another image of its own identity (the PK
batch has K per identity) and, as in Eq. 4, in y; both located regions join L_F's softmax
cross-entropy and batch-hard triplet with the labels of the images they were cut from. The
distance used at test time is then trained: a partial region is pulled toward the region CRLoc
finds in a true match and pushed from the regions it finds in other people.

**The kit's options on known pairs** (chosen on validation; all off is the paper). Nothing in
Algorithm 1 tells CRLoc where the corresponding region of another image is: PP-Cycle only asks
for a round trip, PP-Triplet for a region closer than a random one. A re-ID training set does
give such pairs by construction (:mod:`ppcl.data.framing`): with ``known_pairs`` each image is
framed twice, as two detections of one person would frame it (scaled, shifted, one of them
mirrored); the partial view is cut from the first framing and the holistic image L_F sees is the
second, so the region of the holistic image that shows the partial view, ``t_known``, is known
(PP-Cycle's target becomes it; without ``known_pairs`` it is ``t_src`` as in the paper).
``lam_loc`` weighs L_loc, the grid loss of CRLoc's box for (anchor, h_x) against ``t_known``;
``known_region_id`` adds the pooled known region of h_x to L_F with its image's label, so the
descriptor of a holistic image's *region*, which the region distance compares at test time, is
trained (the +R control gets it too: it is an L_F term, not CRLoc's).

**The kit's option ``crloc_trains_F``** (chosen on validation; on is the paper's joint training).
Off, PP-Cycle and PP-Triplet are computed on detached feature maps: they train CRLoc (its boxes
and correlation temperature) but not F, which then learns only from L_F (with ``region_id``, also
on the located regions). On the kit's synthetic data the constraints' gradients pulled F's
features toward other identities' regions (y is another person in most pairs) and cost rank-1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .data.datasets import ImageStore, TrainBatches
from .data.framing import cut_from_framing, frame, map_region, narrow_framing, narrowed_region, sample_framings
from .data.partial import SIDES, draw_partial_batch, simulate_partial_batch
from .data.samplers import PKSampler
from .data.transforms import Augmentation
from .geometry import box_to_t, crop, grid_points, t_to_box
from .losses import batch_hard_triplet, cross_entropy, glrec_loss, grid_loss, pp_cycle, pp_triplet, sample_negative_boxes
from .models.ppcl import PPCL
from .train import adam, default_device, fit


@dataclass(frozen=True)
class PPCLLossConfig:
    """The weights and options of Eq. 6 (and the kit's readings where the paper is silent)."""

    lam_cyc: float = 10.0
    lam_tri: float = 1.0
    beta: float = 0.5
    alpha: float = 0.3  # PP-Triplet margin (the paper does not give it)
    triplet_margin: float = 0.3  # L_F's batch-hard margin
    label_smoothing: float = 0.0
    area: tuple[float, float] = (0.3, 0.8)
    sides: tuple[str, ...] = SIDES
    grid: int = 20
    train_glrec: bool = False
    partial_input: str | None = "rectify"  # "rectify" | "resize" | None (see the module docstring)
    triplet_trains_F: bool = True  # False: PP-Triplet's gradient reaches only CRLoc's boxes, not F's features
    region_id: bool = False  # the kit's option: L_F also sees the regions CRLoc locates (see the module docstring)
    crloc_trains_F: bool = True  # False: PP-Cycle and PP-Triplet train CRLoc only; F learns from L_F (the kit's option)
    negatives: str = "log-uniform"  # PP-Triplet's negative boxes: "log-uniform" in scale, or "same-size" as the positive
    known_pairs: bool = False  # the kit's option: the partial view and the holistic image are two framings of one image
    lam_loc: float = 0.0  # the kit's option: weight of L_loc, CRLoc's box on a known pair against the known region
    known_region_id: bool = False  # the kit's option: L_F also on the known corresponding region of the holistic image
    view_width: tuple[float, float] = (1.0, 1.0)  # the kit's option: the partial view is cut from the image (or a known
                                                  # pair's first framing) narrowed to U(view_width) of its width; (1, 1): the paper's


class PPCLObjective(nn.Module):
    """Algorithm 1's loss (Eq. 6) for one batch, as a module so that DistributedDataParallel can
    wrap the whole of it."""

    def __init__(self, model: PPCL, loss_cfg: PPCLLossConfig = PPCLLossConfig()):
        super().__init__()
        self.model, self.loss_cfg = model, loss_cfg
        self.register_buffer("points", grid_points(loss_cfg.grid), persistent=False)

    def arch(self) -> dict:
        return self.model.arch()

    def state_dict(self, *args, **kwargs):  # checkpoints hold the PPCL model itself
        return self.model.state_dict(*args, **kwargs)

    def load_state_dict(self, state, strict: bool = True):
        return self.model.load_state_dict(state, strict)

    def forward(self, x: Tensor, pids: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        cfg, model = self.loss_cfg, self.model
        b = x.shape[0]
        use_l = (cfg.lam_cyc > 0 or cfg.lam_tri > 0) and cfg.partial_input == "rectify"
        if (cfg.lam_cyc > 0 or cfg.lam_tri > 0) and cfg.partial_input != "rectify":
            raise ValueError(f"CRLoc's constraints need partial_input='rectify'; got {cfg.partial_input!r}")
        terms: dict[str, Tensor] = {}
        loc, pool = model.crloc, model.backbone.pool  # pool: GAP (re-ID) or the GDC (faces)
        if cfg.partial_input is None:
            h_x = model.backbone(x)
            g, labels = pool(h_x), pids
        else:
            if cfg.known_pairs:  # the kit's option: two detector-like framings of each image
                f_a, flip_a = sample_framings(b, generator, device=x.device)
                f_b, flip_b = sample_framings(b, generator, device=x.device)
                # Line 5 on framing a: the partial view, cut in one resampling of x; x becomes framing b
                t_src = draw_partial_batch(b, generator, 1.0, cfg.area, cfg.sides, x.dtype)[0].to(x.device)
                if tuple(cfg.view_width) != (1.0, 1.0):  # the view is cut around the person, not the whole frame
                    f_a = narrow_framing(f_a, cfg.view_width, generator)
                x_p = cut_from_framing(x, f_a, flip_a, t_src)
                x = frame(x, f_b, flip_b)
                t_known = map_region(t_src, f_a, flip_a, f_b, flip_b)  # where the partial view's content is in x
            elif tuple(cfg.view_width) != (1.0, 1.0):  # line 5 on the image narrowed about its centre
                t_src = draw_partial_batch(b, generator, 1.0, cfg.area, cfg.sides, x.dtype)[0]
                t_known = narrowed_region(t_src, cfg.view_width, generator).to(x.device)  # the view's place in x
                t_src = t_src.to(x.device)
                x_p = crop(x, t_known, tuple(x.shape[-2:]))
            else:
                # Line 5: every image gets a partial view with known region t_src.
                x_p, t_src, _, _ = simulate_partial_batch(x, generator, 1.0, cfg.area, cfg.sides)
                t_known = t_src
            if cfg.partial_input == "rectify":  # line 6 (Eq. 2)
                if cfg.train_glrec:
                    model.glrec.train()
                    t_pred, logit = model.glrec(x_p)
                    terms["L_R"] = glrec_loss(t_pred, logit, t_src, torch.ones(b, device=x.device))["loss"]
                model.glrec.eval()
                rect = model.glrec.rectify(x_p, out_size=model.input_size)
                x_v, t_v = rect["x_r"], rect["t"]
            elif cfg.partial_input == "resize":
                x_v, t_v = x_p, torch.tensor([1.0, 1.0, 0.0, 0.0], device=x.device).expand(b, 4)
            else:
                raise ValueError(f"partial_input must be 'rectify', 'resize' or None; got {cfg.partial_input!r}")
            # Line 7: one pass of F over [x^r; x]; F(Y) will be a permutation of F(X).
            h = model.backbone(torch.cat([x_v, x]))
            h_r, h_x = h[:b], h[b:]
            anchor = loc.cut(h_r, t_v.to(h_r.dtype))  # the partial view's own region
            g, labels = torch.cat([pool(anchor), pool(h_x)]), torch.cat([pids, pids])
            t_in = inside_map(t_known, loc.cfg.min_scale).to(h_x.dtype)  # the known region, as a box CRLoc can give
            if cfg.known_region_id:  # the kit's option: L_F on the holistic image's known corresponding region too
                g, labels = torch.cat([g, pool(loc.cut(h_x, t_in))]), torch.cat([labels, pids])
        if use_l:
            perm = torch.randperm(b, generator=generator).to(x.device)
            h_x_f, h_y_f = h_x, h_x[perm]  # the maps L_F trains F through
            if not cfg.crloc_trains_F:  # CRLoc's constraints see detached maps: their gradients stop at CRLoc
                h_x, anchor = h_x.detach(), anchor.detach()
            h_y = h_x[perm]
            box_xy, _ = loc(anchor, h_y)  # Eq. 4
            pos = loc.cut(h_y, box_xy)
            if cfg.region_id:  # the kit's option: L_F on the located regions too
                mate = same_identity_partner(pids, generator)
                box_m, _ = loc(anchor, h_x[mate])
                g = torch.cat([g, pool(loc.cut(h_x_f[mate], box_m)), pool(loc.cut(h_y_f, box_xy))])
                labels = torch.cat([labels, pids[mate], pids[perm]])
        terms["L_F_ce"] = cross_entropy(model.backbone.logits(g), labels, cfg.label_smoothing)
        terms["L_F_tri"] = batch_hard_triplet(g, labels, cfg.triplet_margin)
        loss = terms["L_F_ce"] + terms["L_F_tri"] + terms.get("L_R", 0.0)
        if use_l:
            if cfg.lam_cyc > 0:
                box_yx, _ = loc(pos, h_x)  # Eq. 5
                terms["L_cyc"] = pp_cycle(box_yx, t_in, self.points)
                loss = loss + cfg.lam_cyc * terms["L_cyc"]
            if cfg.lam_loc > 0:  # the kit's option: the box of a known pair against the known region
                box_xx, _ = loc(anchor, h_x)
                terms["L_loc"] = grid_loss(box_xx, t_in, self.points)
                loss = loss + cfg.lam_loc * terms["L_loc"]
            if cfg.lam_tri > 0:
                if cfg.triplet_trains_F:
                    feats_y, a, box_t, pos_t = h_y, anchor, box_xy, pos
                else:  # the same Eq. 4 on detached features: the gradient reaches CRLoc only
                    feats_y, a = h_y.detach(), anchor.detach()
                    box_t, _ = loc(a, feats_y)
                    pos_t = loc.cut(feats_y, box_t)
                neg_box, ok = sample_negative_boxes(box_t, generator, cfg.beta, loc.cfg.min_scale,
                                                    same_size=cfg.negatives == "same-size")
                neg = loc.cut(feats_y, neg_box)
                terms["L_tri"] = pp_triplet(pool(a), pool(pos_t), pool(neg), cfg.alpha, ok.to(anchor.dtype))
                loss = loss + cfg.lam_tri * terms["L_tri"]
        terms["loss"] = loss
        return terms


def inside_map(t: Tensor, min_scale: float = 0.1) -> Tensor:
    """Region ``t`` ``(B, 4)`` clipped to the canvas ``[-1, 1]^2``, each scale at least
    ``min_scale`` (the boxes CRLoc can give): the target of a known pair whose region reaches
    past the holistic image's frame.

    >>> inside_map(torch.tensor([[0.5, 0.5, 0.8, 0.0]]))  # reaches past the right edge: cut there
    tensor([[0.3500, 0.5000, 0.6500, 0.0000]])
    """
    box = t_to_box(t)
    out = box_to_t(box.clamp(-1, 1))
    s = out[:, :2].clamp_min(min_scale)
    c = torch.maximum(torch.minimum(out[:, 2:], 1 - s), s - 1)
    inside = ((box.abs() <= 1).all(1) & (t[:, :2] >= min_scale).all(1))[:, None]
    return torch.where(inside, t, torch.cat([s, c], dim=1))  # a region already inside is kept bit for bit


def same_identity_partner(pids: Tensor, generator: torch.Generator) -> Tensor:
    """For each image of a batch, the index of another image of the same identity, drawn at
    random (itself when it is its identity's only image in the batch). ``(B,)`` -> ``(B,)``."""
    b = len(pids)
    same = (pids[:, None] == pids[None, :]) & ~torch.eye(b, dtype=torch.bool, device=pids.device)
    score = torch.rand(b, b, generator=generator).to(pids.device) + 1.0
    score = torch.where(same, score, torch.zeros_like(score))
    return torch.where(same.any(1), score.argmax(1), torch.arange(b, device=pids.device))


def ppcl_step(objective: nn.Module):
    """A ``step`` for :func:`ppcl.train.fit`: one call of :class:`PPCLObjective` (or its DDP wrapper)."""

    def step(batch, ctx) -> dict[str, Tensor]:
        return objective(batch[0].to(ctx.device), batch[1].to(ctx.device), ctx.generator)

    return step


def train_ppcl(
    model: PPCL,
    records,
    epochs: int,
    checkpoint,
    p: int = 16,
    k: int = 4,
    lr: float = 3.5e-4,
    weight_decay: float = 5e-4,
    warmup_epochs: int = 0,
    loss_cfg: PPCLLossConfig = PPCLLossConfig(),
    seed: int = 0,
    erase: float = 0.5,
    device: torch.device | None = None,
    num_workers: int = 0,
    on_epoch_end=None,
    progress: bool = True,
    rank: int = 0,
    world_size: int = 1,
    ddp: bool = False,
):
    """Algorithm 1 over PK batches of ``records`` (Adam, optional linear warm-up, cosine decay).

    GLRec stays fixed unless ``loss_cfg.train_glrec``. Under ``torchrun`` pass
    ``rank``/``world_size`` and ``ddp=True``: the PK sampler splits the batches and F and L are
    wrapped in DistributedDataParallel. The images are decoded once at the input size
    (:class:`ppcl.data.datasets.ImageStore`, on the training device when they fit; not at all when
    the checkpoint is complete) and each batch is flipped, padded and cropped, normalised and
    erased there (:func:`ppcl.data.transforms.augment`); ``num_workers`` batches are prepared ahead in a
    background thread (0: each when it is needed).
    """
    device = torch.device(device) if device is not None else default_device()
    sampler = PKSampler([r.pid for r in records], p, k, seed=seed, rank=rank, world_size=world_size)

    def store() -> ImageStore:
        return ImageStore.from_records(records, model.input_size, device, progress=progress)

    batches = TrainBatches(store, sampler, Augmentation(erase=erase), device, seed=seed, rank=rank, prefetch=num_workers)
    for prm in model.glrec.parameters():
        prm.requires_grad_(loss_cfg.train_glrec)
    params = [prm for prm in model.parameters() if prm.requires_grad]
    opt = adam(params, lr, weight_decay)

    def lr_at(e: int) -> float:
        if e < warmup_epochs:
            return (e + 1) / (warmup_epochs + 1)
        span = max(epochs - warmup_epochs, 1)
        return 0.5 * (1 + math.cos(math.pi * (e - warmup_epochs) / span)) * 0.99 + 0.01

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    objective = PPCLObjective(model, loss_cfg)
    net = objective
    if ddp:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(objective, find_unused_parameters=True)
    return fit(net, ppcl_step(net), batches, opt, epochs, checkpoint, sched, device, seed=seed,
               on_epoch_end=on_epoch_end, desc="PPCL", progress=progress)

"""Algorithm 1: one PPCL training step, Eqs. 2-6 and 10-12.

For a PK batch X of holistic images (labels for L_F), :meth:`PPCLObjective.forward` reads as the
paper's Algorithm 1:

1. line 5: each x gets a partial view x^p with known region t (:mod:`ppcl.draws`: every random
   number of the step, drawn on the host, reaches the device in one copy);
2. line 6 (Eq. 2): x^r = T(G(R(x^p))) with the pretrained GLRec;
3. line 7 (Eqs. 3, 10): one pass of F over [x^r; x] gives h_x^r and h_x; Y = shuffle(X), so
   h_y = h_x[perm] is a permutation, not a third pass;
4. the anchor a is h_x^r cut at GLRec's layout box (the query region of x^r);
5. Eq. 4: h_{x->y} = L(a, h_y); Eq. 5: h_{y->x} = L(h_{x->y}, h_x);
6. PP-Cycle (Eq. 11): the box of h_{y->x} against t, the region x^p came from;
7. PP-Triplet (Eq. 12): anchor a, positive h_{x->y}, negative h_{y*} drawn inside h_y with IoU
   and containment below beta;
8. Eq. 6: L = L_F + lam_cyc L_cyc + lam_tri L_tri (+ L_R when GLRec trains).

Every feature the losses compare is pooled by the backbone's own ``pool`` (GAP for the re-ID
backbone, the GDC descriptor for the face backbone), so the same step trains persons and faces (§5).
Nothing in a step waits for the device: no ``.item()``, no boolean indexing, no loop that counts
(tests/test_step_sync.py runs every variant where any of these raises); boxes, regions and the
sampling grids stay float32 under autocast.

**Where the paper is silent.** L_F is "determined by the specific task"; the kit applies it to the
holistic images *and* to their partial views (the anchor region of x^r, pooled) with the batch's
labels, so F learns to describe a rectified partial image in the same space as a holistic one. The
baselines get the same budget through ``partial_input``: ``"rectify"`` (the partial views are
GLRec's x^r: the +R recipe, and PPCL's), ``"resize"`` (the crops resized to the full input: the
Resize recipe; Pad is evaluated on the same F) and ``None`` (holistic images only: the plain re-ID
step, the paper's Resize baseline as it reads). ``lam_cyc = 0`` or ``lam_tri = 0`` gives the
single-constraint ablations of Table 1a; both zero trains no CRLoc.

**The kit's options** (:mod:`ppcl.options`, each off in the ``paper`` profile) are named pieces the
step calls at fixed places: line 5's view, what the constraints see, PP-Triplet's inputs, and what
the kit adds after Eq. 12 (located and known regions into L_F, L_loc). Adding one never touches
the paper's path.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from . import options
from .data.datasets import ImageStore, TrainBatches
from .data.framing import frame
from .data.partial import SIDES
from .data.samplers import PKSampler
from .data.transforms import Augmentation
from .draws import StepDraws, draw_step
from .geometry import box_to_t, crop, grid_points, identity_t, t_to_box
from .losses import batch_hard_triplet, cross_entropy, glrec_loss, pp_cycle, pp_triplet, sample_negative_boxes
from .models.ppcl import PPCL
from .train import adam, default_device, fit


@dataclass(frozen=True)
class PPCLLossConfig:
    """The weights and settings of Eq. 6, then the kit's own options (:mod:`ppcl.options`), each off
    here as in the paper."""

    lam_cyc: float = 10.0
    lam_tri: float = 1.0
    beta: float = 0.5  # PP-Triplet's negatives: IoU and containment with the positive below beta
    alpha: float = 0.3  # PP-Triplet's margin (the paper does not give it)
    triplet_margin: float = 0.3  # L_F's batch-hard margin
    label_smoothing: float = 0.0
    area: tuple[float, float] = (0.3, 0.8)  # line 5: the partial view's visible-area ratio
    sides: tuple[str, ...] = SIDES
    grid: int = 20  # PP-Cycle's grid points per axis (Rocco et al.)
    train_glrec: bool = False  # L_R in Eq. 6 (GLRec fixed by default)
    partial_input: str | None = "rectify"  # "rectify" | "resize" | None: PPCL and +R, the Resize baseline, holistic only
    # The kit's options (ppcl.options):
    triplet_trains_F: bool = True  # False: PP-Triplet's gradient reaches only CRLoc's boxes
    region_id: bool = False  # L_F also sees the regions CRLoc locates
    crloc_trains_F: bool = True  # False: PP-Cycle and PP-Triplet train CRLoc only
    negatives: str = "log-uniform"  # PP-Triplet's negative boxes: "log-uniform" in scale, or "same-size"
    known_pairs: bool = False  # the partial view and the holistic image are two framings of one image
    lam_loc: float = 0.0  # weight of L_loc, CRLoc's box on a known pair against the known region
    known_region_id: bool = False  # L_F also on the known corresponding region of the holistic image
    view_width: tuple[float, float] = (1.0, 1.0)  # the view cut from the image narrowed to U(view_width) of its width


class PPCLObjective(nn.Module):
    """Algorithm 1's loss (Eq. 6) for one batch, as a module so that DistributedDataParallel can
    wrap the whole of it."""

    def __init__(self, model: PPCL, loss_cfg: PPCLLossConfig = PPCLLossConfig()):
        super().__init__()
        cfg = loss_cfg
        if cfg.partial_input not in ("rectify", "resize", None):
            raise ValueError(f"partial_input must be 'rectify', 'resize' or None; got {cfg.partial_input!r}")
        if (cfg.lam_cyc > 0 or cfg.lam_tri > 0) and cfg.partial_input != "rectify":
            raise ValueError(f"CRLoc's constraints need partial_input='rectify'; got {cfg.partial_input!r}")
        self.model, self.loss_cfg = model, cfg
        self.register_buffer("points", grid_points(cfg.grid), persistent=False)
        self.view = options.view_for(cfg)  # line 5: the paper's crop, or the kit's view
        self.constraint_features = options.constraint_features(cfg)
        self.triplet_inputs = options.triplet_inputs(cfg)
        self.extras = options.extras(cfg)  # what the kit adds after Eq. 12 (nothing in the paper's)
        self.weights = {"L_R": 1.0, "L_F_ce": 1.0, "L_F_tri": 1.0, "L_cyc": cfg.lam_cyc, "L_tri": cfg.lam_tri,
                        "L_loc": cfg.lam_loc}

    def arch(self) -> dict:
        return self.model.arch()

    def state_dict(self, *args, **kwargs):  # checkpoints hold the PPCL model itself
        return self.model.state_dict(*args, **kwargs)

    def load_state_dict(self, state, strict: bool = True):
        return self.model.load_state_dict(state, strict)

    def forward(self, x: Tensor, pids: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """Algorithm 1 on the PK batch ``x`` ``(B, 3, H, W)`` with labels ``pids`` ``(B,)``: the loss
        terms of Eq. 6 and their weighted sum ``"loss"``."""
        cfg, m = self.loss_cfg, self.model
        loc, pool = m.crloc, m.backbone.pool
        d = draw_step(len(x), generator, x.device, cfg.area, cfg.sides, self.view)  # the step's random numbers
        if cfg.partial_input is None:  # the plain re-ID step: holistic images only
            return self.objective({}, [(pool(m.backbone(x)), pids)])
        x_p, x = cut_view(x, d)  # line 5: x^p, and the holistic image L_F sees
        x_r, t_r, terms = self.rectify(x_p, d.t_src)  # line 6, Eq. 2: x^r = T(G(R(x^p)))
        h_r, h_x = m.backbone(torch.cat([x_r, x])).chunk(2)  # line 7, Eqs. 3 and 10: one pass of F over [x^r; x]
        s = options.Step(pids, d, loc.cut(h_r, t_r), h_x, inside_map(d.t_known, loc.cfg.min_scale))
        emb = [(pool(s.anchor), pids), (pool(h_x), pids)]  # L_F's inputs: the partial views' regions, the images
        if cfg.lam_cyc > 0 or cfg.lam_tri > 0:
            s.a_c, s.h_x_c = self.constraint_features(s.anchor, h_x)
            h_y = s.h_x_c[d.perm]  # Y = shuffle(X): F(Y) is F(X) shuffled
            s.box_xy = loc(s.a_c, h_y)[0]  # Eq. 4: h_{x->y}
            pos = loc.cut(h_y, s.box_xy)
            if cfg.lam_cyc > 0:
                terms["L_cyc"] = pp_cycle(loc(pos, s.h_x_c)[0], s.t_in, self.points)  # Eq. 5, then Eq. 11
            if cfg.lam_tri > 0:
                terms["L_tri"] = self.pp_triplet(*self.triplet_inputs(loc, s.a_c, h_y, s.box_xy, pos), d)  # Eq. 12
        for extra in self.extras:  # the kit's options (ppcl.options)
            extra(self, s, terms, emb)
        return self.objective(terms, emb)  # Eq. 6

    def rectify(self, x_p: Tensor, t_src: Tensor) -> tuple[Tensor, Tensor, dict]:
        """Line 6: ``(x^r, its layout box t, {"L_R"} when GLRec trains)``; the Resize baseline's view as is."""
        if self.loss_cfg.partial_input == "resize":
            return x_p, identity_t(len(x_p), device=x_p.device), {}
        glrec, terms = self.model.glrec, {}
        if self.loss_cfg.train_glrec:
            glrec.train()
            t_pred, logit = glrec(x_p)
            terms["L_R"] = glrec_loss(t_pred, logit, t_src, torch.ones(len(x_p), device=x_p.device))["loss"]
        glrec.eval()
        r = glrec.rectify(x_p, out_size=self.model.input_size)
        return r["x_r"], r["t"], terms

    def pp_triplet(self, a: Tensor, h_y: Tensor, box: Tensor, pos: Tensor, d: StepDraws) -> Tensor:
        """Eq. 12: the anchor region, the located region of y, and a region of y overlapping it less
        than beta (rows with no such region are left out)."""
        loc, pool, cfg = self.model.crloc, self.model.backbone.pool, self.loss_cfg
        neg_box, ok = sample_negative_boxes(box, d.neg, cfg.beta, loc.cfg.min_scale, same_size=cfg.negatives == "same-size")
        return pp_triplet(pool(a), pool(pos), pool(loc.cut(h_y, neg_box)), cfg.alpha, ok)

    def objective(self, terms: dict[str, Tensor], emb: list[tuple[Tensor, Tensor]]) -> dict[str, Tensor]:
        """L_F (softmax cross-entropy and batch-hard triplet) over ``emb``'s pooled features and labels,
        then Eq. 6: ``"loss"`` the weighted sum of every term."""
        cfg, g, labels = self.loss_cfg, torch.cat([e for e, _ in emb]), torch.cat([y for _, y in emb])
        terms["L_F_ce"] = cross_entropy(self.model.backbone.logits(g), labels, cfg.label_smoothing)
        terms["L_F_tri"] = batch_hard_triplet(g, labels, cfg.triplet_margin)
        terms["loss"] = sum(self.weights[k] * v for k, v in terms.items())
        return terms


def cut_view(x: Tensor, d: StepDraws) -> tuple[Tensor, Tensor]:
    """Line 5 on the device: ``(x^p, the holistic image L_F sees)`` ``(B, C, H, W)`` each: region ``d.src``
    of ``x`` resampled to its size (mirrored where ``d.src_flip``), and ``x`` (or its framing ``d.frame``
    with the kit's known pairs)."""
    out = crop(x, d.src, tuple(x.shape[-2:]))
    x_p = torch.where(d.src_flip.view(-1, 1, 1, 1), out.flip(-1), out)
    return x_p, frame(x, d.frame, d.frame_flip) if d.framed else x


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
    the checkpoint is complete), or, for a set whose decoded size exceeds a share of the host's
    available memory, kept as their files' bytes and decoded per batch
    (:class:`ppcl.data.stores.EncodedStore`: the same batches, pixels a grey level or two apart);
    each batch is flipped, padded and cropped, normalised and erased on the device
    (:func:`ppcl.data.transforms.augment`); ``num_workers`` batches are prepared ahead in a
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

"""PPCL training beyond one process: ``torchrun --nproc_per_node N -m ppcl.pipeline.distributed ...``.

    torchrun --nproc_per_node 4 -m ppcl.pipeline.distributed --profile paper --data-root DATA \\
        --glrec runs/paper/checkpoints/glrec-s0.pt --variant ppcl --seed 0 --out ppcl.pt [--set ppcl.epochs=120 ...]

The networks, the loss and the recipe come from the profile (``--set`` overrides it, validated
against the schema exactly as in a batch run); ``--variant`` picks one of
:data:`ppcl.pipeline.training.VARIANTS` (λ_cyc, λ_tri from the profile). Each process trains Algorithm 1 on
its share of the PK batches (the distributed PK sampler) with F and L wrapped in
DistributedDataParallel; rank 0 writes the checkpoint (resumed if it exists). The backend is NCCL
on GPUs and gloo on the CPU, so the same command is tested here with 2 CPU processes.
"""
from __future__ import annotations

import argparse
import os

import torch
import torch.distributed as dist

from ..algorithm import train_ppcl
from ..config import to_dict
from ..data.readers import load
from ..io import load_checkpoint
from ..models import build_ppcl
from .profiles import PROFILE_NAMES, load_profile
from .training import VARIANTS, variant_loss
from .reproduce import parse_overrides
from ..train import set_seed


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="paper", choices=PROFILE_NAMES)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--data-root", required=True, help="a Market-1501-layout dataset (real or synthetic) or its parent")
    ap.add_argument("--glrec", help="GLRec checkpoint from notebook 02 (default: identity-initialised)")
    ap.add_argument("--variant", default="ppcl", choices=sorted(VARIANTS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="checkpoint path (resumed if it exists)")
    args = ap.parse_args(argv)
    try:
        profile = load_profile(args.profile, parse_overrides(args.overrides))
    except ValueError as e:
        ap.error(str(e))
    recipe = profile.ppcl

    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    set_seed(args.seed)  # same initial weights on every rank (DDP also broadcasts rank 0's)
    data = load("market1501", args.data_root)
    backbone = {**to_dict(recipe.backbone), "num_classes": data.num_train_pids}
    model = build_ppcl(to_dict(profile.glrec.model), backbone, to_dict(recipe.crloc))
    if args.glrec:
        load_checkpoint(args.glrec, model.glrec)
    loss_cfg = variant_loss(recipe, args.variant, (recipe.lam_cyc, recipe.lam_tri))
    train_ppcl(model, data.train, recipe.epochs, args.out, p=recipe.p, k=recipe.k, lr=recipe.lr,
               weight_decay=recipe.weight_decay, warmup_epochs=recipe.warmup_epochs, loss_cfg=loss_cfg, seed=args.seed,
               erase=recipe.erase, num_workers=recipe.workers, device=device, rank=rank, world_size=world, ddp=world > 1, progress=rank == 0)
    checksum = sum(float(p.detach().double().sum()) for p in model.parameters())
    print(f"rank {rank}/{world} finished: parameter checksum {checksum:.10e}", flush=True)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

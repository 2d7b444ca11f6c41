"""PPCL training beyond one process: ``torchrun --nproc_per_node N -m ppcl.distributed ...``.

Each process trains Algorithm 1 on its share of the PK batches (the distributed PK sampler)
with F and L wrapped in DistributedDataParallel; rank 0 writes the checkpoint. The backend
is NCCL on GPUs and gloo on the CPU, so the same command is tested here with 2 CPU processes.
"""
from __future__ import annotations

import argparse
import json
import os

import torch
import torch.distributed as dist

from .algorithm import PPCLLossConfig, train_ppcl
from .data.readers import load
from .models import build_ppcl
from .io import load_checkpoint
from .train import set_seed


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-root", required=True, help="a Market-1501-layout dataset (real or synthetic)")
    ap.add_argument("--config", required=True, help="JSON with 'glrec', 'backbone', 'crloc' model configs")
    ap.add_argument("--glrec", help="GLRec checkpoint from notebook 02 (default: identity-initialised)")
    ap.add_argument("--out", required=True, help="checkpoint path (resumed if it exists)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--ids-per-batch", type=int, default=16, help="P of PK sampling")
    ap.add_argument("--images-per-id", type=int, default=4, help="K of PK sampling")
    ap.add_argument("--lr", type=float, default=3.5e-4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    set_seed(args.seed)  # same initial weights on every rank (DDP also broadcasts rank 0's)
    cfg = json.loads(open(args.config).read())
    data = load("market1501", args.data_root)
    cfg["backbone"]["num_classes"] = data.num_train_pids
    model = build_ppcl(cfg["glrec"], cfg["backbone"], cfg["crloc"])
    if args.glrec:
        load_checkpoint(args.glrec, model.glrec)
    loss_cfg = PPCLLossConfig(**cfg.get("loss", {}))
    train_ppcl(model, data.train, args.epochs, args.out, p=args.ids_per_batch, k=args.images_per_id, lr=args.lr, loss_cfg=loss_cfg,
               seed=args.seed, device=device, rank=rank, world_size=world, ddp=world > 1, progress=rank == 0)
    checksum = sum(float(p.detach().double().sum()) for p in model.parameters())
    print(f"rank {rank}/{world} finished: parameter checksum {checksum:.10e}", flush=True)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

"""Algorithm 1 under torchrun: 2 CPU processes with the gloo backend stay in lockstep."""
import os
import re
import subprocess
import sys

import pytest
import torch

from ppcl.data.synthetic import SMOKE, generate
from ppcl.io import load_checkpoint
from ppcl.models import build_ppcl

CONFIG = {
    "glrec": {"depth": "resnet10", "width": 8, "input_size": [32, 16]},
    "backbone": {"depth": "resnet10", "width": 8, "input_size": [32, 16], "last_stride": 1, "third_stride": 1},
    "crloc": {"patch_size": [4, 2], "channels": [8, 8, 8]},
}
SETS = ['glrec.model={depth="resnet10", width=8, input_size=[32, 16]}',
        'ppcl.backbone={depth="resnet10", width=8, input_size=[32, 16], last_stride=1, third_stride=1}',
        'ppcl.crloc={patch_size=[4, 2], channels=[8, 8, 8]}', "ppcl.epochs=1", "ppcl.p=3", "ppcl.k=2", "ppcl.imagenet=false"]


@pytest.mark.slow
def test_two_gloo_processes_train_identical_replicas(tmp_path):
    root = generate(tmp_path / "data", SMOKE, progress=False)
    ckpt = tmp_path / "ppcl.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "ppcl.pipeline.distributed", "--profile", "paper", "--data-root", str(root), "--out", str(ckpt)]
    for s in SETS:
        cmd += ["--set", s]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    sums = dict(re.findall(r"rank (\d)/2 finished: parameter checksum (\S+)", run.stdout))
    assert set(sums) == {"0", "1"}, run.stdout
    assert sums["0"] == sums["1"]  # gradients were all-reduced: the replicas never diverged
    ck = torch.load(ckpt, weights_only=True)
    assert ck["epoch"] == 0 and len(ck["history"]["steps"]) >= 1
    steps = len(ck["history"]["steps"])
    # Each process took half of the PK batches a single process would have taken.
    from ppcl.data.readers import load
    from ppcl.data.samplers import PKSampler

    pids = [r.pid for r in load("market1501", root).train]
    assert steps == len(PKSampler(pids, 3, 2, world_size=2))
    m = build_ppcl(CONFIG["glrec"], {**CONFIG["backbone"], "num_classes": len(set(pids))}, CONFIG["crloc"])
    load_checkpoint(ckpt, m)

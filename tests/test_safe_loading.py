"""Checkpoints load without running anyone's code (weights_only), and a crafted file is refused
by every loader the kit has, before anything in it is executed."""
from __future__ import annotations

import os

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ppcl.io import load_checkpoint, read_checkpoint, save_checkpoint
from ppcl.models import GLRec, GLRecConfig, ppcl_from_checkpoint

TINY = GLRecConfig(depth="resnet10", width=8, input_size=(32, 16))


class _Payload:
    """Unpickling this object writes a marker file: the attack a shared checkpoint could carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _crafted(tmp_path: Path, shape_of: dict) -> tuple[Path, Path]:
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pt"
    torch.save({**shape_of, "payload": _Payload(marker)}, path)
    assert not marker.exists()
    return path, marker


def _glrec_ckpt(tmp_path: Path) -> dict:
    m = GLRec(TINY)
    return {"arch": m.arch(), "model": m.state_dict(), "epoch": 0, "history": {"steps": [], "epochs": []}}


def test_kit_checkpoints_round_trip_without_pickle(tmp_path):
    ck = {**_glrec_ckpt(tmp_path), "rng": torch.get_rng_state(), "val_rank1": 0.5}
    save_checkpoint(ck, tmp_path / "g.pt")
    torch.load(tmp_path / "g.pt", weights_only=True)  # plain torch agrees
    other = GLRec(TINY)
    load_checkpoint(tmp_path / "g.pt", other)
    for a, b in zip(ck["model"].values(), other.state_dict().values()):
        assert torch.equal(a, b)


def test_old_format_checkpoint_still_loads(tmp_path):
    """Checkpoints written before this change (plain torch.save of the same dict, tuples in the
    arch, a history of floats) need no pickle and still load."""
    m = GLRec(TINY)
    old = {"arch": {"model": "GLRec", "depth": "resnet10", "width": 8, "input_size": (32, 16), "min_scale": 0.05},
           "model": m.state_dict(), "optimizer": torch.optim.Adam(m.parameters()).state_dict(), "scheduler": None,
           "scaler": None, "epoch": 3, "history": {"steps": [{"epoch": 0, "step": 0, "loss": 1.5}], "epochs": []}}
    torch.save(old, tmp_path / "old.pt")
    assert GLRec.from_checkpoint(tmp_path / "old.pt").cfg == TINY


@pytest.mark.parametrize("loader", ["read_checkpoint", "load_checkpoint", "glrec_from_checkpoint", "ppcl_from_checkpoint",
                                    "training_resume", "validation_best", "benchmark"])
def test_crafted_checkpoint_is_refused_and_never_executed(tmp_path, loader):
    path, marker = _crafted(tmp_path, _glrec_ckpt(tmp_path))
    with pytest.raises(ValueError, match=r"(evil|ppcl-s0)\.pt.*needs pickle"):
        if loader == "read_checkpoint":
            read_checkpoint(path)
        elif loader == "load_checkpoint":
            load_checkpoint(path, GLRec(TINY))
        elif loader == "glrec_from_checkpoint":
            GLRec.from_checkpoint(path)
        elif loader == "ppcl_from_checkpoint":  # the evaluation and viewer paths open runs this way
            ppcl_from_checkpoint(path)
        elif loader == "training_resume":
            from ppcl.train import fit

            model = GLRec(TINY)
            fit(model, lambda b, c: {"loss": model(b)[0].sum()}, [], torch.optim.SGD(model.parameters(), 0.1), 1,
                checkpoint=path, progress=False)
        elif loader == "validation_best":
            from ppcl.pipeline.training import validation_callback

            validation_callback(None, {}, "+R", best_path=path)
        elif loader == "benchmark":
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
            try:
                import run as bench
            finally:
                sys.path.pop(0)
            (tmp_path / "run" / "checkpoints").mkdir(parents=True)
            path.rename(tmp_path / "run" / "checkpoints" / "ppcl-s0.pt")
            bench.trained_model(tmp_path / "run", 0)
    assert not marker.exists(), "unpickling ran the payload"


def test_benchmark_cli_refuses_crafted_checkpoint(tmp_path):
    """The same through the benchmark's command line, in a fresh process."""
    path, marker = _crafted(tmp_path, _glrec_ckpt(tmp_path))
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-m", "ppcl.io", "check", str(path)], cwd=root, capture_output=True, text=True)
    assert r.returncode != 0 and "needs pickle" in r.stderr
    assert not marker.exists()


def test_not_a_checkpoint_is_refused(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="junk.pt: expected a ppcl checkpoint .*found a file of another format"):
        read_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "dict.pt")
    with pytest.raises(ValueError, match=r"dict.pt: expected a ppcl checkpoint dict with keys \['arch', 'model'\]; found \['weights'\]"):
        read_checkpoint(tmp_path / "dict.pt")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        read_checkpoint(tmp_path / "missing.pt")


def test_trusted_old_pickle_checkpoint_converts(tmp_path):
    """A trusted file that needs pickle (here: numpy values in its history) converts once, then loads."""
    import numpy as np

    ck = {**_glrec_ckpt(tmp_path), "history": {"steps": [{"loss": np.float64(1.25)}], "epochs": []}}
    torch.save(ck, tmp_path / "np.pt")
    with pytest.raises(ValueError, match="needs pickle.*python -m ppcl.io convert"):
        read_checkpoint(tmp_path / "np.pt")
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "ppcl.io", "convert", str(tmp_path / "np.pt"), str(tmp_path / "ok.pt")],
                   cwd=root, check=True, capture_output=True)
    assert read_checkpoint(tmp_path / "ok.pt")["history"]["steps"][0]["loss"] == 1.25


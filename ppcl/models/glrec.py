"""GLRec, the gated layout rectifier: R + G + T (§3.1).

* **R** — a ResNet trunk and one linear layer: ``[t; eta] = R(x^p)``, four transform numbers
  ``t = (sx, sy, tx, ty)`` (see :mod:`ppcl.geometry`) and a gate logit. The linear layer
  starts at zero weight and identity bias, so an untrained R says "holistic, whole canvas".
* **G** — the gate: ``sigmoid(logit) >= threshold`` means partial. The paper's threshold is 0.5;
  :meth:`GLRec.choose_threshold` picks it on validation crops instead (the kit's synthetic
  profile), and the model keeps it (a buffer, saved with its weights) for every later rectify.
* **T** — :func:`ppcl.geometry.paste` with the predicted t: the partial image is placed
  where R says it belongs on an empty holistic canvas. A holistic verdict passes the image
  through (resized to the canvas), which is ``paste`` with the identity t.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..geometry import IDENTITY_T, full_precision, identity_t, paste
from ..io import load_checkpoint, read_checkpoint
from .resnet import ResNetTrunk, load_imagenet_weights


GATE_GRID = tuple(i / 20 for i in range(2, 19))  # the thresholds G's is chosen among: 0.10, 0.15, ..., 0.90


@dataclass(frozen=True)
class GLRecConfig:
    depth: str = "resnet18"
    width: int = 64
    input_size: tuple[int, int] = (256, 128)
    min_scale: float = 0.05


class GLRec(nn.Module):
    def __init__(self, cfg: GLRecConfig = GLRecConfig(), imagenet: bool = False, weights: str | None = None):
        super().__init__()
        self.cfg = cfg
        self.trunk = ResNetTrunk(cfg.depth, cfg.width, last_stride=2)
        if imagenet:
            load_imagenet_weights(self.trunk, cfg.depth, weights)
        self.head = nn.Linear(self.trunk.out_channels, 5)
        self.register_buffer("threshold", torch.tensor(0.5))  # G's threshold (the paper's 0.5 until chosen)
        nn.init.zeros_(self.head.weight)
        with torch.no_grad():
            self.head.bias.copy_(torch.tensor([*IDENTITY_T, 0.0]))

    @classmethod
    def from_checkpoint(cls, path) -> "GLRec":
        """The GLRec a checkpoint was saved from (notebook 02's ``glrec.pt``), weights loaded."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: expected GLRec's checkpoint (run notebook 02 first); found no such file")
        arch = read_checkpoint(path)["arch"]
        if arch.get("model") != "GLRec":
            raise ValueError(f"{path}: expected a GLRec checkpoint; found one of {arch.get('model')!r}")
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in arch.items() if k != "model"}
        model = cls(GLRecConfig(**fields))
        load_checkpoint(path, model)
        return model.eval()

    def arch(self) -> dict:
        """What a checkpoint must match to be loaded into this model."""
        return {"model": "GLRec", **asdict(self.cfg)}

    def forward(self, x_p: Tensor) -> tuple[Tensor, Tensor]:
        """R: partial images (any size; resized to the input size) -> ``(t (B, 4), gate logit (B,))``."""
        if tuple(x_p.shape[-2:]) != tuple(self.cfg.input_size):
            x_p = F.interpolate(x_p, size=self.cfg.input_size, mode="bilinear", align_corners=False)
        feat = self.trunk(x_p).mean(dim=(2, 3))
        with full_precision(feat.device):  # t is geometry: float32 under autocast
            out = self.head(feat.float())
        return out[:, :4], out[:, 4]

    def clamp_t(self, t: Tensor) -> Tensor:
        """A valid layout: scales in ``[min_scale, 1]`` (a degenerate t would blow T up) and the
        box inside the canvas (centre within ``[s - 1, 1 - s]``), as every true crop is."""
        s = t[:, :2].clamp(self.cfg.min_scale, 1.0)
        return torch.cat([s, torch.clamp(t[:, 2:], min=s - 1, max=1 - s)], dim=1)

    @torch.no_grad()
    def gate_table(self, x_p: Tensor, is_partial: Tensor, grid: tuple[float, ...] = GATE_GRID,
                   batch_size: int = 256) -> list[dict]:
        """G at every threshold of ``grid`` on inputs ``x_p`` with labels ``is_partial`` ``(N,)``:
        ``{"threshold", "balanced_accuracy", "partial_called_holistic", "holistic_called_partial"}``
        (the balanced accuracy is the mean of the accuracies on cropped and on holistic images)."""
        part = is_partial.bool()
        if not part.any() or part.all():
            raise ValueError("the gate's threshold needs both cropped and holistic validation images")
        self.eval()
        dev = self.threshold.device  # the images go to the model, in batches; the scores come back
        eta = torch.cat([torch.sigmoid(self(x_p[i : i + batch_size].to(dev))[1]).cpu() for i in range(0, len(x_p), batch_size)])
        rows = []
        for th in grid:
            called = eta >= th
            miss, false = float((~called[part]).float().mean()), float(called[~part].float().mean())
            rows.append({"threshold": th, "balanced_accuracy": 1 - (miss + false) / 2, "partial_called_holistic": miss,
                         "holistic_called_partial": false})
        return rows

    @torch.no_grad()
    def choose_threshold(self, x_p: Tensor, is_partial: Tensor, grid: tuple[float, ...] = GATE_GRID,
                         batch_size: int = 256) -> list[dict]:
        """Set G's threshold to the value of ``grid`` with the best balanced accuracy on validation
        inputs (:meth:`gate_table`; ties: the value nearest the paper's 0.5); returns the table."""
        rows = self.gate_table(x_p, is_partial, grid, batch_size)
        best = max(rows, key=lambda r: (round(r["balanced_accuracy"], 9), -abs(r["threshold"] - 0.5)))
        self.threshold.fill_(best["threshold"])
        return rows

    @torch.no_grad()
    def rectify(
        self, x_p: Tensor, out_size: tuple[int, int], threshold: float | None = None, gate: bool = True
    ) -> dict[str, Tensor]:
        """Inference: G then T. Returns ``x_r``, the t used, R's clamped t (``t_hat``), gate score
        eta, and the verdict.

        ``threshold`` defaults to the model's own (0.5, or the one :meth:`choose_threshold` set).
        Promise (tests/test_invariants_boxes.py): every ``t`` and ``t_hat`` lies inside the canvas
        with scales in ``[min_scale, 1]``; ``t`` is exactly the identity where ``eta < threshold``
        (holistic) and ``t_hat`` elsewhere; ``x_r = paste(x_p, t)``. ``gate=False`` rectifies every
        image (the gate always says partial).
        """
        t_hat, logit = self(x_p)
        t_hat = self.clamp_t(t_hat)
        eta = torch.sigmoid(logit)
        th = self.threshold if threshold is None else threshold  # a tensor on the model's device: nothing waits for it
        partial = eta >= th if gate else torch.ones_like(eta, dtype=torch.bool)
        ident = identity_t(len(t_hat), device=t_hat.device, dtype=t_hat.dtype)
        t_used = torch.where(partial[:, None], t_hat, ident)
        x_r = paste(x_p, t_used, size=out_size)
        return {"x_r": x_r, "t": t_used, "t_hat": t_hat, "eta": eta, "partial": partial}

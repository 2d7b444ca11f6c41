"""CRLoc, the corresponding region locator: L = L_l o L_f (Eqs. 7-9).

* **L_f** (Eq. 8): the softmax correlation. For each position u of the query patch, a
  distribution over the positions v of the reference map:
  ``softmax_v(h_x(u) . h_y(v))``. Features are L2-normalised per position and the dot
  products multiplied by a learned temperature (initially 10) — the kit's reading of "the
  simplest" correlation, which keeps the softmax from saturating on raw ResNet activations.
* **L_l**: 3 conv layers over the correlation (channels = query positions, spatial = the
  reference map; 3x3, padded, so a 16x8 map fits) and 1 FC after average pooling, giving a
  box in the reference map in the t convention of :mod:`ppcl.geometry`, scale
  ``s = min_scale + (1 - min_scale) * sigmoid(a)``. Its centre (the kit's reading, see below):

  - ``locator="centroid"`` (default): the correlation's centroid (where the query patch's
    positions find their matches, on average) plus the FC's offset ``b``, clamped so the box
    lies inside the map;
  - ``locator="free"``: ``tanh(b) * (1 - s)``, the FC alone;
  - ``locator="fit"``: the box that best maps the query patch onto its matches. Each query cell
    u sits at a known place p_u of the patch and matches, on average, at m_u (its soft-argmax in
    the reference); the least-squares fit of ``m_u = c + s * p_u`` per axis gives the centre c
    (the centroid again) and the scale s from the correspondence itself; the FC adds an
    offset to c and a correction to s in logit space (zero at initialisation).

  Why: PP-Cycle only asks that forward then backward return to the start, and any mapping that
  is its own inverse satisfies that, a mirror included (top of x -> bottom of y -> top of x).
  On the synthetic data free locators learned that mirror in 4 of 6 exploratory runs (their
  boxes' centres anti-correlated with the true region, -0.55 to -0.84); anchoring the box at
  where the correlation points removes the symmetry without adding any supervision.

The query is always a fixed-size patch (``patch_size``), cut from a feature map with
:func:`ppcl.geometry.crop` (differentiable in the box, unlike ``roi_align``).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

from ..geometry import crop, full_precision


@dataclass(frozen=True)
class CRLocConfig:
    patch_size: tuple[int, int] = (8, 4)
    channels: tuple[int, int, int] = (64, 32, 16)
    min_scale: float = 0.1
    init_scale: float = 0.5
    temperature: float = 10.0
    locator: str = "centroid"  # "centroid" | "free" | "fit" (see the module docstring)


def correlation(query: Tensor, ref: Tensor, scale: Tensor | float = 1.0) -> Tensor:
    """L_f of Eq. 8: ``(B, C, hq, wq)`` and ``(B, C, H, W)`` -> ``(B, hq*wq, H, W)``.

    Entry ``[b, u, y, x]`` is the softmax over reference positions ``v = (y, x)`` of
    ``scale * <q_u, r_v>`` with unit-norm features; it sums to 1 over ``(y, x)`` for each u.
    """
    b, c, hq, wq = query.shape
    _, _, h, w = ref.shape
    q = F.normalize(query.flatten(2), dim=1)  # (B, C, U)
    r = F.normalize(ref.flatten(2), dim=1)  # (B, C, V)
    logits = torch.einsum("bcu,bcv->buv", q, r) * scale
    return logits.softmax(dim=-1).view(b, hq * wq, h, w)


def cell_centres(n: int, device=None, dtype=torch.float32) -> Tensor:
    """The ``n`` cell centres of an axis in [-1, 1] (``align_corners=False``)."""
    return (torch.arange(n, device=device, dtype=dtype) * 2 + 1) / n - 1


def matches(corr: Tensor) -> Tensor:
    """``(N, U, H, W)`` correlation -> ``(N, U, 2)``: where each query cell matches on average
    (its soft-argmax ``(x, y)`` in the reference, [-1, 1])."""
    _, _, h, w = corr.shape
    ys, xs = cell_centres(h, corr.device, corr.dtype), cell_centres(w, corr.device, corr.dtype)
    return torch.stack([(corr.sum(2) * xs).sum(-1), (corr.sum(3) * ys).sum(-1)], dim=-1)


def fit_box(corr: Tensor, patch_size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """Least-squares ``m_u = c + s * p_u`` per axis, from the query cells' places ``p_u`` in the
    patch (row-major ``patch_size``) to their matches ``m_u``: ``(scale (N, 2), centre (N, 2))``.
    The scale can come out small or negative when the matches are diffuse or mirrored."""
    ph, pw = patch_size
    py, px = torch.meshgrid(cell_centres(ph, corr.device, corr.dtype), cell_centres(pw, corr.device, corr.dtype), indexing="ij")
    p = torch.stack([px.reshape(-1), py.reshape(-1)], dim=-1)  # (U, 2), mean zero
    m = matches(corr)  # (N, U, 2)
    c = m.mean(dim=1)
    s = ((m - c[:, None]) * p).sum(1) / (p**2).sum(0).clamp_min(1e-12)
    return s, c


def centroid(corr: Tensor) -> Tensor:
    """``(N, U, H, W)`` correlation -> ``(N, 2)`` mean matched position ``(x, y)`` in [-1, 1]
    (cell centres, ``align_corners=False``), averaged over the query positions u."""
    _, _, h, w = corr.shape
    ys = (torch.arange(h, device=corr.device, dtype=corr.dtype) * 2 + 1) / h - 1
    xs = (torch.arange(w, device=corr.device, dtype=corr.dtype) * 2 + 1) / w - 1
    mass = corr.mean(dim=1)  # (N, H, W), sums to 1
    return torch.stack([(mass.sum(1) * xs).sum(-1), (mass.sum(2) * ys).sum(-1)], dim=1)


class CRLoc(nn.Module):
    def __init__(self, cfg: CRLocConfig = CRLocConfig()):
        super().__init__()
        if cfg.locator not in ("centroid", "free", "fit"):
            raise ValueError(f"locator must be 'centroid', 'free' or 'fit'; got {cfg.locator!r}")
        self.cfg = cfg
        cin = cfg.patch_size[0] * cfg.patch_size[1]
        layers: list[nn.Module] = []
        for cout in cfg.channels:
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, 4)
        self.log_temperature = nn.Parameter(torch.tensor(math.log(cfg.temperature)))
        nn.init.normal_(self.fc.weight, std=0.01)
        s0 = (cfg.init_scale - cfg.min_scale) / (1 - cfg.min_scale)
        with torch.no_grad():
            self.fc.bias.copy_(torch.tensor([math.log(s0 / (1 - s0))] * 2 + [0.0, 0.0]))

    def arch(self) -> dict:
        return {"model": "CRLoc", **asdict(self.cfg)}

    def features(self, corr: Tensor) -> Tensor:
        """The 3 conv layers over the correlation, average-pooled: ``(N, U, H, W)`` -> ``(N, C3)``.

        In eval mode each BatchNorm is folded into its convolution (the same affine map, one pass
        fewer over memory) and the correlation is laid out channels-last, which is how the
        pairwise evaluation runs it over hundreds of thousands of pairs.
        """
        if self.training:
            return self.convs(corr).mean(dim=(2, 3))
        x = corr.contiguous(memory_format=torch.channels_last)
        layers = list(self.convs)
        for conv, bn in zip(layers[0::3], layers[1::3]):
            w, b = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
            x = F.relu(F.conv2d(x, w.contiguous(memory_format=torch.channels_last), b, padding=conv.padding))
        return x.mean(dim=(2, 3))

    def locate(self, corr: Tensor) -> Tensor:
        """L_l: correlation ``(N, U, H, W)`` -> box t ``(N, 4)`` inside the reference map (scales in
        ``[min_scale, 1]``, ``|centre| + scale <= 1``) for any correlation and FC, in every locator mode."""
        feat = self.features(corr)
        with full_precision(feat.device):  # the box is geometry: float32 under autocast
            raw = self.fc(feat.float())
            corr = corr.float()
        m = self.cfg.min_scale
        if self.cfg.locator == "fit":
            s_fit, c_fit = fit_box(corr, self.cfg.patch_size)
            frac = ((s_fit - m) / (1 - m)).clamp(1e-3, 1 - 1e-3)
            s = m + (1 - m) * torch.sigmoid(torch.logit(frac) + raw[:, :2] - self.fc.bias[:2])
            c = torch.clamp(c_fit + raw[:, 2:], min=s - 1, max=1 - s)
            return torch.cat([s, c], dim=1)
        s = m + (1 - m) * torch.sigmoid(raw[:, :2])
        if self.cfg.locator == "free":
            c = torch.tanh(raw[:, 2:]) * (1 - s)
        else:
            c = torch.clamp(centroid(corr) + raw[:, 2:], min=s - 1, max=1 - s)
        return torch.cat([s, c], dim=1)

    def forward(self, query: Tensor, ref: Tensor) -> tuple[Tensor, Tensor]:
        """L (Eq. 9): query patch ``(N, C, hq, wq)``, reference map ``(N, C, H, W)``
        -> ``(box (N, 4), correlation (N, U, H, W))``."""
        if tuple(query.shape[-2:]) != tuple(self.cfg.patch_size):
            raise ValueError(f"query patch must be {self.cfg.patch_size}; got {tuple(query.shape[-2:])}")
        corr = correlation(query, ref, self.log_temperature.exp())
        return self.locate(corr), corr

    def cut(self, h: Tensor, box: Tensor) -> Tensor:
        """The region ``box`` of maps ``h`` resampled to the patch size (differentiable)."""
        return crop(h, box, self.cfg.patch_size)

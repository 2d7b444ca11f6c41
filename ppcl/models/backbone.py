"""F, the re-ID backbone (§3.1, §4.2): a ResNet without its FC, spatial feature maps out.

Training adds a classifier over identities for the softmax cross-entropy of L_F. With
``bnneck=True`` (Luo et al.'s BNNeck, one of the "PPCL+" tricks) the triplet loss sees the
pooled feature and the classifier and test-time distances see it after a BatchNorm.
Every pooled feature in the kit, global or regional, goes through :meth:`embed`, so a
region cut out by CRLoc is compared in the same space as a whole image.

**The backbone interface** (:class:`Backbone`), shared with the face backbone
(:class:`ppcl.models.face.FaceBackbone`) so that Algorithm 1 (:mod:`ppcl.algorithm`), the
evaluation engine and validation run the same code on either:

* ``forward(x) -> maps (B, C, h, w)``;
* ``pool(maps) -> (N, D)``: re-ID GAP, faces the GDC descriptor; L_F's triplet and PP-Triplet
  compare pooled features;
* ``logits(pooled)`` (the classifier of L_F's cross-entropy) and ``embed(pooled)`` (the
  test-time descriptor: BNNeck here, the identity for faces);
* ``linear_pool``: True when ``pool`` is GAP, linear and blind to position, so the engine may
  pool a cut region through its bilinear sampling weights (:func:`ppcl.evaluate.pairwise.region_weights`)
  instead of cutting it; False sends the engine down the generic path (cut each region with
  :func:`ppcl.geometry.crop`, then ``pool``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

import torch.nn.functional as F
from torch import Tensor, nn

from .resnet import ResNetTrunk, load_imagenet_weights


@dataclass(frozen=True)
class BackboneConfig:
    depth: str = "resnet50"
    width: int = 64
    input_size: tuple[int, int] = (256, 128)
    last_stride: int = 1
    third_stride: int = 2
    num_classes: int = 751
    bnneck: bool = True


@runtime_checkable
class Backbone(Protocol):
    """What PPCL asks of F (see the module docstring); both backbones provide it."""

    linear_pool: bool

    def __call__(self, x: Tensor) -> Tensor: ...

    def pool(self, maps: Tensor) -> Tensor: ...

    def embed(self, pooled: Tensor) -> Tensor: ...

    def logits(self, pooled: Tensor) -> Tensor: ...

    def arch(self) -> dict: ...


class ReIDBackbone(nn.Module):
    linear_pool = True  # pool is GAP: a cut region's pooled feature is a fixed weighting of the map's cells

    def __init__(self, cfg: BackboneConfig = BackboneConfig(), imagenet: bool = False, weights: str | None = None):
        super().__init__()
        self.cfg = cfg
        self.trunk = ResNetTrunk(cfg.depth, cfg.width, cfg.last_stride, cfg.third_stride)
        if imagenet:
            load_imagenet_weights(self.trunk, cfg.depth, weights)
        c = self.trunk.out_channels
        self.neck = nn.BatchNorm1d(c) if cfg.bnneck else nn.Identity()
        if cfg.bnneck:
            self.neck.bias.requires_grad_(False)
        self.classifier = nn.Linear(c, cfg.num_classes, bias=not cfg.bnneck)
        nn.init.normal_(self.classifier.weight, std=0.001)

    @property
    def channels(self) -> int:
        return self.trunk.out_channels

    def arch(self) -> dict:
        return {"model": "ReIDBackbone", **asdict(self.cfg)}

    def forward(self, x: Tensor) -> Tensor:
        """Images ``(B, 3, H, W)`` -> feature maps h ``(B, C, h, w)``."""
        return self.trunk(x)

    def pool(self, maps: Tensor) -> Tensor:
        """Maps ``(N, C, h, w)`` -> pooled features ``(N, C)``: GAP."""
        return gap(maps)

    def embed(self, pooled: Tensor) -> Tensor:
        """Pooled features ``(N, C)`` -> the test-time descriptor (after BNNeck if any)."""
        return self.neck(pooled)

    def logits(self, pooled: Tensor) -> Tensor:
        """Pooled features ``(N, C)`` -> identity logits (classifier after BNNeck)."""
        return self.classifier(self.neck(pooled))


def gap(h: Tensor) -> Tensor:
    """Global average pooling ``(B, C, h, w) -> (B, C)``."""
    return h.mean(dim=(-2, -1))


def normalize(f: Tensor) -> Tensor:
    return F.normalize(f, dim=-1)

"""F for faces (§5): VGGFace with its first FC replaced by a Global Depthwise Convolution.

**Trunk**: VGG-16 (Parkhi et al.'s VGGFace is VGG-16): five blocks of 3x3 conv (+ BatchNorm,
optional) + ReLU with ``width * (1, 2, 4, 8, 8)`` channels (64-128-256-512-512 at ``width=64``)
and ``convs_per_block`` convs each ((2, 2, 3, 3, 3) is VGG-16), a 2x2 max-pool after each of
the first ``pools`` blocks (5, every block, is VGG-16). :meth:`FaceBackbone.forward` returns the
final maps ``(B, C, H / 2^pools, W / 2^pools)`` (7x7 at 224x224 with all five pools): the
spatial features CRLoc correlates, as for the re-ID backbone. ``pools=4`` drops pool5 (the
re-ID backbone's ``last_stride=1`` for VGG), giving 4x4 maps at the kit's CPU input of 64x64,
where five pools would leave 2x2 maps, too coarse for a locator.

**Head** (MobileFaceNet's, Chen et al. 2018): the GDC, a depthwise conv whose kernel is the whole
final map (``kernel = map_size``, ``groups = C``, no padding, no bias) + BatchNorm2d, giving one
value per channel from *position-specific* weights (unlike GAP, which weighs every position
alike); then a linear layer ``C -> embedding_dim`` (a 1x1 conv on the 1x1 map) + BatchNorm1d:
the descriptor (4096-d in the paper), compared in Euclidean distance. A classifier
``Linear(embedding_dim, num_classes)`` over the training identities gives the softmax
cross-entropy logits; no margin loss (the paper names none).

**Regions.** The GDC's kernel is tied to the full map size, so a region is described by
resampling its maps to the full map size first (:meth:`FaceBackbone.describe` does this for
maps of any size; :meth:`FaceBackbone.describe_region` cuts a region t with
:func:`ppcl.geometry.crop` straight to the full map size, one resampling only). The region then
fills the frame the GDC was trained on, so a region located by CRLoc and the anchor region it
corresponds to land on the same positions and weights. (GAP for regions would be
position-invariant but would put regions and whole faces in two different descriptor spaces.)
For the whole map, ``t`` = identity, the resampling is exact, so whole faces and regions share
one code path. Set CRLoc's ``patch_size`` to :attr:`FaceBackbone.map_size` for faces so a
cut patch is already at the size the GDC takes.

**The backbone interface** (:mod:`ppcl.models.backbone`, shared with the re-ID backbone, so
Algorithm 1 and the evaluation engine run unchanged on faces): :meth:`FaceBackbone.pool` takes
maps ``(N, C, h, w)`` and gives the GDC descriptor ``(N, embedding_dim)`` (maps of another size
resampled to :attr:`map_size` first; a pooled ``(N, C)`` input is refused with an error saying
so); :meth:`FaceBackbone.logits` takes that pooled descriptor; :meth:`FaceBackbone.embed` is
the identity (the descriptor is already the test-time one). ``linear_pool = False`` tells the
engine that the pooling is position-specific, so a cut region must be resampled and pooled
(the generic path), not averaged through sampling weights as GAP allows.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from ..geometry import crop

STAGE_MULTIPLIERS = (1, 2, 4, 8, 8)  # VGG channels / 64
DOWNSAMPLE = 2 ** len(STAGE_MULTIPLIERS)  # VGG-16's (all five pools)


@dataclass(frozen=True)
class FaceBackboneConfig:
    """Paper size: the defaults. A CPU size: ``width=8, input_size=(64, 64), embedding_dim=128``
    (``pools=4`` for 4x4 maps)."""

    width: int = 64
    input_size: tuple[int, int] = (224, 224)
    embedding_dim: int = 4096
    num_classes: int = 10575  # CASIA-WebFace identities
    convs_per_block: tuple[int, int, int, int, int] = (2, 2, 3, 3, 3)  # VGG-16
    batchnorm: bool = True  # VGGFace has none; BN makes training from scratch reliable
    pools: int = 5  # 2x2 max-pools, after the first `pools` blocks (5: VGG-16; 4: no pool5, maps twice as fine)

    def __post_init__(self) -> None:
        for name in ("width", "embedding_dim", "num_classes"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"FaceBackboneConfig.{name} must be a positive integer; got {v!r}")
        if not isinstance(self.pools, int) or not 0 <= self.pools <= len(STAGE_MULTIPLIERS):
            raise ValueError(f"FaceBackboneConfig.pools must be 0..{len(STAGE_MULTIPLIERS)} (5 is VGG-16); got {self.pools!r}")
        if len(self.input_size) != 2 or any(int(s) < self.downsample for s in self.input_size):
            raise ValueError(
                f"FaceBackboneConfig.input_size must be (H, W) with both >= {self.downsample} "
                f"({self.pools} 2x2 pools); got {tuple(self.input_size)}"
            )
        if len(self.convs_per_block) != len(STAGE_MULTIPLIERS) or any(int(n) < 1 for n in self.convs_per_block):
            raise ValueError(
                f"FaceBackboneConfig.convs_per_block must be {len(STAGE_MULTIPLIERS)} positive counts "
                f"(VGG-16: (2, 2, 3, 3, 3)); got {tuple(self.convs_per_block)}"
            )

    @property
    def downsample(self) -> int:
        return 2 ** self.pools

    @property
    def map_size(self) -> tuple[int, int]:
        """``(h, w)`` of the final maps: ``input_size // 2^pools`` (7x7 at 224x224 with five pools)."""
        return (int(self.input_size[0]) // self.downsample, int(self.input_size[1]) // self.downsample)

    @property
    def channels(self) -> int:
        return self.width * STAGE_MULTIPLIERS[-1]


def vgg_trunk(width: int, convs_per_block: tuple[int, ...], batchnorm: bool, pools: int = 5) -> nn.Sequential:
    """VGG conv blocks, the first ``pools`` ending in a 2x2 max-pool:
    ``(B, 3, H, W) -> (B, 8 width, H / 2^pools, W / 2^pools)``."""
    layers: list[nn.Module] = []
    cin = 3
    for i, (mult, n) in enumerate(zip(STAGE_MULTIPLIERS, convs_per_block)):
        cout = width * mult
        for _ in range(n):
            layers.append(nn.Conv2d(cin, cout, 3, padding=1, bias=not batchnorm))
            if batchnorm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.ReLU(inplace=True))
            cin = cout
        if i < pools:
            layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


class GDCHead(nn.Module):
    """MobileFaceNet's head: GDC (+BN) then linear (+BN). Maps ``(N, C, h, w)`` at exactly
    ``map_size`` -> descriptors ``(N, embedding_dim)``."""

    def __init__(self, channels: int, map_size: tuple[int, int], embedding_dim: int):
        super().__init__()
        self.map_size = tuple(map_size)
        self.gdc = nn.Conv2d(channels, channels, kernel_size=self.map_size, groups=channels, bias=False)
        self.gdc_bn = nn.BatchNorm2d(channels)
        self.linear = nn.Linear(channels, embedding_dim, bias=False)
        self.bn = nn.BatchNorm1d(embedding_dim)

    def forward(self, maps: Tensor) -> Tensor:
        if tuple(maps.shape[-2:]) != self.map_size:
            raise ValueError(f"the GDC takes maps of size {self.map_size}; got {tuple(maps.shape[-2:])}")
        g = self.gdc_bn(self.gdc(maps)).flatten(1)  # (N, C)
        return self.bn(self.linear(g))


class FaceBackbone(nn.Module):
    linear_pool = False  # the GDC weighs positions: regions are resampled and pooled, not averaged by weights

    def __init__(self, cfg: FaceBackboneConfig = FaceBackboneConfig()):
        super().__init__()
        self.cfg = cfg
        self.trunk = vgg_trunk(cfg.width, tuple(cfg.convs_per_block), cfg.batchnorm, cfg.pools)
        self.head = GDCHead(cfg.channels, cfg.map_size, cfg.embedding_dim)
        self.classifier = nn.Linear(cfg.embedding_dim, cfg.num_classes)
        for m in self.trunk.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.normal_(self.classifier.weight, std=0.001)
        nn.init.zeros_(self.classifier.bias)

    @classmethod
    def from_arch(cls, arch: Mapping) -> FaceBackbone:
        """Rebuild from :meth:`arch` (lists from JSON become tuples)."""
        if arch.get("model") != "FaceBackbone":
            raise ValueError(f"arch must describe a FaceBackbone (arch['model'] == 'FaceBackbone'); got {arch.get('model')!r}")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in arch.items() if k != "model"}
        return cls(FaceBackboneConfig(**kw))

    @property
    def channels(self) -> int:
        return self.cfg.channels

    @property
    def map_size(self) -> tuple[int, int]:
        return self.cfg.map_size

    def arch(self) -> dict:
        return {"model": "FaceBackbone", **asdict(self.cfg)}

    def forward(self, x: Tensor) -> Tensor:
        """Images ``(B, 3, H, W)`` -> feature maps h ``(B, C, *map_size)``."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"x must be an image batch (B, 3, H, W); got shape {tuple(x.shape)}")
        return self.trunk(x)

    def describe(self, maps: Tensor) -> Tensor:
        """Maps ``(N, C, h, w)`` of a whole face or a region, any ``h, w`` -> descriptors
        ``(N, embedding_dim)``; maps not at :attr:`map_size` are resampled to it (bilinear)."""
        if maps.ndim != 4:
            raise ValueError(
                f"maps must be feature maps (N, C, h, w); got shape {tuple(maps.shape)}. The GDC needs the "
                "spatial layout: pass the maps, not gap(maps)"
            )
        if maps.shape[1] != self.channels:
            raise ValueError(f"maps must have {self.channels} channels; got {maps.shape[1]}")
        if tuple(maps.shape[-2:]) != self.map_size:
            maps = F.interpolate(maps, size=self.map_size, mode="bilinear", align_corners=False)
        return self.head(maps)

    def describe_region(self, maps: Tensor, t: Tensor) -> Tensor:
        """Region t ``(N, 4)`` (:mod:`ppcl.geometry`'s convention) of maps ``(N, C, h, w)`` ->
        ``(N, embedding_dim)``: the region cut and resampled to :attr:`map_size`, then the GDC."""
        return self.head(crop(maps, t.to(maps.dtype), self.map_size))

    def pool(self, maps: Tensor) -> Tensor:
        """The backbone interface's pooling: maps ``(N, C, h, w)`` -> the GDC descriptor
        ``(N, embedding_dim)`` (:meth:`describe`)."""
        return self.describe(maps)

    def embed(self, pooled: Tensor) -> Tensor:
        """The test-time descriptor of a pooled ``(N, embedding_dim)`` one: itself (the GDC head
        already ends in BatchNorm)."""
        return pooled

    def logits(self, pooled: Tensor) -> Tensor:
        """Pooled descriptors ``(N, embedding_dim)`` -> identity logits ``(N, num_classes)``."""
        return self.classifier(pooled)

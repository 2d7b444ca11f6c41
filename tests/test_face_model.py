"""The face backbone: VGG-16 trunk, GDC head, region descriptors, the backbone interface
(pool / embed / logits), training, arch round trip."""
import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ppcl.geometry import crop, identity_t
from ppcl.io import canonical_arch
from ppcl.models.face import FaceBackbone, FaceBackboneConfig

CPU = FaceBackboneConfig(width=8, input_size=(64, 64), embedding_dim=128, num_classes=6)
PAPER = FaceBackboneConfig()  # width 64, 224x224, 4096-d


def small(seed=0, **kw) -> FaceBackbone:
    torch.manual_seed(seed)
    return FaceBackbone(FaceBackboneConfig(**{**CPU.__dict__, **kw}))


def test_cpu_size_shapes():
    m = small()
    h = m(torch.randn(4, 3, 64, 64))
    assert h.shape == (4, 64, 2, 2) and m.map_size == (2, 2) and m.channels == 64
    assert m.describe(h).shape == (4, 128)
    assert m.pool(h).shape == (4, 128) and m.logits(m.pool(h)).shape == (4, 6)


def test_four_pools_give_4x4_maps_at_64x64():
    """``pools=4`` drops pool5 (the last block keeps its resolution): 4x4 maps at the CPU input."""
    m = small(pools=4)
    h = m(torch.randn(2, 3, 64, 64))
    assert h.shape == (2, 64, 4, 4) and m.map_size == (4, 4) and m.head.gdc.kernel_size == (4, 4)
    assert sum(isinstance(x, nn.MaxPool2d) for x in m.trunk) == 4
    assert m.pool(h).shape == (2, 128)
    with pytest.raises(ValueError, match=r"pools must be 0\.\.5"):
        FaceBackboneConfig(pools=6)
    with pytest.raises(ValueError, match=r"input_size must be \(H, W\) with both >= 16 \(4 2x2 pools\)"):
        FaceBackboneConfig(input_size=(8, 64), pools=4)


def test_paper_size_shapes():
    """On the meta device (shapes only; a real 224x224 VGG-16 pass costs seconds on a CPU)."""
    with torch.device("meta"):
        m = FaceBackbone(PAPER).eval()
        h = m(torch.empty(2, 3, 224, 224))
        assert h.shape == (2, 512, 7, 7)
        assert m.describe(h).shape == (2, 4096)
        assert m.logits(m.pool(h)).shape == (2, 10575)


def test_paper_trunk_is_vgg16():
    """Without BN the trunk's parameters are exactly VGG-16's 13 convs (14,714,688 with biases)."""
    with torch.device("meta"):
        m = FaceBackbone(FaceBackboneConfig(batchnorm=False))
    convs = [c for c in m.trunk if isinstance(c, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64] * 2 + [128] * 2 + [256] * 3 + [512] * 6
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert sum(p.numel() for p in m.trunk.parameters()) == 14_714_688
    assert sum(isinstance(x, nn.MaxPool2d) for x in m.trunk) == 5
    assert not any(isinstance(x, nn.BatchNorm2d) for x in m.trunk)


@pytest.mark.parametrize(
    "cfg,map_size",
    [(PAPER, (7, 7)), (CPU, (2, 2)), (FaceBackboneConfig(width=4, input_size=(112, 96), embedding_dim=16), (3, 3)),
     (FaceBackboneConfig(width=4, input_size=(128, 64), embedding_dim=16), (4, 2))],
)
def test_gdc_is_depthwise_over_the_whole_final_map(cfg, map_size):
    with torch.device("meta"):
        m = FaceBackbone(cfg)
        h = m(torch.empty(2, 3, *cfg.input_size))
    gdc = m.head.gdc
    assert tuple(h.shape[-2:]) == map_size == m.map_size
    assert gdc.kernel_size == map_size and gdc.padding == (0, 0) and gdc.stride == (1, 1)
    assert gdc.groups == gdc.in_channels == gdc.out_channels == m.channels
    assert gdc.weight.shape == (m.channels, 1, *map_size)
    assert m.head.linear.out_features == cfg.embedding_dim


def test_gdc_weighs_positions_unlike_gap():
    """Moving a feature to another position changes the descriptor (GAP would not notice)."""
    m = small(input_size=(96, 96)).eval()
    h = torch.zeros(1, m.channels, 3, 3)
    h2 = h.clone()
    h[0, :, 0, 0], h2[0, :, 2, 1] = 1.0, 1.0
    with torch.no_grad():
        assert not torch.allclose(m.describe(h), m.describe(h2), atol=1e-4)


def test_region_descriptor_sees_its_region_only_and_the_whole_map_exactly():
    m = small(input_size=(128, 128)).eval()  # 4x4 maps
    h = torch.randn(3, m.channels, 4, 4)
    top = torch.tensor([[1.0, 0.5, 0.0, -0.5]]).expand(3, 4)  # rows 0-1, stretched over 4 rows
    with torch.no_grad():
        # the whole map: exact, so whole faces and regions share one code path
        assert torch.allclose(m.describe_region(h, identity_t(3)), m.describe(h), atol=1e-5)
        d = m.describe_region(h, top)
        below, inside = h.clone(), h.clone()
        below[:, :, 3:] = torch.randn(3, m.channels, 1, 4)  # beyond the bilinear support of rows 0-1
        inside[:, :, :1] = torch.randn(3, m.channels, 1, 4)
        assert torch.allclose(m.describe_region(below, top), d, atol=1e-5)
        assert not torch.allclose(m.describe_region(inside, top), d, atol=1e-3)
        # a patch already cut to another size (CRLoc's patch_size) is resampled to the map size
        patch = crop(h, top, (2, 2))
        want = m.head(F.interpolate(patch, size=(4, 4), mode="bilinear", align_corners=False))
        assert torch.allclose(m.describe(patch), want, atol=1e-5)


def test_the_backbone_interface():
    """pool takes maps (the GDC descriptor), embed is the identity on it, logits classify it;
    linear_pool is False (the engine must cut and pool regions, not average them by weights)."""
    m = small().eval()
    h = torch.randn(3, m.channels, 2, 2)
    with torch.no_grad():
        pooled = m.pool(h)
        assert torch.equal(pooled, m.describe(h)) and torch.equal(m.embed(pooled), pooled)
        assert torch.allclose(m.logits(pooled), m.classifier(pooled))
    assert m.linear_pool is False


def test_pooled_features_are_refused():
    m = small()
    with pytest.raises(ValueError, match=r"maps must be feature maps \(N, C, h, w\); got shape \(4, 64\).*not gap\(maps\)"):
        m.pool(torch.randn(4, 64))
    with pytest.raises(ValueError, match="maps must have 64 channels; got 32"):
        m.describe(torch.randn(4, 32, 2, 2))
    with pytest.raises(ValueError, match=r"x must be an image batch \(B, 3, H, W\)"):
        m(torch.randn(3, 64, 64))


def test_classifier_trains():
    m = small(seed=1, convs_per_block=(1, 1, 1, 1, 1)).train()  # one conv a block: fast
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(6, 3, 64, 64, generator=g), torch.arange(6)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(6):
        loss = F.cross_entropy(m.logits(m.pool(m(x))), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(torch.log(torch.tensor(6.0)).item(), abs=0.1)  # small initial logits
    assert losses[-1] < 0.5 * losses[0], losses
    assert m.head.gdc.weight.grad.abs().sum() > 0 and m.trunk[0].weight.grad.abs().sum() > 0


def test_arch_round_trip():
    m = small(seed=3, batchnorm=False, convs_per_block=(1, 1, 2, 2, 2)).eval()
    arch = json.loads(json.dumps(m.arch()))  # as a checkpoint stores it: tuples become lists
    assert arch["model"] == "FaceBackbone"
    m2 = FaceBackbone.from_arch(arch).eval()
    assert m2.cfg == m.cfg and canonical_arch(m2.arch()) == canonical_arch(m.arch())
    m2.load_state_dict(m.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(m2.pool(m2(x)), m.pool(m(x)))
    with pytest.raises(ValueError, match="arch must describe a FaceBackbone"):
        FaceBackbone.from_arch({"model": "ReIDBackbone"})


def test_bad_config_names_the_field():
    with pytest.raises(ValueError, match=r"input_size must be \(H, W\) with both >= 32.*got \(16, 64\)"):
        FaceBackboneConfig(input_size=(16, 64))
    with pytest.raises(ValueError, match=r"convs_per_block must be 5 positive counts.*got \(2, 2, 3\)"):
        FaceBackboneConfig(convs_per_block=(2, 2, 3))
    with pytest.raises(ValueError, match="embedding_dim must be a positive integer; got 0"):
        FaceBackboneConfig(embedding_dim=0)

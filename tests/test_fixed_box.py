"""The +R fixed-box control: a region of the reference cut at the anchor's own GLRec box."""
import torch
import torch.nn.functional as F

from ppcl.evaluate.engine import Encoded, distance_matrix, fixed_box_distance, region_weights
from ppcl.geometry import crop
from ppcl.models.backbone import gap
from tests.test_ppcl import tiny_ppcl


def test_region_weights_pool_exactly_what_a_cut_pools():
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        h = torch.randn(6, 5, 8, 4, generator=g)
        s = 0.1 + 0.9 * torch.rand(6, 2, generator=g)
        c = (2 * torch.rand(6, 2, generator=g) - 1) * (1 - s)
        t = torch.cat([s, c], 1)
        w = region_weights(t, (8, 4), (4, 2))
        assert torch.allclose(w.sum(1), torch.ones(6), atol=1e-5)  # a box inside the map keeps all its mass
        assert torch.allclose(torch.einsum("nv,ncv->nc", w, h.flatten(2)), gap(crop(h, t, (4, 2))), atol=1e-5)


def test_cell_and_region_weights_match_the_cut_with_boxes_past_the_border():
    """The separable weights against crop's own sampling, boxes partly outside the map included
    (border padding), on maps of several sizes and patches."""
    from ppcl.evaluate.pairwise import cell_weights

    g = torch.Generator().manual_seed(1)
    for (mh, mw), (ph, pw) in (((8, 4), (4, 2)), ((16, 8), (8, 4)), ((7, 7), (7, 7)), ((5, 3), (2, 3))):
        h = torch.randn(9, 3, mh, mw, generator=g)
        s = 0.05 + 1.2 * torch.rand(9, 2, generator=g)
        c = 2.4 * torch.rand(9, 2, generator=g) - 1.2
        t = torch.cat([s, c], 1)
        cut = crop(h, t, (ph, pw))
        wc = cell_weights(t, (mh, mw), (ph, pw))
        assert torch.allclose(torch.einsum("nuv,ncv->ncu", wc, h.flatten(2)), cut.flatten(2), atol=1e-5)
        assert torch.allclose(torch.einsum("nv,ncv->nc", region_weights(t, (mh, mw), (ph, pw)), h.flatten(2)),
                              gap(cut), atol=1e-5)


def _encoded(model, n, seed):
    g = torch.Generator().manual_seed(seed)
    maps = torch.randn(n, model.backbone.channels, 8, 4, generator=g)
    s = 0.3 + 0.7 * torch.rand(n, 2, generator=g)
    t = torch.cat([s, (2 * torch.rand(n, 2, generator=g) - 1) * (1 - s)], 1)
    patch = crop(maps, t, model.crloc.cfg.patch_size)
    return Encoded(maps, t, None, F.normalize(model.backbone.embed(gap(patch)), dim=-1))


@torch.no_grad()
def test_fixed_box_matches_a_per_pair_reference_in_both_directions():
    model = tiny_ppcl().eval()
    a, r = _encoded(model, 5, 1), _encoded(model, 7, 2)  # unequal sizes, distinct boxes
    slow = torch.empty(5, 7)
    for i in range(5):
        for j in range(7):
            reg = gap(crop(r.maps[j : j + 1], a.t[i : i + 1], model.crloc.cfg.patch_size))
            slow[i, j] = 1 - (F.normalize(model.backbone.embed(reg), dim=-1)[0] * a.desc[i]).sum()
    assert torch.allclose(fixed_box_distance(model, a, r), slow, atol=1e-5)
    # The partial side anchors in Table 3 too: with the partial set as gallery, the matrix is the transpose.
    assert torch.allclose(distance_matrix(model, a, r, "+R+box", anchor="query"), slow, atol=1e-5)
    assert torch.allclose(distance_matrix(model, r, a, "+R+box", anchor="gallery"), slow.T, atol=1e-5)

"""The face extension (§5): one backbone interface for both backbones through Algorithm 1 and the
engine (the face GDC on the generic pooling path, GAP on the fast one), the ``faces`` schema, and
the Partial-LFW evaluation."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ppcl.algorithm import PPCLObjective, PPCLLossConfig
from ppcl.data.common import FaceData, Record
from ppcl.evaluate.engine import distance_matrix, encode, region_descriptor
from ppcl.pipeline.experiments.faces import (FACE_METHODS, evaluate_faces, euclidean, load_partial_lfw, partial_lfw_manifest,
                                 roc_table, score_faces_seed, table4, table4_beside_paper)
from ppcl.geometry import crop
from ppcl.models import Backbone, build_ppcl, ppcl_from_checkpoint
from ppcl.models.backbone import gap
from ppcl.pipeline.profiles import load_profile
from tests.test_ppcl import tiny_ppcl

FACE = {"model": "FaceBackbone", "width": 4, "input_size": [64, 64], "embedding_dim": 16, "num_classes": 8,
        "convs_per_block": [1, 1, 1, 1, 1], "pools": 4}


def tiny_face_ppcl(seed=0):
    torch.manual_seed(seed)
    return build_ppcl({"depth": "resnet10", "width": 8, "input_size": [64, 64]}, FACE,
                      {"patch_size": [4, 4], "channels": [8, 8, 8]})


def _perturb(model):
    """Non-trivial BatchNorm statistics and affine parameters, so eval mode is not the identity."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                mod.running_mean.copy_(0.1 * torch.randn(mod.running_mean.shape, generator=g))
                mod.running_var.copy_(0.5 + torch.rand(mod.running_var.shape, generator=g))
                mod.weight.copy_(0.5 + torch.rand(mod.weight.shape, generator=g))
    return model.eval()


# ---- the common backbone interface -----------------------------------------------------------
@pytest.mark.parametrize("kind", ["reid", "face"])
def test_both_backbones_go_through_one_ppcl_step(kind):
    m = tiny_ppcl() if kind == "reid" else tiny_face_ppcl()
    assert isinstance(m.backbone, Backbone)
    assert m.backbone.linear_pool == (kind == "reid")
    size = m.input_size
    x, y = torch.randn(8, 3, *size), torch.arange(4).repeat_interleave(2)
    terms = PPCLObjective(m, PPCLLossConfig())(x, y, torch.Generator().manual_seed(0))
    assert {"L_F_ce", "L_F_tri", "L_cyc", "L_tri", "loss"} <= set(terms)
    assert all(torch.isfinite(v) for v in terms.values()), {k: float(v) for k, v in terms.items()}
    terms["loss"].backward()
    first_conv = next(p for n, p in m.backbone.trunk.named_parameters() if p.ndim == 4)
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0  # F
    assert m.crloc.fc.weight.grad.abs().sum() > 0 and m.crloc.convs[0].weight.grad.abs().sum() > 0  # CRLoc
    if kind == "face":
        assert m.backbone.head.gdc.weight.grad.abs().sum() > 0  # the GDC head trains through L_F


def test_the_interface_pools_embeds_and_classifies():
    m = _perturb(tiny_face_ppcl())
    h = m.backbone(torch.randn(3, 3, 64, 64))
    assert h.shape == (3, 32, 4, 4)  # pools=4: 4x4 maps at 64x64
    pooled = m.backbone.pool(h)
    assert pooled.shape == (3, 16) and torch.equal(m.backbone.embed(pooled), pooled)
    assert m.backbone.logits(pooled).shape == (3, 8)
    r = _perturb(tiny_ppcl())
    h = r.backbone(torch.randn(3, 3, 32, 16))
    assert torch.equal(r.backbone.pool(h), gap(h))
    assert torch.allclose(r.backbone.logits(r.backbone.pool(h)), r.backbone.classifier(r.backbone.neck(gap(h))))


@torch.no_grad()
def _slow(model, anchors, refs, box_kind="crloc"):
    """(A, R) by a plain loop over pairs: the anchor's patch at its layout box, CRLoc (or the
    anchor's own box) in the reference, the region cut with crop and pooled by the backbone's
    own pool, embedded, cosine."""
    loc, bb = model.crloc, model.backbone
    out = torch.empty(len(anchors.maps), len(refs.maps))
    for i in range(len(anchors.maps)):
        patch = crop(anchors.maps[i : i + 1], anchors.t[i : i + 1], loc.cfg.patch_size)
        a = F.normalize(bb.embed(bb.pool(patch)), dim=-1)
        for j in range(len(refs.maps)):
            ref = refs.maps[j : j + 1]
            box = loc(patch, ref)[0] if box_kind == "crloc" else anchors.t[i : i + 1]
            r = F.normalize(bb.embed(bb.pool(crop(ref, box, loc.cfg.patch_size))), dim=-1)
            out[i, j] = 1.0 - (a * r).sum()
    return out


@torch.no_grad()
@pytest.mark.parametrize("method", ["+R+L", "+R+box"])
def test_face_generic_pooling_path_equals_a_slow_per_pair_reference(method):
    m = _perturb(tiny_face_ppcl())
    q = encode(m, torch.randn(5, 3, 64, 64), "+R+L")
    g = encode(m, torch.randn(6, 3, 64, 64), "+R+L")
    q.t = torch.tensor([[0.6, 0.5, 0.2, -0.4], [1.0, 0.7, 0.0, 0.3], [0.5, 1.0, -0.5, 0.0], [1.0, 1.0, 0.0, 0.0],
                        [0.4, 0.4, 0.1, 0.2]])  # real layout boxes (an untrained GLRec keeps the whole map)
    slow = _slow(m, q, g, "crloc" if method == "+R+L" else "fixed")
    d = distance_matrix(m, q, g, method)
    assert torch.allclose(d, slow, atol=1e-5), (d - slow).abs().max()
    top = distance_matrix(m, q, g, method, topk=3)  # the listed-pairs path (paired_distances)
    kept = top < 4.0
    assert kept.sum() == 15 and torch.allclose(top[kept], slow[kept], atol=1e-5)
    # region_descriptor (encode's descriptor) is the same generic cut-and-pool
    want = F.normalize(m.backbone.pool(crop(q.maps, q.t, (4, 4))), dim=-1)
    assert torch.allclose(region_descriptor(m, q.maps, q.t), want, atol=1e-6)


@torch.no_grad()
def test_reid_fast_path_equals_its_reference_and_the_generic_path():
    m = _perturb(tiny_ppcl())
    q = encode(m, torch.randn(4, 3, 32, 16), "+R+L")
    g = encode(m, torch.randn(7, 3, 32, 16), "+R+L")
    q.t = torch.tensor([[0.6, 0.5, 0.2, -0.4], [1.0, 0.7, 0.0, 0.3], [0.5, 1.0, -0.5, 0.0], [1.0, 1.0, 0.0, 0.0]])
    for method, kind in (("+R+L", "crloc"), ("+R+box", "fixed")):
        fast = distance_matrix(m, q, g, method)
        assert torch.allclose(fast, _slow(m, q, g, kind), atol=1e-5)
        m.backbone.linear_pool = False  # force the generic path: GAP of the cut region
        generic = distance_matrix(m, q, g, method)
        del m.backbone.linear_pool
        assert torch.allclose(fast, generic, atol=1e-5)


def test_a_face_checkpoint_rebuilds_the_face_backbone(tmp_path):
    from ppcl.io import save_checkpoint

    m = tiny_face_ppcl(seed=2).eval()
    save_checkpoint({"arch": m.arch(), "model": m.state_dict()}, tmp_path / "m.pt")
    m2 = ppcl_from_checkpoint(tmp_path / "m.pt")
    assert type(m2.backbone).__name__ == "FaceBackbone" and m2.backbone.cfg == m.backbone.cfg
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(m2.backbone.pool(m2.backbone(x)), m.backbone.pool(m.backbone(x)))


# ---- the faces schema ------------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["smoke", "synthetic", "paper"])
def test_every_profile_has_a_consistent_face_recipe(profile):
    f = load_profile(profile).faces
    assert tuple(f.crloc.patch_size) == f.backbone.map_size  # CRLoc's patch is the face map size
    if profile == "paper":
        assert f.backbone.input_size == (224, 224) and f.backbone.width == 64 and f.backbone.embedding_dim == 4096
        assert f.backbone.map_size == (7, 7) and f.partial_lfw.n_ids == 1000 and f.glrec.model.input_size == (224, 224)
    else:
        assert f.backbone.input_size == (64, 64) and f.backbone.map_size == (4, 4) and f.partial_lfw.n_ids == 0


@pytest.mark.parametrize("override, message", [
    ({"faces": {"epoch": 2}}, r"faces\.epoch: expected one of FaceRecipe's fields .*'epochs'"),
    ({"faces": {"backbone": {"widht": 8}}}, r"faces\.backbone\.widht: expected one of FaceBackboneConfig's fields .*'width'"),
    ({"faces": {"glrec": {"epoch": 1}}}, r"faces\.glrec\.epoch: expected one of GLRecRecipe's fields .*'epochs'"),
    ({"faces": {"partial_lfw": {"n_id": 5}}}, r"faces\.partial_lfw\.n_id: expected one of PartialLFWRecipe's fields .*'n_ids'"),
    ({"faces": {"crloc": {"patch_size": [4, 2]}}}, r"faces\.crloc\.patch_size: expected the face map size \[4, 4\]"),
    ({"faces": {"backbone": {"pools": 5}}}, r"faces\.crloc\.patch_size: expected the face map size \[2, 2\]"),
    ({"faces": {"imagenet": True}}, r"faces\.imagenet: expected false"),
    ({"faces": {"partial_lfw": {"area": [0.9, 0.2]}}}, r"faces\.partial_lfw\.area"),
])
def test_a_typo_or_an_inconsistency_in_faces_is_refused(override, message):
    with pytest.raises(ValueError, match=message):
        load_profile("smoke", override)


def test_the_device_checks_cpu_twin_runs_the_papers_faces_table_shrunk():
    """The CPU twin of the device check keeps the paper's faces recipe (its losses, schedule shape, the
    Partial-LFW path) and changes only the network's size, the batch and the counts."""
    from ppcl.pipeline.devicecheck import as_sets, check_overrides
    from ppcl.pipeline.reproduce import parse_overrides

    sets = as_sets(check_overrides(shrink=True))
    assert any(s.startswith("faces.backbone.width=") for s in sets) and any(s.startswith("faces.glrec.model.") for s in sets)
    twin = load_profile("paper", parse_overrides(sets)).faces
    paper = load_profile("paper").faces
    assert twin.backbone.width < paper.backbone.width and twin.backbone.pools == paper.backbone.pools
    assert (twin.label_smoothing, twin.lam_cyc, twin.lam_tri, twin.lr) == (paper.label_smoothing, paper.lam_cyc, paper.lam_tri,
                                                                            paper.lr)
    assert twin.glrec.gate_threshold == paper.glrec.gate_threshold and twin.partial_lfw.n_ids > 0


# ---- Partial-LFW -----------------------------------------------------------------------------
def _lfw(tmp_path, counts=(4, 3, 1, 2, 5)) -> FaceData:
    rng = np.random.default_rng(0)
    names, records = [], []
    for pid, n in enumerate(counts):
        name = f"Person_{chr(65 + pid)}"
        names.append(name)
        for k in range(n):
            path = tmp_path / "lfw" / name / f"{name}_{k + 1:04d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(path)
            records.append(Record(str(path), pid, None))
    return FaceData("lfw", tmp_path / "lfw", records, names)


@torch.no_grad()
def test_partial_lfw_evaluation_shapes(tmp_path):
    data = _lfw(tmp_path)
    man = partial_lfw_manifest(data, n_ids=0, area=(0.3, 0.8), seed=5)
    assert man["n_ids"] == 4 and man["seed"] == 5 and man["area"] == [0.3, 0.8]  # every id with 2+ images
    assert len(man["gallery"]) == 4 and len(man["query"]) == (4 - 1) + (3 - 1) + (2 - 1) + (5 - 1)
    with pytest.raises(ValueError, match="at least 5 identities with two or more images"):
        partial_lfw_manifest(data, n_ids=5)
    test = load_partial_lfw(man, (64, 64))
    nq, ng = len(man["query"]), len(man["gallery"])
    assert test["query"].shape == (nq, 3, 64, 64) and test["gallery"].shape == (ng, 3, 64, 64)
    assert test["t"].shape == (nq, 4) and ((test["t"][:, 0] * test["t"][:, 1]) < 0.85).all()
    model = _perturb(tiny_face_ppcl())
    out = evaluate_faces(model, test)
    for m, r in out.items():
        assert r["distmat"].shape == (nq, ng) and (r["distmat"] >= 0).all() and (r["distmat"] <= 2 + 1e-6).all()
        assert r["rank"]["num_valid_queries"] == nq and 0 <= r["rank"]["rank1"] <= r["rank"]["rank10"] <= 1
        assert r["roc"].num_genuine == nq and r["roc"].num_impostor == nq * (ng - 1)
        assert 0 <= r["roc"].auc <= 1 and set(r["roc"].tar_at) == {1e-3, 1e-2}
    # Euclidean on unit descriptors, from the engine's cosine distance
    q, g = out["resize"]["encoded"]
    assert torch.allclose(out["resize"]["distmat"], torch.cdist(q.desc, g.desc), atol=1e-4)
    rows, per_query, raw = score_faces_seed({"resize": model, "+R": model, "ppcl": model}, test, seed=0)
    rows2, _, _ = score_faces_seed({"resize": model, "+R": model, "ppcl": model}, test, seed=1)
    assert [r["method"] for r in rows] == [m.label for m in FACE_METHODS] == list(raw)
    assert {"tar_at_far_1e-3", "tar_at_far_1e-2", "auc", "rank1", "rank10"} <= set(rows[0])
    t4 = table4(rows + rows2)
    assert list(t4.columns) == ["method", "seeds", "rank1_mean", "rank1_std", "rank3_mean", "rank5_mean", "rank10_mean"]
    assert list(t4.method) == ["Resize", "+R", "PPCL"] and (t4.seeds == "0,1").all() and t4.rank1_mean.between(0, 100).all()
    roc = roc_table(rows + rows2)
    assert list(roc.columns) == ["method", "auc", "tar_at_far_1e-3", "tar_at_far_1e-2"] and roc.auc.between(0, 1).all()
    beside = table4_beside_paper(t4)
    assert list(beside.source) == ["paper"] * 6 + ["kit"] * 3
    assert len(per_query[("Partial-LFW", "query", "PPCL")]["first"]) == nq


def test_euclidean_from_cosine_is_monotone_and_exact_on_unit_vectors():
    a, b = F.normalize(torch.randn(5, 8), dim=-1), F.normalize(torch.randn(6, 8), dim=-1)
    cos_d = 1 - a @ b.T
    assert torch.allclose(euclidean(cos_d), torch.cdist(a, b), atol=1e-5)
    flat = cos_d.flatten()
    assert torch.equal(flat.argsort(), euclidean(flat).argsort())

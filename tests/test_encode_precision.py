"""Encoding in reduced precision (ppcl.evaluate.engine.encode): bf16 autocast runs on the CPU
too, so the GPU's evaluation path is checked here against fp32 on a trained smoke model; the
CPU's default stays fp32, bit for bit."""
import pytest
import torch

from ppcl.evaluate.engine import batch_for_memory, distance_matrix, encode, encode_dtype, reduced_precision
from ppcl.evaluate.rank import rank
from ppcl.evaluate.validation import validation_set
from ppcl.pipeline.training import train_variant
from ppcl.pipeline.run import setup

# The stated tolerance of bf16 encoding against fp32 on the smoke model's 50 simulated partial
# queries. GLRec's gate score eta moves by at most 0.02 (it is a sigmoid in [0, 1]). Where an image's eta
# lies within that movement of the gate's threshold, bf16 may flip the gate's verdict: the image is then
# rectified in one precision and not in the other, a discrete change no tolerance on distances can bound.
# Every other image is held to the numerical bound: no distance between two images whose gate verdicts
# agree moves by more than 0.05 (cosine distances lie in [0, 2]); over the queries and gallery images
# whose verdicts agree, mAP moves by at most 1 point, and bf16 changes a query's rank-1 verdict only
# where fp32's own margin between its nearest true match and its nearest impostor is within twice the
# largest distance bf16 moved (a near tie). A one-epoch smoke model has many near ties, so the count of
# flipped queries alone says little.
MAX_MAP_POINTS, MAX_DISTANCE, MAX_ETA = 1.0, 0.05, 0.02


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = setup("smoke", out_dir=tmp_path_factory.mktemp("run"), progress=False, style=False)
    model, _ = train_variant(run, "ppcl", run.profile.seed, progress=False, lam_cyc=10.0, lam_tri=1.0)
    market = run.data("market1501")["market1501"]
    records = [r for r in market.train + market.query + market.gallery if r.pid > 0]  # every labelled identity
    return model, validation_set(records, model.input_size, seed=0, queries_per_id=4)


def gate_agrees(e32: torch.Tensor | None, e16: torch.Tensor | None, threshold: float, n: int) -> torch.Tensor:
    """``(N,)`` bool: the gate's verdict is the same in both precisions (all True where GLRec did not run).
    A flip is allowed only where eta moved by at most ``MAX_ETA`` (so fp32's eta was that near the threshold)."""
    if e32 is None:
        return torch.ones(n, dtype=torch.bool)
    moved = (e32 - e16).abs()
    assert float(moved.max()) <= MAX_ETA, f"bf16 moved the gate score by {float(moved.max()):.4f}"
    return (e32 >= threshold) == (e16 >= threshold)


@pytest.mark.parametrize("method", ["resize", "+R", "+R+L"])
def test_bf16_encoding_moves_rank1_and_map_within_the_stated_tolerance(trained, method):
    model, val = trained
    enc, out = {}, {}
    for precision in ("fp32", "bf16"):
        q, g = encode(model, val["query"], method, precision=precision), encode(model, val["gallery"], method, precision=precision)
        assert q.maps.dtype == q.desc.dtype == torch.float32  # distances and ranking stay in fp32
        enc[precision] = (q, g)
        out[precision] = distance_matrix(model, q, g, method)
    d32, d16 = out["fp32"], out["bf16"]
    assert len(d32) == 50
    assert not torch.equal(d32, d16)  # bf16 really ran
    th = float(model.glrec.threshold)
    (q32, g32), (q16, g16) = enc["fp32"], enc["bf16"]
    qa = gate_agrees(q32.eta, q16.eta, th, d32.shape[0])
    ga = gate_agrees(g32.eta, g16.eta, th, d32.shape[1])
    assert qa.float().mean() >= 0.9 and ga.float().mean() >= 0.9, "bf16 flipped the gate for more than a tenth of the images"
    eps = float((d32 - d16)[qa][:, ga].abs().max())
    assert eps <= MAX_DISTANCE, f"bf16 moved a distance by {eps:.4f} between images whose gate verdicts agree"
    q_pids, g_pids = torch.as_tensor(val["q_pids"]), torch.as_tensor(val["g_pids"])
    sub32 = rank(d32[qa][:, ga], q_pids[qa].tolist(), g_pids[ga].tolist())
    sub16 = rank(d16[qa][:, ga], q_pids[qa].tolist(), g_pids[ga].tolist())
    assert abs(100 * (sub32["mAP"] - sub16["mAP"])) <= MAX_MAP_POINTS
    hit32, hit16 = sub32["per_query"]["first"] == 0, sub16["per_query"]["first"] == 0
    sub = d32[qa][:, ga]
    same = q_pids[qa][:, None] == g_pids[ga][None, :]
    margin = (sub.masked_fill(same, float("inf")).amin(1) - sub.masked_fill(~same, float("inf")).amin(1)).abs()
    flipped = torch.as_tensor(hit32 != hit16)
    assert not (flipped & (margin > 2 * eps)).any(), f"bf16 flipped queries that were not near ties: margins {margin[flipped]}"


def test_a_gate_flip_is_allowed_only_near_the_threshold():
    eta32 = torch.tensor([0.10, 0.449, 0.90])
    assert gate_agrees(eta32, eta32 + torch.tensor([0.0, 0.002, -0.01]), 0.45, 3).tolist() == [True, False, True]
    with pytest.raises(AssertionError, match="moved the gate score"):
        gate_agrees(eta32, eta32 + torch.tensor([0.0, 0.1, 0.0]), 0.45, 3)
    assert gate_agrees(None, None, 0.45, 2).tolist() == [True, True]


def test_a_small_bf16_convolution_on_the_cpu_is_right_inside_the_kits_region():
    """The reproducer of oneDNN's AMX bf16 defect (torch 2.14.1): a 3x3 stride-2 convolution over a
    4x2 map. Plain CPU autocast returns values near 1e37 on CPUs with AMX; inside
    ``reduced_precision`` it is within bf16's rounding of fp32, the same on every call, and oneDNN's
    setting is restored on leaving."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False).eval()
    x = torch.randn(50, 32, 4, 2)
    before = torch.backends.mkldnn.enabled
    with torch.no_grad():
        ref = conv(x)
        outs = []
        for _ in range(3):
            with reduced_precision(torch.device("cpu"), torch.bfloat16):
                outs.append(conv(x))
    assert torch.backends.mkldnn.enabled == before
    assert all(o.dtype == torch.bfloat16 for o in outs), "the region must really run in bf16"
    assert all(torch.equal(o, outs[0]) for o in outs)
    assert float((outs[0].float() - ref).abs().max()) <= 0.05


def test_bf16_encoding_on_the_cpu_gives_the_same_numbers_every_call(trained):
    model, val = trained
    a, b = (encode(model, val["query"], "+R", precision="bf16") for _ in range(2))
    assert torch.equal(a.maps, b.maps) and torch.equal(a.eta, b.eta) and torch.equal(a.t, b.t)
    assert bool(torch.isfinite(a.maps).all()) and float(a.maps.abs().max()) < 1e4


def test_the_cpu_default_is_fp32_bit_for_bit(trained):
    model, val = trained
    auto, fp32 = encode(model, val["query"][:8], "+R"), encode(model, val["query"][:8], "+R", precision="fp32")
    assert torch.equal(auto.maps, fp32.maps) and torch.equal(auto.desc, fp32.desc) and torch.equal(auto.t, fp32.t)
    assert encode_dtype("auto", "cpu") is None and encode_dtype("auto", torch.device("cpu")) is None
    small = encode(model, val["query"][:8], "+R", batch_size=3)  # batch size does not change the CPU's numbers
    assert torch.allclose(small.desc, auto.desc, atol=1e-6)


def test_bad_precision_and_batch_size_are_refused(trained):
    model, val = trained
    with pytest.raises(ValueError, match="^precision: expected one of"):
        encode(model, val["query"][:2], "+R", precision="int8")
    with pytest.raises(ValueError, match="^batch_size: expected 1 or more"):
        encode(model, val["query"][:2], "+R", batch_size=0)


def test_batches_sized_by_free_memory_stay_within_bounds():
    assert batch_for_memory(40 * 2**30, 2**20) == 1024
    assert batch_for_memory(64 * 2**20, 2**20) == 32
    assert batch_for_memory(200 * 2**20, 2**20) == 100
    assert batch_for_memory(2**30, 0) == 1024

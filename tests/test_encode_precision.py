"""Encoding in reduced precision (ppcl.evaluate.engine.encode): bf16 autocast runs on the CPU
too, so the GPU's evaluation path is checked here against fp32 on a trained smoke model; the
CPU's default stays fp32, bit for bit."""
import pytest
import torch

from ppcl.evaluate.engine import batch_for_memory, distance_matrix, encode, encode_dtype
from ppcl.evaluate.rank import rank
from ppcl.evaluate.validation import validation_set
from ppcl.pipeline.training import train_variant
from ppcl.pipeline.run import setup

# The stated tolerance of bf16 encoding against fp32 on the smoke model's 50 simulated partial
# queries: no distance moves by more than 0.05 (cosine distances lie in [0, 2]), mAP by at most 1 point,
# and bf16 changes a query's rank-1 verdict only where fp32's own margin between its nearest true match
# and its nearest impostor is within twice the largest distance bf16 moved (a near tie). A one-epoch
# smoke model has many near ties, so the count of flipped queries alone says little.
MAX_MAP_POINTS, MAX_DISTANCE = 1.0, 0.05


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = setup("smoke", out_dir=tmp_path_factory.mktemp("run"), progress=False, style=False)
    model, _ = train_variant(run, "ppcl", run.profile.seed, progress=False, lam_cyc=10.0, lam_tri=1.0)
    market = run.data("market1501")["market1501"]
    records = [r for r in market.train + market.query + market.gallery if r.pid > 0]  # every labelled identity
    return model, validation_set(records, model.input_size, seed=0, queries_per_id=4)


@pytest.mark.parametrize("method", ["resize", "+R", "+R+L"])
def test_bf16_encoding_moves_rank1_and_map_within_the_stated_tolerance(trained, method):
    model, val = trained
    out = {}
    for precision in ("fp32", "bf16"):
        q, g = encode(model, val["query"], method, precision=precision), encode(model, val["gallery"], method, precision=precision)
        assert q.maps.dtype == q.desc.dtype == torch.float32  # distances and ranking stay in fp32
        d = distance_matrix(model, q, g, method)
        out[precision] = (d, rank(d, val["q_pids"], val["g_pids"]))
    (d32, r32), (d16, r16) = out["fp32"], out["bf16"]
    assert r32["num_queries"] == 50
    assert not torch.equal(d32, d16)  # bf16 really ran
    hit32, hit16 = r32["per_query"]["first"] == 0, r16["per_query"]["first"] == 0
    eps = float((d32 - d16).abs().max())
    assert eps <= MAX_DISTANCE
    assert abs(100 * (r32["mAP"] - r16["mAP"])) <= MAX_MAP_POINTS
    same = torch.as_tensor(val["q_pids"])[:, None] == torch.as_tensor(val["g_pids"])[None, :]
    margin = (d32.masked_fill(same, float("inf")).amin(1) - d32.masked_fill(~same, float("inf")).amin(1)).abs()
    flipped = torch.as_tensor(hit32 != hit16)
    assert not (flipped & (margin > 2 * eps)).any(), f"bf16 flipped queries that were not near ties: margins {margin[flipped]}"


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

"""The accelerator paths, where CUDA is present (skipped elsewhere; the `paper` profile runs there).

Both failures these guard against were found on an H200 and are invisible on a CPU: a validation
callback that left the model being trained on the CPU (the next epoch's CUDA batch met CPU
weights), and listed pairs copying one reference map per pair to the device.
"""
import pytest
import torch

from ppcl.algorithm import PPCLLossConfig, train_ppcl
from ppcl.evaluate.engine import distance_matrix, encode
from ppcl.evaluate.validation import validation_set
from ppcl.pipeline.training import validation_callback

from tests.test_ppcl import tiny_ppcl
from tests.test_validation import _records

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
CUDA = torch.device("cuda")


def test_training_on_the_gpu_survives_its_validation_callback(tmp_path):
    train, held = _records(tmp_path, dict.fromkeys(range(4), 4)), _records(tmp_path / "val", dict.fromkeys(range(3), 3))
    val = validation_set(held, (32, 16), seed=0, queries_per_id=2)
    model = tiny_ppcl(num_classes=4)
    history = train_ppcl(model, train, 2, tmp_path / "train.pt", p=2, k=2, loss_cfg=PPCLLossConfig(), device=CUDA,
                         progress=False, on_epoch_end=validation_callback(model, val, "+R+L", tmp_path / "best.pt", CUDA))
    assert [("val_rank1" in e) for e in history.epochs] == [True, True]  # validated after each epoch, trained on
    assert {p.device.type for p in model.parameters()} == {"cuda"}


@pytest.mark.parametrize("method", ["+R+L", "+R+box"])
def test_gpu_distances_equal_the_cpu_ones_every_pair_and_top_k(method):
    torch.manual_seed(0)
    model = tiny_ppcl().eval()
    q, g = encode(model, torch.rand(6, 3, 32, 16), "+R"), encode(model, torch.rand(9, 3, 32, 16), "+R")
    for topk in (None, 3):
        cpu = distance_matrix(model, q, g, method, topk=topk)
        gpu = distance_matrix(model, q, g, method, topk=topk, device=CUDA)
        assert torch.allclose(cpu, gpu, atol=1e-4), (method, topk)
        assert {p.device.type for p in model.parameters()} == {"cpu"}  # handed back where it was


def test_the_batched_augmentation_on_the_gpu_equals_the_cpus():
    from ppcl.data.transforms import Augmentation, augment

    x = torch.randint(0, 256, (16, 3, 32, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    cpu = augment(x, torch.Generator().manual_seed(1), Augmentation())
    gpu = augment(x.to(CUDA), torch.Generator().manual_seed(1), Augmentation())
    assert gpu.device.type == "cuda" and torch.allclose(cpu, gpu.cpu(), atol=1e-6)


def test_the_store_lives_on_the_gpu_and_its_batches_are_drawn_there(tmp_path):
    from ppcl.data.transforms import Augmentation
    from ppcl.data.datasets import ImageStore, RandomBatches, TrainBatches

    recs = _records(tmp_path, dict.fromkeys(range(4), 4))
    store = ImageStore.from_records(recs, (32, 16), CUDA)
    assert store.images.device.type == "cuda"
    x, pids = next(iter(TrainBatches(store, RandomBatches(len(store), 8), Augmentation(), CUDA)))
    assert x.device.type == pids.device.type == "cuda" and x.shape == (8, 3, 32, 16)


def test_training_on_the_gpu_uses_bf16_without_a_scaler_where_supported(tmp_path):
    from ppcl.train import amp_dtype

    train = _records(tmp_path, dict.fromkeys(range(4), 4))
    model = tiny_ppcl(num_classes=4)
    train_ppcl(model, train, 1, tmp_path / "train.pt", p=2, k=2, loss_cfg=PPCLLossConfig(), device=CUDA, progress=False)
    ckpt = torch.load(tmp_path / "train.pt", weights_only=True)
    assert (ckpt["scaler"] is None) == (amp_dtype(CUDA) == torch.bfloat16)
    assert ckpt["history"]["epochs"][0]["steps"] > 0


def test_bf16_encoding_on_the_gpu_is_within_the_tolerance_of_fp32():
    from ppcl.evaluate.rank import rank

    torch.manual_seed(0)
    model = tiny_ppcl().eval()
    g = torch.Generator().manual_seed(0)
    xq, xg = torch.rand(40, 3, 32, 16, generator=g), torch.rand(60, 3, 32, 16, generator=g)
    qp, gp = torch.arange(40) % 20, torch.arange(60) % 20
    out = {}
    for precision in ("fp32", "bf16"):
        q, gal = encode(model, xq, "+R", device=CUDA, precision=precision), encode(model, xg, "+R", device=CUDA, precision=precision)
        assert q.maps.device.type == "cpu" and q.desc.dtype == torch.float32
        out[precision] = distance_matrix(model, q, gal, "+R+L", device=CUDA)
    assert float((out["fp32"] - out["bf16"]).abs().max()) <= 0.05
    assert abs(rank(out["fp32"], qp, gp)["mAP"] - rank(out["bf16"], qp, gp)["mAP"]) <= 0.02
    assert {p.device.type for p in model.parameters()} == {"cpu"}  # handed back where it was
    assert next(model.parameters()).is_contiguous()  # and in its own memory layout

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
from ppcl.recipes import validation_callback

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

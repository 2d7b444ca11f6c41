"""A training step never waits for the host (the paper path on a GPU).

Every variant's step (holistic, Resize, +R, the single constraints, PPCL), under the ``paper``
profile's options and under the kit's options of the ``synthetic`` profile, on persons and on faces,
and GLRec's pretraining step and the loader's batch, run on the ``meta`` device: there a tensor has
a shape but no data, so anything that needs a value on the host (``.item()``, ``int()``,
``float()``, ``bool()``, ``nonzero``, boolean-mask indexing, a loop that counts) raises, exactly
where it would stall a GPU's queue. A dispatch mode counts the copies from the host: each step sends
its random numbers in one copy, the loader a batch's numbers in one.
"""
from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ppcl.algorithm import PPCLObjective
from ppcl.config import to_dict
from ppcl.models import build_ppcl
from ppcl.models.glrec import GLRec, GLRecConfig
from ppcl.pipeline.profiles import load_profile
from ppcl.pipeline.training import VARIANTS
from ppcl.pretrain import glrec_step
from ppcl.train import StepContext

aten = torch.ops.aten
META = torch.device("meta")


class HostTraffic(TorchDispatchMode):
    """Counts copies from the host to the meta device; a copy back to the host raises."""

    def __init__(self):
        super().__init__()
        self.copies: list[tuple] = []
        self._tensor = torch.tensor

    def __enter__(self):
        # torch.tensor(data, device=...) copies from the host below the dispatcher's Python modes: count it here
        real = self._tensor

        def tensor(data, *a, device=None, **k):
            if device is not None and torch.device(device).type != "cpu":
                self.copies.append(("torch.tensor", device))
            return real(data, *a, device=device, **k)

        torch.tensor = tensor
        return super().__enter__()

    def __exit__(self, *exc):
        torch.tensor = self._tensor
        return super().__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (aten._to_copy.default, aten.copy_.default):
            if func is aten._to_copy.default:
                src, dst = args[0], torch.device(kwargs.get("device") or args[0].device)
            else:
                src, dst = args[1], args[0].device
            if isinstance(src, torch.Tensor) and src.device.type == "meta" and dst.type == "cpu":
                raise AssertionError(f"{func}: a copy from the device back to the host (the step would wait for it)")
            if isinstance(src, torch.Tensor) and src.device.type == "cpu" and dst.type == "meta":
                self.copies.append(tuple(src.shape))
        return func(*args, **kwargs)


def _model(profile: str, face: bool = False):
    p = load_profile(profile)
    torch.manual_seed(0)
    recipe = p.faces if face else p.ppcl
    backbone = {**to_dict(recipe.backbone), "num_classes": 16, **({"model": "FaceBackbone"} if face else {})}
    glrec = to_dict((p.faces.glrec if face else p.glrec).model)
    with torch.device("meta"):
        model = build_ppcl(glrec, backbone, to_dict(recipe.crloc))
    return model, recipe


CASES = [(profile, variant, face) for profile in ("paper", "synthetic") for variant in VARIANTS for face in (False, True)
         if not (face and variant in ("holistic", "triplet", "cycle"))]


@pytest.mark.parametrize("profile, variant, face", CASES, ids=[f"{p}-{v}{'-face' if f else ''}" for p, v, f in CASES])
def test_a_training_step_never_waits_for_the_host(profile, variant, face):
    model, recipe = _model(profile, face)
    cfg = recipe.loss(**VARIANTS[variant])
    objective = PPCLObjective(model, cfg).to(META)
    b = 16
    x = torch.empty(b, 3, *recipe.backbone.input_size, device=META)
    pids = torch.arange(b // 4).repeat_interleave(4).to(META)  # made on the host, as the loader hands them over
    with HostTraffic() as traffic:
        terms = objective(x, pids, torch.Generator().manual_seed(0))
        terms["loss"].backward()
    assert terms["loss"].device == META and terms["loss"].shape == ()
    assert len(traffic.copies) == 1, f"{len(traffic.copies)} copies from the host in one step: {traffic.copies}"
    used = [p for p in model.parameters() if p.requires_grad and p.grad is not None]
    assert used, "no gradient reached the model"


def test_glrecs_pretraining_step_never_waits_for_the_host():
    with torch.device("meta"):
        glrec = GLRec(GLRecConfig("resnet18", 64, (256, 128)))
    step = glrec_step(glrec)
    x = torch.empty(16, 3, 256, 128, device=META)
    ctx = StepContext(0, 0, META, torch.Generator().manual_seed(0))
    with HostTraffic() as traffic:
        step((x,), ctx)["loss"].backward()
    assert len(traffic.copies) == 1, traffic.copies


def test_a_loader_batch_from_a_store_on_the_device_is_one_copy():
    from ppcl.data.datasets import ImageStore, TrainBatches
    from ppcl.data.samplers import PKSampler
    from ppcl.data.transforms import Augmentation

    n = 64
    images = torch.empty(n, 3, 256, 128, dtype=torch.uint8, device=META)
    store = ImageStore(images, torch.arange(n) // 4)
    batches = TrainBatches(store, PKSampler((torch.arange(n) // 4).tolist(), 4, 4), Augmentation(erase=0.5), META)
    batches.set_epoch(0)
    with HostTraffic() as traffic:
        x, pids = next(iter(batches))
    assert x.device == META and x.shape == (16, 3, 256, 128) and pids.device == META
    assert len(traffic.copies) == 1, traffic.copies


def test_the_mode_catches_what_it_is_for():
    """The check itself can fail: a read of a value, a boolean mask and a copy back are caught."""
    t = torch.ones(4, device=META)
    with pytest.raises(RuntimeError):
        float(t.sum())
    with pytest.raises(RuntimeError):
        t[t > 0].sum()
    with HostTraffic() as traffic, pytest.raises(AssertionError, match="back to the host"):
        t.to("cpu")
    with HostTraffic() as traffic:
        torch.tensor([1.0, 2.0], device=META)
        torch.ones(2).to(META)
    assert len(traffic.copies) == 2

"""The image store and its batches (ppcl.data.datasets): decoded once to the pixels the old
pipeline resized to, batches fixed by (seed, epoch) so that an interrupted training resumes
into the very batches an uninterrupted one draws, and the training entry points using them."""
import threading

import numpy as np
import pytest
import torch
import torchvision.transforms as T

from ppcl.algorithm import PPCLLossConfig, train_ppcl
from ppcl.data.common import Record, read_image
from ppcl.data.datasets import ImageStore, RandomBatches, TrainBatches, _ahead, decode_all, epoch_generator, place
from ppcl.data.samplers import PKSampler
from ppcl.data.transforms import Augmentation
from ppcl.models.glrec import GLRec, GLRecConfig
from ppcl.pretrain import pretrain_glrec

from tests.test_ppcl import tiny_ppcl


def _records(folder, ids=4, per_id=4, size=(24, 12)) -> list[Record]:
    rng = np.random.default_rng(0)
    out = []
    folder.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    for pid in range(ids):
        for i in range(per_id):
            path = folder / f"{pid:04d}_{i}.png"
            Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)
            out.append(Record(str(path), pid, None))
    return out


def test_the_store_holds_the_pixels_torchvisions_resize_gives(tmp_path):
    recs = _records(tmp_path)
    store = ImageStore.from_records(recs, (16, 8))
    assert store.images.shape == (16, 3, 16, 8) and store.images.dtype == torch.uint8 and store.size == (16, 8)
    for i in (0, 7, 15):
        ref = torch.from_numpy(np.array(T.Resize((16, 8))(read_image(recs[i].path)))).permute(2, 0, 1)
        assert torch.equal(store.images[i], ref)
    assert store.pids.tolist() == [r.pid for r in recs]
    assert torch.equal(decode_all(recs, (16, 8), threads=1), decode_all(recs, (16, 8), threads=3))


def test_on_the_cpu_the_store_stays_where_it_is():
    x = torch.zeros(2, 3, 4, 2, dtype=torch.uint8)
    assert place(x, torch.device("cpu")) is x


def _epoch(batches: TrainBatches, epoch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    batches.set_epoch(epoch)
    return list(batches)


def test_batches_are_fixed_by_seed_and_epoch_so_a_resumed_run_draws_the_same(tmp_path):
    store = ImageStore.from_records(_records(tmp_path, ids=6), (16, 8))

    def batches(seed=0, prefetch=0):
        return TrainBatches(store, PKSampler(store.pids.tolist(), 3, 2, seed=seed), Augmentation(), "cpu", seed=seed,
                            prefetch=prefetch)

    straight = batches()
    e0, e1 = _epoch(straight, 0), _epoch(straight, 1)
    resumed = _epoch(batches(), 1)  # a fresh process that starts at epoch 1
    assert len(e1) == len(resumed) == len(straight) > 1
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(e1, resumed))
    assert not torch.equal(e0[0][0], e1[0][0])  # another epoch, other batches
    assert not torch.equal(_epoch(batches(seed=1), 1)[0][0], e1[0][0])  # another seed, other batches
    ahead = _epoch(batches(prefetch=2), 1)  # prepared in a background thread: the same batches
    assert all(torch.equal(a[0], b[0]) for a, b in zip(e1, ahead))
    x, pids = e1[0]
    assert x.shape == (6, 3, 16, 8) and x.dtype == torch.float32 and pids.tolist()[::2] == pids.tolist()[1::2]  # P x K


def test_random_batches_cover_distinct_images_and_change_with_the_epoch():
    s = RandomBatches(10, 3, seed=0)
    first = list(s)
    assert len(first) == len(s) == 3 and all(len(b) == 3 for b in first)
    flat = [i for b in first for i in b]
    assert len(set(flat)) == 9 and set(flat) <= set(range(10))
    s.set_epoch(1)
    assert list(s) != first
    with pytest.raises(ValueError, match="^batch_size: expected 1 to 10"):
        RandomBatches(10, 11)


def test_epoch_generators_are_independent_streams():
    a = torch.rand(4, generator=epoch_generator(0, 0, 1))
    assert torch.equal(a, torch.rand(4, generator=epoch_generator(0, 0, 1)))
    assert not torch.equal(a, torch.rand(4, generator=epoch_generator(0, 0, 2)))
    assert not torch.equal(a, torch.rand(4, generator=epoch_generator(0, 1, 1)))


def test_a_lazy_store_is_built_only_when_a_batch_is_drawn(tmp_path):
    recs = _records(tmp_path)
    built = []

    def build():
        built.append(1)
        return ImageStore.from_records(recs, (16, 8))

    b = TrainBatches(build, RandomBatches(len(recs), 4), Augmentation(), "cpu")
    assert len(b) == 4 and not built
    b.set_epoch(0)
    next(iter(b))
    assert built == [1]
    lazy = TrainBatches(build, RandomBatches(len(recs), 4), Augmentation(), "cpu")
    next(iter(lazy))  # drawn without set_epoch: built then
    assert built == [1, 1]


def test_bad_arguments_are_refused_naming_them(tmp_path):
    with pytest.raises(ValueError, match="^records: expected at least one"):
        decode_all([], (16, 8))
    store = ImageStore(torch.zeros(2, 3, 4, 2, dtype=torch.uint8), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="^prefetch: expected 0"):
        TrainBatches(store, RandomBatches(2, 1), Augmentation(), "cpu", prefetch=-1)
    with pytest.raises(ValueError, match="^sampler: expected a batch sampler with set_epoch"):
        TrainBatches(store, [[0], [1]], Augmentation(), "cpu")
    with pytest.raises(ValueError, match="^pids: expected one label per image"):
        ImageStore(torch.zeros(2, 3, 4, 2, dtype=torch.uint8), torch.tensor([0]))
    with pytest.raises(ValueError, match="^images: expected uint8"):
        ImageStore(torch.zeros(2, 3, 4, 2), torch.tensor([0, 1]))


def test_the_background_thread_hands_errors_on_and_stops_when_left():
    def failing():
        yield 1
        raise RuntimeError("broken batch")

    it = _ahead(failing(), 2)
    assert next(it) == 1
    with pytest.raises(RuntimeError, match="broken batch"):
        next(it)
    before = threading.active_count()
    endless = _ahead(iter(range(10**9)), 2)
    assert [next(endless) for _ in range(3)] == [0, 1, 2]
    endless.close()
    assert threading.active_count() <= before


class _Interrupted(Exception):
    pass


def _interrupt_in_epoch(monkeypatch, epoch: int) -> None:
    """Make every TrainBatches stop with an error when it starts drawing ``epoch``'s batches
    (a run killed there: the checkpoint holds the epochs before)."""
    real = TrainBatches.__iter__

    def iterate(self):
        if self.generator_epoch == epoch:
            raise _Interrupted
        yield from real(self)

    real_set = TrainBatches.set_epoch

    def set_epoch(self, e):
        self.generator_epoch = e
        real_set(self, e)

    monkeypatch.setattr(TrainBatches, "__iter__", iterate)
    monkeypatch.setattr(TrainBatches, "set_epoch", set_epoch)


def _glrec_run(records, path, epochs=2):
    torch.manual_seed(0)
    model = GLRec(GLRecConfig("resnet10", 8, (16, 8)))
    hist = pretrain_glrec(model, records, epochs, path, batch_size=4, seed=2, device=torch.device("cpu"), progress=False)
    return model, hist


def _ppcl_run(records, path, epochs=2):
    model = tiny_ppcl(num_classes=4)
    hist = train_ppcl(model, records, epochs, path, p=2, k=2, erase=0.5, loss_cfg=PPCLLossConfig(), seed=1,
                      warmup_epochs=1, device=torch.device("cpu"), progress=False)
    return model, hist


@pytest.mark.parametrize("run, size", [(_glrec_run, (24, 12)), (_ppcl_run, (40, 20))], ids=["glrec", "ppcl"])
def test_an_interrupted_training_resumes_into_the_same_weights(run, size, tmp_path, monkeypatch):
    recs = _records(tmp_path / "img", size=size)
    straight, hist = run(recs, tmp_path / "straight.pt")
    with monkeypatch.context() as m:
        _interrupt_in_epoch(m, 1)
        with pytest.raises(_Interrupted):
            run(recs, tmp_path / "resumed.pt")
    assert torch.load(tmp_path / "resumed.pt", weights_only=True)["epoch"] == 0
    resumed, hist_r = run(recs, tmp_path / "resumed.pt")
    assert [e["epoch"] for e in hist_r.epochs] == [0, 1] and [e["steps"] for e in hist.epochs] == [4, 4]
    assert all(e["train_seconds"] > 0 for e in hist.epochs)
    assert [r["loss"] for r in hist.steps] == [r["loss"] for r in hist_r.steps]
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)

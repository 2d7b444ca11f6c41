"""Training and evaluation images as torch objects.

* :class:`ImageDataset` — a torch ``Dataset`` over reader records (per image, PIL transforms);
* the stores (:mod:`ppcl.data.stores`, re-exported here): :class:`ImageStore` — every training
  image read, resized to the network's input size (as torchvision's ``Resize`` does it on a PIL
  image: the same pixels the per-image pipeline produces) and kept as one ``(N, 3, H, W)`` uint8
  tensor, on the training device when it fits in a share of its free memory, else in host memory;
  :class:`EncodedStore` — the files' bytes, decoded per batch, for sets too large to decode
  (:meth:`ImageStore.from_records` chooses by the host's available memory);
* :class:`RandomBatches` — shuffled batches of a fixed size (GLRec's pretraining), the order
  fixed by ``(seed, epoch)``;
* :class:`TrainBatches` — for each index list of a batch sampler (:class:`RandomBatches` or
  :class:`ppcl.data.samplers.PKSampler`), the images gathered from the store, moved to the
  training device and augmented there (:func:`ppcl.data.transforms.augment`), with a generator
  seeded from ``(seed, epoch, rank)``: :func:`ppcl.train.fit` calls :meth:`TrainBatches.set_epoch`
  each epoch, so a resumed run draws exactly the batches an uninterrupted one would, from either
  kind of store. Nothing starts a process; ``prefetch`` prepares batches ahead in one background
  thread (the same batches, in the same order).
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from .common import Record, read_image, to_device
from .stores import (DEVICE_SHARE, HOST_SHARE, STORES, EncodedStore, ImageStore, decode,  # noqa: F401  (re-exported)
                     decode_all, decode_into, place)
from .transforms import Augmentation, Draws, apply, draw

Store = ImageStore | EncodedStore


class ImageDataset(Dataset):
    """``(image, pid, camid, index)`` for each record; ``camid`` is -1 where there is none.

    With ``preload=True`` every image is decoded once up front (the synthetic sets fit in
    memory easily; decoding JPEGs each epoch would dominate a small CPU run).
    """

    def __init__(self, records: Sequence[Record], transform: Callable | None = None, preload: bool = False):
        if len(records) == 0:
            raise ValueError("ImageDataset needs at least one record; got an empty list")
        self.records = list(records)
        self.transform = transform
        self._cache = [read_image(r.path) for r in self.records] if preload else None

    def __len__(self) -> int:
        return len(self.records)

    def image(self, i: int):
        return self._cache[i] if self._cache is not None else read_image(self.records[i].path)

    def __getitem__(self, i: int):
        r = self.records[i]
        img = self.image(i)
        if self.transform is not None:
            img = self.transform(img)
        return img, r.pid, -1 if r.camid is None else r.camid, i

    @property
    def pids(self) -> list[int]:
        return [r.pid for r in self.records]


# ---- batches from a store (what training draws from) ---------------------------------------
def epoch_generator(seed: int, epoch: int, stream: int = 0) -> torch.Generator:
    """A CPU generator for ``(seed, epoch, stream)``; different streams are independent."""
    state = np.random.SeedSequence([seed, epoch, stream]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & (2**63 - 1))


class RandomBatches:
    """A batch sampler: every epoch a fresh permutation of ``range(n)`` fixed by ``(seed, epoch)``,
    cut into batches of ``batch_size`` (the last partial batch dropped)."""

    def __init__(self, n: int, batch_size: int, seed: int = 0):
        if batch_size < 1 or batch_size > n:
            raise ValueError(f"batch_size: expected 1 to {n} (the number of images); found {batch_size}")
        self.n, self.batch_size, self.seed, self.epoch = n, batch_size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(self.n, generator=epoch_generator(self.seed, self.epoch, stream=1)).tolist()
        for s in range(0, len(self) * self.batch_size, self.batch_size):
            yield order[s : s + self.batch_size]


class TrainBatches:
    """Augmented training batches ``(x, pids)`` on ``device``: ``x`` ``(B, 3, H, W)`` normalised
    float32, ``pids`` ``(B,)`` int64, one per index list of ``sampler`` (which must offer
    ``set_epoch``). ``prefetch`` > 0 prepares that many batches ahead in a background thread.

    ``store`` is an :class:`ImageStore` or an :class:`EncodedStore` (the same batches, the same
    augmentation draws: only the pixels differ, by the resize), or a function that builds one: it
    is called at the first :meth:`set_epoch` or batch, so a training whose checkpoint is already
    complete decodes nothing."""

    def __init__(self, store: Store | Callable[[], Store], sampler, aug: Augmentation,
                 device: torch.device | str, seed: int = 0, rank: int = 0, prefetch: int = 0):
        if prefetch < 0:
            raise ValueError(f"prefetch: expected 0 (prepare each batch when it is needed) or more; found {prefetch}")
        if not hasattr(sampler, "set_epoch"):
            raise ValueError(f"sampler: expected a batch sampler with set_epoch(epoch); found {type(sampler).__name__}")
        self._store, self.sampler, self.aug = store, sampler, aug
        self.device, self.seed, self.rank, self.prefetch = torch.device(device), seed, rank, prefetch
        self.generator = epoch_generator(seed, 0, stream=2 + rank)

    @property
    def store(self) -> Store:
        if not isinstance(self._store, STORES):
            self._store = self._store()
        return self._store

    def set_epoch(self, epoch: int) -> None:
        """Fix the epoch's batches and augmentation by ``(seed, epoch, rank)``; the store is built
        here if it was not (a training loop's timing of its steps then leaves the decoding out)."""
        _ = self.store
        self.sampler.set_epoch(epoch)
        self.generator = epoch_generator(self.seed, epoch, stream=2 + self.rank)

    def __len__(self) -> int:
        return len(self.sampler)

    def batch(self, index: Sequence[int]) -> tuple[Tensor, Tensor]:
        """One augmented batch for the store's images ``index`` (draws from the epoch's generator).

        The indices, labels and augmentation draws of a batch travel to the device in one copy; the
        images are gathered where the store keeps them (on the device when it fits) and decoded
        there if the store holds their files' bytes."""
        i = torch.as_tensor(index, dtype=torch.int64)
        b = len(i)
        d = draw(b, self.store.size, self.aug, self.generator)
        host = torch.cat([i, self.store.pids[i], d.flip.long(), d.shift.reshape(-1), d.erase.reshape(-1)])
        dev = to_device(host, self.device)  # the one copy of the batch's numbers
        pids, flip = dev[b : 2 * b], dev[2 * b : 3 * b].bool()
        shift, erase = dev[3 * b : 5 * b].view(b, 2), dev[5 * b :].view(b, 4)
        x = self.store.gather(dev[:b] if self.store.device == self.device else i, self.device)
        return apply(x, Draws(flip, shift, erase), self.aug), pids

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        if self.prefetch == 0:
            for index in self.sampler:
                yield self.batch(index)
            return
        yield from _ahead(map(self.batch, iter(self.sampler)), self.prefetch)


def _ahead(items: Iterator, depth: int) -> Iterator:
    """``items`` computed up to ``depth`` ahead in a background thread, in order; an error in
    the thread is raised here, and leaving the loop early stops the thread."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", done))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            q.put(("error", e))

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)

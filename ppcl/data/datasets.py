"""A torch ``Dataset`` over reader records."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from torch.utils.data import Dataset

from .common import Record, read_image


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

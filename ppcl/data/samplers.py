"""PK sampling for batch-hard triplet training (Hermans et al., 2017).

Every batch holds ``P`` identities with ``K`` images each. With ``world_size > 1`` every
process builds the same list of batches from ``(seed, epoch)`` and takes every
``world_size``-th one, so the processes of a DistributedDataParallel run see disjoint
batches without talking to each other.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


class PKSampler(Sampler[list[int]]):
    """Batch sampler of ``p`` identities x ``k`` images (a ``batch_sampler`` for DataLoader).

    Identities with fewer than ``k`` images are sampled with replacement. One epoch covers
    every identity about ``len(images) / k`` times, as in reid-strong-baseline.
    Call :meth:`set_epoch` each epoch for a fresh, reproducible order.
    """

    def __init__(
        self,
        pids: Sequence[int],
        p: int,
        k: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ):
        if p < 1 or k < 1:
            raise ValueError(f"PK sampling needs p >= 1 and k >= 1; got p={p}, k={k}")
        self.by_pid: dict[int, list[int]] = defaultdict(list)
        for i, pid in enumerate(pids):
            self.by_pid[int(pid)].append(i)
        if len(self.by_pid) < p:
            raise ValueError(f"PK sampling with p={p} needs at least {p} identities; found {len(self.by_pid)}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size); got rank={rank}, world_size={world_size}")
        self.p, self.k, self.seed = p, k, seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _all_batches(self) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        # Each identity contributes groups of k of its images (sampled with replacement if short).
        pools: dict[int, list[list[int]]] = {}
        for pid in sorted(self.by_pid):
            idx = self.by_pid[pid]
            if len(idx) < self.k:
                order = rng.choice(idx, size=self.k, replace=True)
            else:
                order = rng.permutation(idx)
            pools[pid] = [
                [int(i) for i in order[s : s + self.k]] for s in range(0, len(order) - self.k + 1, self.k)
            ]
        # Batches of p distinct identities, drawn until fewer than p identities have groups left.
        batches: list[list[int]] = []
        while True:
            live = [pid for pid, groups in pools.items() if groups]
            if len(live) < self.p:
                return batches
            batch: list[int] = []
            for pid in rng.choice(live, size=self.p, replace=False):
                batch.extend(pools[int(pid)].pop())
            batches.append(batch)

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._all_batches()
        usable = len(batches) - len(batches) % self.world_size
        yield from batches[self.rank : usable : self.world_size]

    def __len__(self) -> int:
        n = len(self._all_batches())
        return n // self.world_size

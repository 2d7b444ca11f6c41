"""A validation split of the *training* identities, so no choice is ever made on a test set."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .common import Record


def split_train_val(records: Sequence[Record], n_val_ids: int, seed: int = 0) -> tuple[list[Record], list[Record]]:
    """Hold out ``n_val_ids`` whole identities (drawn with ``seed``) from the training records.

    The remaining training identities are relabelled 0..N-1 (their order kept); validation
    records keep their original labels.
    """
    pids = sorted({r.pid for r in records})
    if not 0 <= n_val_ids < len(pids):
        raise ValueError(f"n_val_ids must be in [0, {len(pids)}); got {n_val_ids}")
    rng = np.random.default_rng(seed)
    val_ids = set(rng.choice(pids, size=n_val_ids, replace=False).tolist()) if n_val_ids else set()
    keep = [p for p in pids if p not in val_ids]
    relabel = {p: i for i, p in enumerate(keep)}
    train = [Record(r.path, relabel[r.pid], r.camid) for r in records if r.pid in relabel]
    val = [r for r in records if r.pid in val_ids]
    return train, val

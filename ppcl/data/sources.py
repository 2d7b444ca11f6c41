"""Where a run's datasets come from: the kit's synthetic sets, or the real ones under a root.

Both go through the same readers. With ``source="synthetic"`` the sets are generated once
into ``cache_dir`` (keyed by their config) and reused; with ``source="real"`` every reader is
pointed at ``data_root`` (each accepts the dataset's folder or its parent; the face readers
read ``data_root/aligned/`` when it exists, :mod:`ppcl.data.aligned`) and a missing dataset is
an error naming the folder it looked in. Nothing is ever downloaded.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .common import FaceData, ReIDData
from .readers import PUBLISHED_COUNTS, load, observed_counts
from .synthetic import PRESETS, SyntheticConfig, ensure_synthetic

DATASETS = ("market1501", "partial_reid", "partial_ilids", "lfw", "casia_webface")
LARGE = {"partial_reid_large": "partial_reid", "partial_ilids_large": "partial_ilids"}  # the synthetic larger draws


def dataset_root(source: str, data_root: str | Path | None = None, cache_dir: str | Path | None = None,
                 synthetic: dict | None = None, progress: bool = True) -> Path:
    """The folder every reader is pointed at for this run."""
    if source == "synthetic":
        cfg = synthetic_config(synthetic or {})
        return Path(ensure_synthetic(cache_dir, cfg, progress=progress))
    if source == "real":
        if not data_root:
            raise ValueError("source='real' needs data_root: the folder holding the downloaded datasets")
        root = Path(data_root).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: expected the folder holding the real datasets; found no such folder")
        return root
    raise ValueError(f"source must be 'synthetic' or 'real'; got {source!r}")


def synthetic_config(spec: dict) -> SyntheticConfig:
    """A :class:`SyntheticConfig` from a profile's ``synthetic`` table: an optional
    ``preset`` ("smoke" or "synthetic") and any fields to change."""
    spec = dict(spec)
    preset = spec.pop("preset", "synthetic")
    if preset not in PRESETS:
        raise ValueError(f"unknown synthetic preset {preset!r}; known: {sorted(PRESETS)}")
    return SyntheticConfig.from_dict({**PRESETS[preset].to_dict(), **spec})


def load_datasets(root: str | Path, names=DATASETS) -> dict[str, ReIDData | FaceData]:
    """Each dataset in ``names`` through its reader; ``partial_reid_large`` / ``partial_ilids_large``
    are the kit's larger synthetic draws, read by the same readers from ``root/large``, each with
    ``info["folds"]`` (:func:`identity_folds`: scored as sets of the real-size set's people)."""
    from .synthetic.config import LARGE_DIR

    out = {}
    for n in names:
        if n in LARGE:
            folder = Path(root) / LARGE_DIR
            if not folder.is_dir():
                raise FileNotFoundError(f"{folder}: expected the kit's larger synthetic draw of {LARGE[n]} "
                                        "(generated with the synthetic sets); found no such folder (real data has none)")
            out[n] = load(LARGE[n], folder)
            real_ids = len({r.pid for r in load(LARGE[n], root).gallery})
            out[n].info["folds"] = identity_folds(sorted({r.pid for r in out[n].gallery}), real_ids)
        else:
            out[n] = load(n, root)
    return out


def identity_folds(pids: Sequence[int], fold_ids: int) -> dict[int, int]:
    """Each identity of a larger test draw -> its fold: ``pids`` (in draw order) cut into
    ``round(len(pids) / fold_ids)`` consecutive folds whose sizes differ by at most one.

    Rank-1 depends on the gallery's size: one gallery of 595 people is another, harder task than
    the real Partial-iLIDS' 119 (the kit's rank-1 fell from 12.7-18.3% to 8.1-10.9% when the draw went
    from 238 to 595 people in one gallery). Scored fold by fold, each query ranks only its
    fold's gallery, a set of the real set's size, and the folds' queries are pooled: more
    queries for the same task (:func:`ppcl.evaluate.protocols.partial_rank`).

    >>> identity_folds([1, 2, 3, 4, 5], 2)  # round(5 / 2) = 2 folds: 3 and 2 people
    {1: 0, 2: 0, 3: 0, 4: 1, 5: 1}
    """
    if fold_ids < 1:
        raise ValueError(f"fold_ids: expected the real-size set's number of identities (at least 1); found {fold_ids}")
    k = max(1, round(len(pids) / fold_ids))
    size, extra = divmod(len(pids), k)
    out, start = {}, 0
    for f in range(k):
        stop = start + size + (f < extra)
        out.update({int(p): f for p in pids[start:stop]})
        start = stop
    return out


def verdict_sets(source: str) -> dict[str, str]:
    """The test sets the kit's verdicts are read on, ``{name in the tables: dataset to load}``: the
    larger synthetic draws for synthetic data, the real sets themselves for real data."""
    if source == "synthetic":
        return {"partial_reid": "partial_reid_large", "partial_ilids": "partial_ilids_large"}
    return {"partial_reid": "partial_reid", "partial_ilids": "partial_ilids"}


def counts_table(datasets: dict[str, ReIDData | FaceData]):
    """A pandas DataFrame: one row per dataset and quantity, the kit's count beside the published one."""
    import pandas as pd

    rows = []
    for name, data in datasets.items():
        seen = observed_counts(data)
        for key, published in PUBLISHED_COUNTS.get(name, {}).items():
            rows.append({"dataset": name, "quantity": key, "found": seen.get(key), "published": published})
    return pd.DataFrame(rows)


def partial_ground_truth(root: str | Path, dataset: str) -> dict[str, dict] | None:
    """For the kit's synthetic sets: each partial image's true t, side and holistic source,
    keyed by absolute image path. ``None`` for real data (it has no such ground truth)."""
    import json

    meta = Path(root) / "synthetic_meta.json"
    if not meta.is_file():
        return None
    entries = json.loads(meta.read_text()).get("partial", [])
    return {
        str(Path(root) / e["path"]): {"t": e["t"], "side": e["side"], "source": str(Path(root) / e["source"])}
        for e in entries
        if e["dataset"] == dataset
    }


def first_pairs(data: ReIDData, n: int) -> tuple[list, list, list[str]]:
    """The first partial (query) image and the first whole (gallery) image of ``n`` identities
    of a partial set, as PIL images, with titles: for a side-by-side figure."""
    from .common import read_image

    first: dict[int, object] = {}
    for r in data.query:
        first.setdefault(r.pid, r)
    whole: dict[int, object] = {}
    for r in data.gallery:
        whole.setdefault(r.pid, r)
    pids = [p for p in sorted(first) if p in whole][:n]
    return ([read_image(first[p].path) for p in pids], [read_image(whole[p].path) for p in pids], [f"id {p}" for p in pids])

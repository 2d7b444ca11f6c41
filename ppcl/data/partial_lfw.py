"""The Partial-LFW protocol (§5.1): the paper's partial face test set, rebuilt from LFW.

The ``n_ids`` identities with the most images (1,000 in the paper; ties broken by name);
for each, one image (drawn with the seed) is the holistic gallery image and every other
image is a partial query: a continuous region cut with :func:`ppcl.data.partial.sample_partial_t`,
area ratio drawn from ``area``. The paper does not publish its crops ("proximate area
ratio"); the kit states its range and seed in the manifest, so the set can be rebuilt exactly.

Only identities with at least two images can contribute a query; asking for more such
identities than the dataset has is an error; ``n_ids = 0`` takes every one of them.

A manifest written to :data:`PROTOCOL_FILE` in the data root (``data_prep/partial_lfw.py DATA
DATA/partial_lfw.json``) is the test set notebook 05 uses, once the run has checked that the file
was built with its profile's settings.
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..io import write_text
from .common import DatasetError, FaceData
from .partial import SIDES, sample_partial_t

MANIFEST_VERSION = 1
PROTOCOL_FILE = "partial_lfw.json"  # in the data root: the Partial-LFW a run reads instead of drawing its own


def build_partial_lfw(
    data: FaceData,
    n_ids: int = 1000,
    area: tuple[float, float] = (0.3, 0.8),
    sides: tuple[str, ...] = SIDES,
    seed: int = 0,
    setting: str = "faces.partial_lfw.n_ids",
) -> dict:
    """The protocol as a JSON-ready manifest: ``gallery`` and ``query`` entries with paths
    relative to the dataset folder, identity names, pids (0..n_ids-1) and, for queries, t.
    ``n_ids = 0`` takes every identity with two or more images (the manifest records how many).

    ``setting`` names where ``n_ids`` came from (the profile key, or a command-line option such
    as ``--ids``), so that a dataset too small for it is refused saying what to change."""
    per_id: dict[int, list[str]] = defaultdict(list)
    for r in data.records:
        per_id[r.pid].append(r.path)
    eligible = [pid for pid, paths in per_id.items() if len(paths) >= 2]
    if not eligible:
        raise DatasetError(data.root, "identities with two or more images (a Partial-LFW query needs a gallery image "
                           "of its own identity)", f"none among {len(per_id)} identities")
    if n_ids < 0:
        raise ValueError(f"{setting}: expected 0 (every identity with two or more images) or more; found {n_ids}")
    n_ids = n_ids or len(eligible)
    if len(eligible) < n_ids:
        k = len(eligible)
        change = f"{setting} {k}" if setting.startswith("-") else f"--set {setting}={k}"
        also = "" if setting.startswith("-") else f", or --set {setting}=0 for every one of them"
        raise DatasetError(data.root, f"at least {n_ids} identities with two or more images ({setting} = {n_ids})",
                           f"{k}; ask for fewer (e.g. {change}{also})")
    chosen = sorted(eligible, key=lambda pid: (-len(per_id[pid]), data.names[pid]))[:n_ids]
    rng = np.random.default_rng(seed)
    gallery, query = [], []
    root = Path(data.root)
    for new_pid, pid in enumerate(sorted(chosen, key=lambda p: data.names[p])):
        paths = sorted(per_id[pid])
        g = int(rng.integers(len(paths)))
        rel = lambda p: os.path.relpath(p, root)  # noqa: E731
        gallery.append({"path": rel(paths[g]), "pid": new_pid, "name": data.names[pid]})
        for i, p in enumerate(paths):
            if i == g:
                continue
            t, side = sample_partial_t(rng, area, sides)
            query.append({"path": rel(p), "pid": new_pid, "name": data.names[pid], "t": [round(float(v), 6) for v in t], "side": side})
    return {
        "protocol": "Partial-LFW",
        "version": MANIFEST_VERSION,
        "root": str(root),
        "n_ids": n_ids,
        "area": list(area),
        "sides": list(sides),
        "seed": seed,
        "gallery": gallery,
        "query": query,
    }


def write_manifest(manifest: dict, path: str | Path) -> Path:
    """Write the manifest as JSON atomically (temp file, then rename)."""
    return write_text(path, json.dumps(manifest, indent=1))


def read_manifest(path: str | Path) -> dict:
    """Read a manifest written by :func:`write_manifest`, checking its shape."""
    path = Path(path)
    try:
        m = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(path, "a Partial-LFW manifest (JSON)", "no such file") from None
    except json.JSONDecodeError as e:
        raise DatasetError(path, "a Partial-LFW manifest (JSON)", f"invalid JSON ({e})") from None
    if m.get("protocol") != "Partial-LFW" or not {"gallery", "query", "seed"} <= set(m):
        raise DatasetError(path, "a Partial-LFW manifest with 'gallery', 'query' and 'seed'", f"keys {sorted(m)}")
    return m


def partial_lfw_examples(manifest: dict, n: int) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """The first ``n`` queries of a manifest: the LFW images, their partial crops and short names."""
    from .common import read_image
    from .partial import crop_pixels

    base = Path(manifest["root"])
    show = manifest["query"][:n]
    faces = [np.asarray(read_image(base / q["path"])) for q in show]
    cuts = [crop_pixels(f, np.array(q["t"]))[0] for f, q in zip(faces, show)]
    return faces, cuts, [q["name"][:10] for q in show]

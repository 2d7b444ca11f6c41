"""One setup for every notebook: the profile, the run's folders, the data and the device.

Every notebook opens with its ``parameters`` cell (papermill overrides it in a batch run) and
one call::

    run = setup(profile, overrides, data_root=data_root, cache_dir=cache_dir, out_dir=out_dir)

``run.profile`` is the validated :class:`ppcl.pipeline.profiles.Profile`; ``run.data(...)`` loads
datasets through the real readers (the kit's synthetic sets are generated into the cache on
first use); ``run.table``, ``run.json`` and ``run.figure`` write a notebook's results under the
run folder (``tables/``, ``figures/``) atomically.

Where things go (each an argument, else an environment variable, else a default):

========== ================= ==================================================================
argument   variable          default
========== ================= ==================================================================
profile    ``PPCL_PROFILE``  ``synthetic``
out_dir    ``PPCL_OUT``      ``runs/<profile>`` beside the ``notebooks`` folder (or the cwd)
cache_dir  ``PPCL_CACHE``    ``~/.cache/ppcl``: generated data sets and trained models, shared
                             by every run (keyed by their parameters)
data_root  ``PPCL_DATA_ROOT`` the real datasets (``source = "real"``)
========== ================= ==================================================================
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..data.synthetic import default_cache_dir
from .profiles import PROFILE_NAMES, Profile, load_profile
from .results import save_json, save_table
from ..train import default_device


def _default_out(profile: str) -> Path:
    cwd = Path.cwd()
    base = cwd.parent if cwd.name == "notebooks" else cwd
    return base / "runs" / profile


@dataclass
class Run:
    """A run's parameters and places. Notebooks get one from :func:`setup`."""

    name: str  # the profile's name
    profile: Profile
    overrides: dict
    out: Path
    cache: Path
    root: Path  # the folder every dataset reader is pointed at
    device: torch.device
    _loaded: dict = field(default_factory=dict, repr=False)
    memo: dict = field(default_factory=dict, repr=False)  # results computed once per run (e.g. the chosen λ)

    @property
    def figures(self) -> Path:
        return self.out / "figures"

    @property
    def tables(self) -> Path:
        return self.out / "tables"

    @property
    def checkpoints(self) -> Path:
        return self.out / "checkpoints"

    @property
    def models(self) -> Path:
        """The shared store of trained models (see :mod:`ppcl.pipeline.training`)."""
        return self.cache / "models"

    def data(self, *names: str) -> dict:
        """Datasets by name (``market1501``, ``partial_reid``, ``partial_ilids``, ``lfw``,
        ``casia_webface``), read once per run."""
        from ..data.sources import load_datasets

        missing = [n for n in names if n not in self._loaded]
        self._loaded.update(load_datasets(self.root, missing))
        return {n: self._loaded[n] for n in names}

    def ground_truth(self, dataset: str) -> dict | None:
        """Each partial image's true region (the kit's synthetic sets only; ``None`` for real data)."""
        from ..data.sources import partial_ground_truth

        return partial_ground_truth(self.root, dataset)

    def table(self, df, name: str):
        """Write ``df`` as ``tables/<name>.csv`` and ``.json``; return it (for display)."""
        save_table(df, self.tables, name)
        return df

    def json(self, obj: Any, name: str) -> Path:
        return save_json(obj, self.tables, name)

    def figure(self, fig, name: str) -> None:
        """Save ``fig`` as ``figures/<name>.png`` and show it."""
        from ..viz.plots import save_and_show

        save_and_show(fig, self.figures, name)

    def describe(self) -> str:
        where = f"synthetic data {self.root.name}" if self.profile.source == "synthetic" else f"real data under {self.root}"
        return f"profile {self.name!r} ({where}), seeds {list(self.profile.seeds)}, device {self.device.type}"


def setup(
    profile: str | None = None,
    overrides: dict | None = None,
    *,
    data_root: str | Path = "",
    cache_dir: str | Path = "",
    out_dir: str | Path = "",
    device: str | torch.device | None = None,
    progress: bool = True,
    style: bool = True,
) -> Run:
    """The run a notebook works in (see the module docstring for the defaults). ``style`` sets
    matplotlib's figure size for notebooks (:func:`ppcl.viz.notebook_style`)."""
    from ..data.sources import dataset_root

    name = profile or os.environ.get("PPCL_PROFILE") or "synthetic"
    if name not in PROFILE_NAMES:
        raise ValueError(f"profile: expected one of {list(PROFILE_NAMES)}; found {name!r}")
    prof = load_profile(name, overrides)
    cache = Path(cache_dir or default_cache_dir()).expanduser().resolve()
    out = Path(out_dir or os.environ.get("PPCL_OUT") or _default_out(name)).expanduser().resolve()
    data_root = data_root or os.environ.get("PPCL_DATA_ROOT", "")
    root = dataset_root(prof.source, data_root, cache, prof.synthetic, progress=progress)
    dev = torch.device(device) if device else default_device()
    if style:
        from ..viz.plots import notebook_style

        notebook_style()
    return Run(name, prof, dict(overrides or {}), out, cache, root, dev)

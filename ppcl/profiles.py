"""Profiles: named sets of notebook parameters, kept in ``notebooks/profiles.toml``.

A notebook's ``parameters`` cell names the profile (from ``PPCL_PROFILE``, so nbval and
JupyterLab pick it up; papermill may override it) and a dict of overrides; this module only
reads the file. Nothing in ``ppcl`` depends on which profile runs.
"""
from __future__ import annotations

import copy
import tomllib
from pathlib import Path

PROFILES_FILE = Path(__file__).resolve().parent.parent / "notebooks" / "profiles.toml"


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_profile(name: str, overrides: dict | None = None, path: str | Path | None = None) -> dict:
    """The parameters of profile ``name`` with ``overrides`` merged in (nested dicts merge)."""
    path = Path(path) if path else PROFILES_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expected the profiles file (TOML); found no such file")
    with open(path, "rb") as f:
        profiles = tomllib.load(f)
    if name not in profiles:
        raise KeyError(f"{path}: expected a profile named {name!r}; found {sorted(profiles)}")
    return _merge(profiles[name], overrides or {})

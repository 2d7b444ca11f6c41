"""Writing a run's results: tables as CSV + JSON, written atomically (temp file, then rename)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def _atomic_write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def save_json(obj: Any, folder: str | Path, name: str) -> Path:
    return _atomic_write(Path(folder) / f"{name}.json", json.dumps(obj, indent=1, default=_jsonable))


def save_table(df, folder: str | Path, name: str) -> Path:
    """A pandas DataFrame as ``name.csv`` and ``name.json`` (records) in ``folder``."""
    folder = Path(folder)
    _atomic_write(folder / f"{name}.csv", df.to_csv(index=False))
    _atomic_write(folder / f"{name}.json", df.to_json(orient="records", indent=1))
    return folder / f"{name}.csv"


def _jsonable(o: Any):
    import numpy as np

    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)

"""Writing a run's results: tables as CSV + JSON, written atomically (temp file, then rename)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..io import write_text


def save_json(obj: Any, folder: str | Path, name: str) -> Path:
    """``obj`` as ``folder/name.json`` (numpy and torch values as plain numbers and lists)."""
    return write_text(Path(folder) / f"{name}.json", json.dumps(obj, indent=1, default=_jsonable))


def save_table(df, folder: str | Path, name: str) -> Path:
    """A pandas DataFrame as ``name.csv`` and ``name.json`` (records) in ``folder``."""
    folder = Path(folder)
    write_text(folder / f"{name}.csv", df.to_csv(index=False))
    write_text(folder / f"{name}.json", df.to_json(orient="records", indent=1))
    return folder / f"{name}.csv"


def _jsonable(o: Any):
    if hasattr(o, "tolist"):  # numpy arrays and scalars, torch tensors
        return o.tolist()
    return str(o)

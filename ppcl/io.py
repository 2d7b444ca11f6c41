"""Files the kit writes and reads: atomic writes, and checkpoints that load without pickle.

Every file is written to a temporary name beside its target and renamed into place, so an
interrupted run never leaves a half-written file that looks finished.

Checkpoints are plain dicts of tensors, numbers, strings, lists and dicts (an architecture as a
dict, a history as lists of dicts), so they load with ``torch.load(..., weights_only=True)``:
reading a checkpoint someone else made never runs their code. A file that needs pickle to load
is refused, naming the path, and nothing in it is executed.
"""
from __future__ import annotations

import json
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

PICKLE_REFUSED = (
    "it needs pickle to load (objects other than tensors, numbers, strings, lists and dicts), so it was "
    "refused and nothing in it was executed. A checkpoint written by this kit never needs pickle; if you "
    "trust the file's origin, convert it once with `python -m ppcl.io convert OLD NEW`"
)


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    The temporary file is removed if ``write`` fails; ``path`` is either untouched or complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_text(path: str | Path, text: str) -> Path:
    """``text`` to ``path``, atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def write_json(path: str | Path, obj: Any, **kw) -> Path:
    """``obj`` as JSON to ``path``, atomically (``kw`` go to ``json.dumps``)."""
    return write_text(path, json.dumps(obj, indent=1, **kw) + "\n")


def save_checkpoint(obj: dict, path: str | Path) -> Path:
    """``torch.save`` a checkpoint dict atomically. Refuses content that would need pickle."""
    if not isinstance(obj, dict):
        raise TypeError(f"a checkpoint must be a dict; got {type(obj).__name__}")
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def read_checkpoint(path: str | Path, required: tuple[str, ...] = ("arch", "model")) -> dict:
    """A kit checkpoint as a dict, loaded with ``weights_only=True`` (never unpickling objects).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` (naming the path, what was
    expected and what was found) for a truncated file, a file that needs pickle, or a dict
    without the ``required`` keys.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expected a ppcl checkpoint file; found no such file")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; anything else is not ours
        raise ValueError(f"{path}: expected a ppcl checkpoint (a torch.save zip archive); found a file of another format")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError(f"{path}: expected a ppcl checkpoint; {PICKLE_REFUSED}") from None
    except Exception as e:  # a truncated or foreign file
        raise ValueError(f"{path}: expected a ppcl checkpoint; found an unreadable file ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict) or any(k not in obj for k in required):
        found = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"{path}: expected a ppcl checkpoint dict with keys {list(required)}; found {found}")
    return obj


def canonical_arch(arch: dict) -> str:
    """An architecture dict as a canonical string (tuples and lists compare equal)."""
    return json.dumps(arch, sort_keys=True, default=list)


def load_checkpoint(path: str | Path, model: nn.Module) -> dict:
    """Load a checkpoint into ``model`` (or the model inside a DDP wrapper) after checking it
    was saved for the same architecture (``model.arch()``); returns the checkpoint dict."""
    inner = getattr(model, "module", model)
    ckpt = read_checkpoint(path)
    want = inner.arch()
    if canonical_arch(ckpt["arch"]) != canonical_arch(want):
        raise ValueError(f"{path}: expected a checkpoint of {want}; found one of {ckpt['arch']}")
    inner.load_state_dict(ckpt["model"])
    return ckpt


def convert_checkpoint(src: str | Path, dst: str | Path) -> Path:
    """Rewrite a checkpoint that needs pickle as one that does not. **This unpickles ``src``**
    (it may run code): use it only on a file whose origin you trust. Non-tensor leaves that are
    not plain Python values become plain values (numpy scalars and arrays to numbers and lists)."""
    obj = torch.load(Path(src), map_location="cpu", weights_only=False)

    def plain(v):
        if isinstance(v, torch.Tensor) or v is None or type(v) in (bool, int, float, str):
            return v
        if isinstance(v, dict):
            return {plain(k): plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, tuple):
            return tuple(plain(x) for x in v)
        if hasattr(v, "tolist"):
            return v.tolist()
        raise TypeError(f"{src}: cannot convert a {type(v).__name__} to a plain value")

    return save_checkpoint(plain(obj), dst)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m ppcl.io", description="Kit checkpoint utilities.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="rewrite a trusted checkpoint that needs pickle as a pickle-free one")
    c.add_argument("src", type=Path)
    c.add_argument("dst", type=Path)
    chk = sub.add_parser("check", help="load a checkpoint without pickle and print its keys and architecture")
    chk.add_argument("path", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "convert":
        print(convert_checkpoint(args.src, args.dst))
    else:
        ck = read_checkpoint(args.path)
        print(json.dumps({"keys": sorted(ck), "arch": ck["arch"]}, indent=1, default=list))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

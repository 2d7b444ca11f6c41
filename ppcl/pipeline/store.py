"""The model store: every trained model kept once, under a key of everything that determines it.

``<cache>/models/<name>-<key>/`` holds ``train.pt`` (written every epoch: an interrupted training
resumes) and what the training chose (``best.pt``, the best validation epoch; ``glrec.pt``, GLRec
with its gate threshold). A later cell, notebook or run that asks for the same model loads it
instead of training it again; the run folder gets a hard link (or a copy) of each model it used
under ``checkpoints/`` and their keys in ``checkpoints/models.json``.

A key is a hash of plain values (:func:`model_key`): the recipe, the seed, the data
(:func:`data_identity`) and the kit's training code (:func:`code_version`), a hash of every module
of the package a training imports, found by following the imports from
:data:`TRAINING_ENTRY` (function-level imports included), so a model trained by other code is
never reused and no list of files is kept by hand.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from ..config import to_dict
from ..data.common import Record
from ..io import write_json

PACKAGE = Path(__file__).resolve().parents[1]  # the ppcl package folder
TRAINING_ENTRY = ("ppcl.pipeline.training",)  # what trains every model of the store


def _module_files() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its ``__init__``)."""
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``name`` (at ``path``) imports anywhere in its body, as dotted names;
    importing ``a.b.c`` also imports the packages ``a.b`` and ``a`` (their ``__init__``)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found |= {c for c in (target, *(f"{target}.{a.name}" for a in node.names)) if c in known}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
    parents = {".".join(m.split(".")[:i]) for m in found for i in range(1, m.count(".") + 1)}
    return (found | {p for p in parents if p in known}) - {name}


@functools.cache
def training_modules(entry: tuple[str, ...] = TRAINING_ENTRY) -> tuple[str, ...]:
    """Every package module reachable by imports from ``entry`` (sorted)."""
    files = _module_files()
    unknown = [e for e in entry if e not in files]
    if unknown:
        raise ValueError(f"entry: expected modules of the package; found {unknown}")
    seen, todo = set(entry), list(entry)
    while todo:
        m = todo.pop()
        for dep in imported_modules(m, files[m], set(files)):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return tuple(sorted(seen))


def code_version() -> str:
    """A hash of the source of every module a training imports (:func:`training_modules`)."""
    files = _module_files()
    h = hashlib.sha1()
    for m in training_modules():
        h.update(m.encode())
        h.update(files[m].read_bytes())
    return h.hexdigest()[:12]


def model_key(**parts) -> str:
    """A short stable hash of ``parts`` (plain values, dicts and dataclasses).

    >>> model_key(seed=0, recipe={"lr": 1e-3}) == model_key(recipe={"lr": 1e-3}, seed=0)
    True
    """
    blob = json.dumps(to_dict(parts), sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def data_identity(root: Path, records: Sequence[Record]) -> str:
    """Names the training data: its root (a synthetic set's folder carries its config's hash), its
    size, and a hash of every (path, label, camera) it holds, so other images or other labels with
    the same counts are other data."""
    h = hashlib.sha1()
    for r in records:
        h.update(f"{r.path}\t{r.pid}\t{r.camid}\n".encode())
    return f"{Path(root).resolve()}:{len(records)}:{len({r.pid for r in records})}:{h.hexdigest()[:12]}"


def link_into(src: Path, dst: Path) -> Path:
    """``dst`` as a hard link to ``src`` (a copy where links are impossible), replaced atomically."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    if tmp.exists():
        tmp.unlink()
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    finally:  # a crash before the rename leaves the old dst whole and no temporary file
        if tmp.exists():
            tmp.unlink()
    return dst


def record_model(run, name: str, key: str, path: Path, info: dict) -> None:
    """Link ``path`` into the run folder as ``checkpoints/<name>.pt`` and note it (its key, its
    place in the store and ``info``) in ``checkpoints/models.json``."""
    link_into(path, run.checkpoints / f"{name}.pt")
    index_path = run.checkpoints / "models.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    index[name] = {"key": key, "store": str(path), **info}
    write_json(index_path, index, sort_keys=True)

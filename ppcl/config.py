"""Config dataclasses from plain dicts, and back: the one schema of every parameter.

Each component's frozen dataclass (``GLRecConfig``, ``BackboneConfig``, ``CRLocConfig``,
``PPCLLossConfig``, the training recipes in :mod:`ppcl.pipeline.profiles`) *is* the schema. Profiles,
``--set`` overrides, papermill parameters and checkpoint architectures are plain dicts (TOML and
JSON have no tuples); :func:`from_dict` turns one into its dataclass, converting lists to
tuples and nested dicts to nested dataclasses, and refuses a key the dataclass has no field
for, naming the valid fields, or a value of the wrong type, naming the field. A nested table
changes its field's own default key by key (the face recipe's GLRec keeps its 224x224 input when a
profile sets only its epochs).

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Box:
...     size: tuple[int, int] = (2, 1)
...     name: str = "box"
>>> from_dict(Box, {"size": [4, 2]})
Box(size=(4, 2), name='box')
>>> from_dict(Box, {"sise": [4, 2]})
Traceback (most recent call last):
...
ValueError: sise: expected one of Box's fields ['name', 'size']; found no field 'sise'
"""
from __future__ import annotations

import copy
import dataclasses
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    """``value`` as type ``tp`` (a tuple from a list, a dataclass from a dict), or a ValueError."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for opt in options:
            if opt is type(None):
                continue
            try:
                return _coerce(opt, value, where)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[0] if len(errors) == 1 else f"{where}: expected {tp}; found {value!r}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a table of {tp.__name__}'s fields; found {value!r}")
        return from_dict(tp, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list; found {value!r}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ValueError(f"{where}: expected a list of {len(args)} values; found {list(value)!r}")
        return tuple(_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a table; found {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false; found {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an integer; found {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected a number; found {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string (quote it in TOML); found {value!r}")
        return value
    return value


def from_dict(cls: type[T], d: dict, where: str = "") -> T:
    """An instance of the dataclass ``cls`` from the plain dict ``d`` (missing keys keep their
    defaults). ``where`` is the dotted path used in error messages (e.g. ``ppcl.crloc``)."""
    if not isinstance(d, dict):
        raise ValueError(f"{where or cls.__name__}: expected a table of {cls.__name__}'s fields; found {d!r}")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in d.items():
        path = f"{where}.{key}" if where else key
        if key not in fields:
            raise ValueError(f"{path}: expected one of {cls.__name__}'s fields {sorted(fields)}; found no field {key!r}")
        default = fields[key].default
        if isinstance(value, dict) and dataclasses.is_dataclass(default) and not isinstance(default, type):
            value = merge(to_dict(default), value)  # a nested table changes the field's own default, key by key
        kwargs[key] = _coerce(hints[key], value, path)
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """A (nested) dataclass as a plain JSON-able dict: tuples become lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def merge(base: dict, extra: dict) -> dict:
    """``extra`` merged into a copy of ``base`` (nested tables merge, other values replace)."""
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out

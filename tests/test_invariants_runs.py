"""A run's files, tested as invariants:

* atomic writes: a crash between writing the temporary file and renaming it (``os.replace``
  raising), or inside the writing itself, leaves the old file whole and no temporary file behind,
  for every writer the kit uses (text, JSON, checkpoints, tables, manifests, run-folder links);
* resume: a notebook that failed (or whose execution was interrupted) is never recorded as done;
  a run without ``--resume`` never reuses a stale record; ``--resume`` runs exactly the notebooks
  not recorded as done, in order.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import papermill
import pytest
import torch

from ppcl import io
from ppcl.pipeline import results
from ppcl.data.partial_lfw import write_manifest
from ppcl.pipeline.store import link_into
from ppcl.pipeline.reproduce import run

OLD = b'{"old": "a whole file the crash must not touch"}\n'


class Crash(Exception):
    pass


def _writers(tmp_path: Path) -> dict:
    """name -> (target path, a call that writes it)."""
    src = tmp_path / "source.pt"
    io.save_checkpoint({"arch": {"model": "x"}, "model": {"w": torch.ones(2)}}, src)
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, 0.25]})
    return {
        "write_text": (tmp_path / "t.txt", lambda p: io.write_text(p, "new text")),
        "write_json": (tmp_path / "run.json", lambda p: io.write_json(p, {"notebooks": {"01": {"status": "done"}}})),
        "save_checkpoint": (tmp_path / "train.pt", lambda p: io.save_checkpoint({"arch": {}, "model": {"w": torch.zeros(3)}}, p)),
        "save_json": (tmp_path / "tables" / "t.json", lambda p: results.save_json({"x": np.arange(3)}, p.parent, "t")),
        "save_table (csv)": (tmp_path / "tables" / "s.csv", lambda p: results.save_table(df, p.parent, "s")),
        "save_table (json)": (tmp_path / "tables" / "s.json", lambda p: results.save_table(df, p.parent, "s")),
        "write_manifest": (tmp_path / "plfw.json", lambda p: write_manifest({"protocol": "Partial-LFW"}, p)),
        "link_into": (tmp_path / "checkpoints" / "ppcl-s0.pt", lambda p: link_into(src, p)),
    }


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep and ".tmp" in p.name)


@pytest.mark.parametrize("name", list(_writers(Path("/nowhere"))))
def test_a_crash_before_the_rename_leaves_the_old_file_whole(tmp_path, monkeypatch, name):
    target, write = _writers(tmp_path)[name]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(OLD)
    before = set(os.listdir(target.parent))
    write(target)  # the writer works ...
    assert target.read_bytes() != OLD
    target.write_bytes(OLD)

    def crash(src, dst):
        assert Path(src).is_file() and Path(src) != Path(dst)  # written in full, beside the target
        raise Crash(f"killed between writing {src} and renaming it")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(Crash):
        write(target)
    assert target.read_bytes() == OLD, f"{name}: the old file was changed by a write that never finished"
    assert _leftovers(target.parent, before) == [], f"{name}: temporary files left behind"


def test_a_crash_inside_link_into_leaves_no_temporary_file(tmp_path, monkeypatch):
    target, write = _writers(tmp_path)["link_into"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(OLD)
    monkeypatch.setattr(os, "replace", lambda s, d: (_ for _ in ()).throw(Crash("killed")))
    with pytest.raises(Crash):
        write(target)
    assert _leftovers(target.parent, {target.name}) == []


@pytest.mark.parametrize("name", ["write_text", "write_json", "save_checkpoint"])
def test_a_crash_while_writing_leaves_the_old_file_whole_and_a_new_one_absent(tmp_path, monkeypatch, name):
    target, write = _writers(tmp_path)[name]
    target.write_bytes(OLD)
    real_save, real_write_text = torch.save, Path.write_text

    def half_then_crash(self_or_obj, *a, **k):
        path = self_or_obj if isinstance(self_or_obj, Path) else Path(a[0])
        path.write_bytes(b"half")
        raise Crash("the disk filled up")

    monkeypatch.setattr(torch, "save", lambda obj, f, *a, **k: half_then_crash(obj, f))
    monkeypatch.setattr(Path, "write_text", lambda self, *a, **k: half_then_crash(self))
    with pytest.raises(Crash):
        write(target)
    monkeypatch.setattr(torch, "save", real_save)
    monkeypatch.setattr(Path, "write_text", real_write_text)
    assert target.read_bytes() == OLD
    assert _leftovers(tmp_path, {target.name}) == []
    fresh = tmp_path / "fresh" / target.name
    monkeypatch.setattr(os, "replace", lambda s, d: (_ for _ in ()).throw(Crash("killed")))
    with pytest.raises(Crash):
        write(fresh)
    assert not fresh.exists(), f"{name}: a write that never finished left a file at the target"


# ---- resume --------------------------------------------------------------------------------------
NOTEBOOKS = ("01_a.ipynb", "02_b.ipynb", "03_c.ipynb")


def _notebooks(tmp_path: Path) -> Path:
    folder = tmp_path / "nbs"
    folder.mkdir(parents=True, exist_ok=True)
    for name in NOTEBOOKS:
        (folder / name).write_text("{}")
    return folder


class Executor:
    """papermill.execute_notebook's stand-in: records what ran; ``fail`` maps a notebook to an
    exception it raises after writing a partial output."""

    def __init__(self, fail: dict[str, BaseException] | None = None):
        self.ran: list[str] = []
        self.fail = fail or {}

    def __call__(self, src, dst, **kw):
        name = Path(src).name
        self.ran.append(name)
        Path(dst).write_text("partial output" if name in self.fail else "done")
        if name in self.fail:
            raise self.fail[name]


def _state(out: Path) -> dict:
    return {k: v["status"] for k, v in json.loads((out / "run.json").read_text())["notebooks"].items()}


def _failure() -> papermill.PapermillExecutionError:
    return papermill.PapermillExecutionError(cell_index=2, exec_count=3, source="x", ename="AssertionError",
                                             evalue="made to fail", traceback=[])


@pytest.mark.parametrize("how", ["cell error", "interrupted", "kernel died"])
def test_a_notebook_that_did_not_finish_is_never_recorded_as_done(tmp_path, monkeypatch, how):
    nbs, out = _notebooks(tmp_path), tmp_path / "run"
    error = {"cell error": _failure(), "interrupted": KeyboardInterrupt(), "kernel died": RuntimeError("Kernel died")}[how]
    ex = Executor({"02_b.ipynb": error})
    monkeypatch.setattr(papermill, "execute_notebook", ex)
    if how == "cell error":
        assert run("smoke", out, notebooks_dir=nbs, report=False) == 1
    else:
        with pytest.raises(type(error)):
            run("smoke", out, notebooks_dir=nbs, report=False)
    assert ex.ran == ["01_a.ipynb", "02_b.ipynb"], "the run went on after a notebook failed"
    state = _state(out)
    assert state.get("01_a.ipynb") == "done"
    assert state.get("02_b.ipynb") != "done" and state.get("03_c.ipynb") is None, state
    ex2 = Executor()
    monkeypatch.setattr(papermill, "execute_notebook", ex2)
    assert run("smoke", out, notebooks_dir=nbs, resume=True, report=False) == 0
    assert ex2.ran == ["02_b.ipynb", "03_c.ipynb"], "--resume must rerun the unfinished notebook and the rest, in order"
    assert _state(out) == dict.fromkeys(NOTEBOOKS, "done")


def test_a_run_without_resume_never_reuses_a_stale_record(tmp_path, monkeypatch):
    nbs, out = _notebooks(tmp_path), tmp_path / "run"
    monkeypatch.setattr(papermill, "execute_notebook", Executor())
    assert run("smoke", out, notebooks_dir=nbs, report=False) == 0
    assert _state(out) == dict.fromkeys(NOTEBOOKS, "done")
    ex = Executor({"01_a.ipynb": _failure()})  # the same folder, same parameters, no --resume
    monkeypatch.setattr(papermill, "execute_notebook", ex)
    assert run("smoke", out, notebooks_dir=nbs, report=False) == 1
    assert ex.ran == ["01_a.ipynb"]
    assert _state(out) == {"01_a.ipynb": "failed"}, "stale 'done' records of the earlier run were kept"
    ex = Executor()
    monkeypatch.setattr(papermill, "execute_notebook", ex)
    assert run("smoke", out, notebooks_dir=nbs, report=False) == 0
    assert ex.ran == list(NOTEBOOKS), "a run without --resume skipped notebooks"


def test_resume_runs_exactly_the_notebooks_not_done_and_refuses_other_parameters(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    for case in range(6):
        nbs, out = _notebooks(tmp_path / f"c{case}"), tmp_path / f"c{case}" / "run"
        out.mkdir(parents=True)
        status = {n: str(rng.choice(["done", "failed", "absent"])) for n in NOTEBOOKS}
        params = {"profile": "smoke", "overrides": {}, "data_root": "", "cache_dir": ""}
        (out / "run.json").write_text(json.dumps({"parameters": params, "notebooks": {
            n: {"status": s} for n, s in status.items() if s != "absent"}}))
        ex = Executor()
        monkeypatch.setattr(papermill, "execute_notebook", ex)
        assert run("smoke", out, notebooks_dir=nbs, resume=True, report=False) == 0
        assert ex.ran == [n for n in NOTEBOOKS if status[n] != "done"], f"case {case}: {status} ran {ex.ran}"
        assert _state(out) == dict.fromkeys(NOTEBOOKS, "done")
        with pytest.raises(ValueError, match="--resume expected the run's parameters"):
            run("smoke", out, notebooks_dir=nbs, resume=True, report=False, overrides={"seed": 5})

"""The batch runner: --set overrides validated against the schema, notebook selection, resume."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ppcl.pipeline.profiles import load_profile
from ppcl.pipeline.reproduce import main, notebooks, parse_overrides

ROOT = Path(__file__).resolve().parent.parent


def test_set_builds_nested_overrides_that_merge_into_a_profile():
    o = parse_overrides(["seed=1", "ppcl.epochs=20", "ppcl.area=[0.2, 0.9]", "ppcl.imagenet=true", 'source="real"'])
    assert o == {"seed": 1, "ppcl": {"epochs": 20, "area": [0.2, 0.9], "imagenet": True}, "source": "real"}
    p = load_profile("smoke", o)
    assert p.seed == 1 and p.ppcl.epochs == 20 and p.ppcl.area == (0.2, 0.9) and p.ppcl.lam_cyc == 10.0  # the rest kept


@pytest.mark.parametrize("bad, why", [("seed", "KEY=VALUE"), ("=3", "KEY=VALUE"), ("source=real", "TOML value"),
                                      ("ppcl=1 ", None)])
def test_set_refuses_what_it_cannot_read(bad, why):
    if why is None:  # a key given a value and then used as a table
        with pytest.raises(ValueError, match="already given a value"):
            parse_overrides([bad, "ppcl.epochs=2"])
    else:
        with pytest.raises(ValueError, match=why):
            parse_overrides([bad])


def test_cli_reports_a_bad_set_and_unknown_notebooks(capsys, tmp_path):
    with pytest.raises(SystemExit):
        main(["--profile", "smoke", "--out", str(tmp_path), "--set", "seed"])
    assert "KEY=VALUE" in capsys.readouterr().err
    assert [p.name[:2] for p in notebooks(["01", "03"])] == ["01", "03"]
    with pytest.raises(ValueError, match=r"--only: expected notebook numbers among .*found \['99'\]"):
        notebooks(["99"])


def test_every_documented_option_is_reachable_and_a_typo_is_refused(capsys, tmp_path):
    p = load_profile("smoke", parse_overrides(['ppcl.crloc.locator="free"', "ppcl.triplet_trains_F=false"]))
    assert p.ppcl.crloc.locator == "free" and p.ppcl.loss().triplet_trains_F is False
    with pytest.raises(ValueError, match=r"ppcl\.crloc\.locatr: expected one of CRLocConfig's fields .*'locator'"):
        load_profile("smoke", parse_overrides(['ppcl.crloc.locatr="free"']))
    with pytest.raises(ValueError, match=r"ppcl\.epoch: expected one of PPCLRecipe's fields .*'epochs'"):
        load_profile("smoke", parse_overrides(["ppcl.epoch=2"]))
    with pytest.raises(ValueError, match=r"ppcl\.epochs: expected an integer; found 'x'"):
        load_profile("smoke", parse_overrides(['ppcl.epochs="x"']))
    assert load_profile("smoke", parse_overrides(["faces.glrec.workers=2"])).faces.glrec.workers == 2
    for key in ("glrec", "ppcl", "faces", "faces.glrec"):  # refused before anything runs, naming the key
        with pytest.raises(ValueError, match=rf"^{key}\.workers: expected 0 .* found -1$"):
            load_profile("smoke", parse_overrides([f"{key}.workers=-1"]))
    with pytest.raises(SystemExit):
        main(["--profile", "smoke", "--out", str(tmp_path), "--set", "sed=1"])
    assert "found no field 'sed'" in capsys.readouterr().err


@pytest.mark.slow
def test_an_interrupted_batch_run_resumes_where_it_stopped(tmp_path):
    """Interrupt a smoke run inside notebook 02; --resume keeps 01 (not re-executed) and completes."""
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "ppcl.pipeline.reproduce", "--profile", "smoke", "--out", str(out), "--only", "01,02", "--no-report"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    seen = []
    for line in proc.stdout:  # wait until 01 finished and 02 started
        seen.append(line)
        if "02_glrec_pretraining.ipynb ..." in line:
            break
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGKILL)  # the harshest interruption: no cleanup at all
    proc.wait()
    state = json.loads((out / "run.json").read_text())
    assert state["notebooks"]["01_data.ipynb"]["status"] == "done", "".join(seen)
    assert "02_glrec_pretraining.ipynb" not in state["notebooks"] or state["notebooks"]["02_glrec_pretraining.ipynb"]["status"] != "done"
    first = (out / "notebooks" / "01_data.ipynb").stat().st_mtime_ns
    r = subprocess.run(cmd + ["--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "01_data.ipynb finished earlier: kept" in r.stdout
    assert (out / "notebooks" / "01_data.ipynb").stat().st_mtime_ns == first
    state = json.loads((out / "run.json").read_text())
    assert [state["notebooks"][n]["status"] for n in ("01_data.ipynb", "02_glrec_pretraining.ipynb")] == ["done", "done"]
    assert "finished" in state and (out / "tables" / "02_glrec_summary.csv").is_file()
    # A resume with other parameters is refused rather than mixing two runs in one folder.
    r = subprocess.run(cmd + ["--resume", "--set", "seed=3"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "--resume expected the run's parameters" in r.stderr


def _tiny_notebook(path: Path, source: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = None\noverrides = {}\ndata_root = ""\ncache_dir = ""\nout_dir = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


def test_a_failing_notebook_is_named_with_its_cell_and_resume_continues(tmp_path, capsys):
    """A notebook made to fail stops the run naming itself and its cell; after the fix, --resume keeps
    the notebook that finished (not re-executed) and runs the rest."""
    nbs, out, flag = tmp_path / "nbs", tmp_path / "run", tmp_path / "broken"
    nbs.mkdir()
    flag.write_text("x")
    _tiny_notebook(nbs / "01_first.ipynb", "print('first')")
    _tiny_notebook(nbs / "02_second.ipynb", f"import pathlib\nassert not pathlib.Path({str(flag)!r}).exists(), 'made to fail'")
    from ppcl.pipeline.reproduce import run

    assert run("smoke", out, notebooks_dir=nbs, report=False) == 1
    err = capsys.readouterr().err
    assert "FAILED: 02_second.ipynb, cell [3] of the executed copy: AssertionError: made to fail" in err and "--resume" in err
    first = (out / "notebooks" / "01_first.ipynb").stat().st_mtime_ns
    flag.unlink()  # the fix
    assert run("smoke", out, notebooks_dir=nbs, resume=True) == 0
    assert "01_first.ipynb finished earlier: kept" in capsys.readouterr().out
    assert (out / "notebooks" / "01_first.ipynb").stat().st_mtime_ns == first
    state = json.loads((out / "run.json").read_text())
    assert {k: v["status"] for k, v in state["notebooks"].items()} == {"01_first.ipynb": "done", "02_second.ipynb": "done"}
    assert (out / "REPORT.md").is_file() and "notebook 02_second.ipynb | done" in (out / "REPORT.md").read_text()

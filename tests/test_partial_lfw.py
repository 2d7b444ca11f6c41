"""Partial-LFW protocol builder: selection, one gallery image per id, seeded crops, the script."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ppcl.data.common import DatasetError
from ppcl.data.lfw import load_lfw
from ppcl.data.partial_lfw import build_partial_lfw, read_manifest, write_manifest
from tests.fixtures import LFW_PEOPLE, build_lfw

ROOT = Path(__file__).resolve().parent.parent


def test_picks_the_ids_with_most_images_one_gallery_each_rest_partial(tmp_path):
    data = load_lfw(build_lfw(tmp_path).root)
    multi = sorted((n, name) for name, n in LFW_PEOPLE.items() if n >= 2)
    k = len(multi) - 1
    m = build_partial_lfw(data, n_ids=k, area=(0.3, 0.5), seed=3)
    top = sorted(LFW_PEOPLE, key=lambda name: (-LFW_PEOPLE[name], name))[:k]
    assert sorted(g["name"] for g in m["gallery"]) == sorted(top)
    assert len(m["gallery"]) == k and len({g["pid"] for g in m["gallery"]}) == k
    assert len(m["query"]) == sum(LFW_PEOPLE[n] for n in top) - k
    gal = {g["path"] for g in m["gallery"]}
    assert not gal & {q["path"] for q in m["query"]}
    for q in m["query"]:
        assert 0.3 - 1e-6 <= q["t"][0] * q["t"][1] <= 0.5 + 1e-6
        assert (tmp_path / "lfw" / q["path"]).is_file()
    assert build_partial_lfw(data, n_ids=k, area=(0.3, 0.5), seed=3) == m
    assert build_partial_lfw(data, n_ids=k, area=(0.3, 0.5), seed=4) != m


def test_too_many_ids_is_an_error_naming_the_root(tmp_path):
    data = load_lfw(build_lfw(tmp_path).root)
    with pytest.raises(DatasetError, match=r"lfw: expected at least 1000 identities"):
        build_partial_lfw(data, n_ids=1000)


def test_manifest_roundtrip_and_bad_manifest(tmp_path):
    data = load_lfw(build_lfw(tmp_path).root)
    m = build_partial_lfw(data, n_ids=2)
    p = write_manifest(m, tmp_path / "out" / "plfw.json")
    assert read_manifest(p) == json.loads(json.dumps(m))
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(DatasetError, match="bad.json"):
        read_manifest(tmp_path / "bad.json")


def test_script_writes_the_manifest_and_fails_clearly(tmp_path):
    build_lfw(tmp_path)
    out = tmp_path / "m.json"
    ok = subprocess.run([sys.executable, str(ROOT / "data_prep" / "partial_lfw.py"), str(tmp_path), str(out), "--ids", "2", "--seed", "5"],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(out.read_text())["seed"] == 5
    bad = subprocess.run([sys.executable, str(ROOT / "data_prep" / "partial_lfw.py"), str(tmp_path / "nope"), str(out)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "nope" in bad.stderr


# ---- the protocol file a run reads (data_prep/partial_lfw.py DATA DATA/partial_lfw.json) ---------------------------
PAPER_PLFW = {"faces": {"partial_lfw": {"n_ids": 2}}}


def _run(root: Path, tmp_path: Path, overrides: dict = PAPER_PLFW):
    from ppcl.pipeline.run import setup

    return setup("paper", overrides, data_root=root, cache_dir=tmp_path / "cache", out_dir=tmp_path / "run",
                 progress=False, style=False)


def _script(args: list[str]) -> int:
    """``data_prep/partial_lfw.py ARGS`` in this process (its ``main``; the subprocess is tested above)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("partial_lfw_script", ROOT / "data_prep" / "partial_lfw.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(args)


def test_ids_zero_takes_every_identity_with_two_or_more(tmp_path):
    data = load_lfw(build_lfw(tmp_path).root)
    m = build_partial_lfw(data, n_ids=0)
    assert m["n_ids"] == len(m["gallery"]) == sum(1 for n in LFW_PEOPLE.values() if n >= 2)
    with pytest.raises(ValueError, match=r"--ids: expected 0 .* or more; found -1"):
        build_partial_lfw(data, n_ids=-1, setting="--ids")


def test_the_scripts_defaults_are_the_paper_profiles(tmp_path):
    from ppcl.pipeline.profiles import load_profile

    build_lfw(tmp_path)
    assert _script([str(tmp_path), str(tmp_path / "partial_lfw.json"), "--ids", "2"]) == 0
    m = read_manifest(tmp_path / "partial_lfw.json")
    p = load_profile("paper")
    assert (m["seed"], m["area"], m["sides"]) == (p.seed + p.faces.partial_lfw.seed_offset, list(p.faces.partial_lfw.area),
                                                  list(p.faces.partial_lfw.sides))


def test_a_protocol_file_in_the_data_root_is_the_runs_test_set(tmp_path):
    from ppcl.pipeline.experiments.faces import partial_lfw_for

    build_lfw(tmp_path / "DATA")
    drawn, _ = partial_lfw_for(_run(tmp_path / "DATA", tmp_path))
    assert drawn["protocol_file"] is None
    assert _script([str(tmp_path / "DATA"), str(tmp_path / "DATA" / "partial_lfw.json"), "--ids", "2"]) == 0
    m = json.loads((tmp_path / "DATA" / "partial_lfw.json").read_text())
    m["query"][0]["t"] = [0.5, 0.5, 0.0, 0.0]  # the file, not a redraw, is what the run uses
    write_manifest(m, tmp_path / "DATA" / "partial_lfw.json")
    read, test = partial_lfw_for(_run(tmp_path / "DATA", tmp_path))
    assert read["protocol_file"] == str(tmp_path / "DATA" / "partial_lfw.json")
    assert read["query"] == m["query"] and read["gallery"] == drawn["gallery"] and read["root"] == drawn["root"]
    assert test["t"][0].tolist() == [0.5, 0.5, 0.0, 0.0]


@pytest.mark.parametrize("override, setting, found", [
    ({"faces": {"partial_lfw": {"n_ids": 3}}}, "faces.partial_lfw.n_ids = 3", "faces.partial_lfw.n_ids = 2"),
    ({"faces": {"partial_lfw": {"n_ids": 2, "area": [0.5, 0.8]}}}, "faces.partial_lfw.area = [0.5, 0.8]", "[0.3, 0.8]"),
    ({"faces": {"partial_lfw": {"n_ids": 2, "sides": ["free"]}}}, "faces.partial_lfw.sides = ['free']", "sides = ['top'"),
    ({"seed": 4, "faces": {"partial_lfw": {"n_ids": 2}}}, "seed + faces.partial_lfw.seed_offset = 1004", "= 1000"),
    ({"faces": {"partial_lfw": {"n_ids": 2, "seed_offset": 7}}}, "seed + faces.partial_lfw.seed_offset = 7", "= 1000"),
])
def test_a_protocol_file_built_with_other_settings_is_refused_naming_file_and_setting(tmp_path, override, setting, found):
    from ppcl.pipeline.experiments.faces import partial_lfw_for

    build_lfw(tmp_path / "DATA")
    path = tmp_path / "DATA" / "partial_lfw.json"
    assert _script([str(tmp_path / "DATA"), str(path), "--ids", "2"]) == 0
    with pytest.raises(DatasetError) as e:
        partial_lfw_for(_run(tmp_path / "DATA", tmp_path, override))
    msg = str(e.value)
    assert msg.startswith(f"{path}: expected a Partial-LFW protocol built with this run's {setting}; found"), msg
    assert found in msg and "python data_prep/partial_lfw.py" in msg and "or remove it" in msg


def test_a_protocol_file_naming_images_this_lfw_lacks_is_refused(tmp_path):
    from ppcl.pipeline.experiments.faces import partial_lfw_for

    build_lfw(tmp_path / "DATA")
    path = tmp_path / "DATA" / "partial_lfw.json"
    assert _script([str(tmp_path / "DATA"), str(path), "--ids", "2"]) == 0
    (tmp_path / "DATA" / "lfw" / "George_W_Bush" / "George_W_Bush_0002.jpg").unlink()  # in the file: 3 images, a query
    with pytest.raises(DatasetError, match=rf"^{re.escape(str(path))}: expected images of the LFW folder this run reads"):
        partial_lfw_for(_run(tmp_path / "DATA", tmp_path, {"faces": {"partial_lfw": {"n_ids": 2}}}))

"""Partial-LFW protocol builder: selection, one gallery image per id, seeded crops, the script."""
import json
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

"""The documented data steps, run as docs/real-data.md writes them, and the rule for aligned faces.

The steps: every ``python ...`` line of the page's ``bash`` blocks, in order, with ``DATA`` a tiny
tree laid out exactly as the downloads unpack (the smoke preset's synthetic people and faces copied
into the real datasets' folders, as the device check does), each script called through its
``main`` (the command without the interpreter's start-up). Then the plan's bounds on the result
and the readers on it: the face sets must come from ``DATA/aligned/``.

The rule (ppcl/data/aligned.py): a face reader given a folder holding ``aligned/`` reads its set
there, refuses an ``aligned/`` that lacks it or differs from the raw download beside it, naming
both folders; checked here on the reader tests' fixture trees (8x4 px images, no detector).
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
from PIL import Image

from ppcl.data.align import align_tree
from ppcl.data.aligned import ALIGNED_DIR, MANIFEST
from ppcl.data.casia_webface import load_casia_webface
from ppcl.data.common import DatasetError
from ppcl.data.lfw import load_lfw
from ppcl.data.sources import load_datasets
from tests.fixtures import LFW_PEOPLE, build_casia_webface, build_lfw, write_jpeg

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "real-data.md"
FACES = ("lfw", "casia_webface")
# What each documented command does on the tiny tree: 0, except the two that hold the paper's own
# numbers against data far too small for them, and must say so naming the setting.
REFUSED = {"data_prep/partial_lfw.py": (2, "(--ids = 1000)"),
           "ppcl.pipeline.reproduce": (1, "faces.partial_lfw.n_ids = 1000")}


def doc_commands() -> list[list[str]]:
    """Every command line of the page's ``bash`` blocks, split as the shell splits it."""
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(), re.S)
    return [shlex.split(line, comments=True) for b in blocks for line in b.splitlines() if shlex.split(line, comments=True)]


def _script(path: str):
    spec = importlib.util.spec_from_file_location(f"doc_{Path(path).stem}", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_command(argv: list[str], data: Path) -> tuple[str, int, str]:
    """Run one documented command with ``DATA`` standing for ``data``: ``(tool, exit status, output)``."""
    args = [str(data) + a[len("DATA"):] if a == "DATA" or a.startswith("DATA/") else a for a in argv]
    assert args[0] == "python", args
    tool, rest = (args[2], args[3:]) if args[1] == "-m" else (args[1], args[2:])
    main = importlib.import_module(tool).main if args[1] == "-m" else _script(tool).main
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        rc = main(rest)
    return tool, rc, out.getvalue()


@pytest.fixture(scope="module")
def steps(tmp_path_factory):
    """The downloads, then every documented command in order: ``(DATA, [(command, tool, rc, output)])``."""
    from ppcl.pipeline.devicecheck import real_layout_root
    from ppcl.pipeline.run import default_cache_dir

    data = real_layout_root(tmp_path_factory.mktemp("steps") / "DATA", {"preset": "smoke"}, default_cache_dir())
    return data, [(argv, *run_command(argv, data)) for argv in doc_commands()]


def test_every_documented_command_runs_on_the_downloads(steps):
    data, results = steps
    verified = {argv[2] for argv, tool, _, _ in results if tool == "data_prep/verify.py"}
    aligned = {argv[3] for argv, tool, _, _ in results if tool == "data_prep/align_faces.py"}
    assert verified == {"market1501", "partial_reid", "partial_ilids", *FACES}
    assert aligned == {"DATA/aligned/CASIA-WebFace", "DATA/aligned/lfw"}
    assert {tool for _, tool, _, _ in results} >= set(REFUSED)
    for argv, tool, rc, out in results:
        want, says = REFUSED.get(tool, (0, ""))
        assert rc == want and says in out, f"{shlex.join(argv)} -> {rc}:\n{out[-2000:]}"
    for argv, tool, rc, out in results:
        if tool == "data_prep/align_faces.py":  # MTCNN finds faces; each run ends by reading DATA as a run does
            assert int(re.search(r"(\d+) faces detected", out)[1]) >= 1 and f"--data-root {data} reads these faces" in out, out
        if tool == "data_prep/verify.py" and argv[3] == "DATA":  # the aligned sets, compared with the raw ones
            assert "the aligned faces; the same identities and images as the raw download" in out, out


def test_the_readers_load_the_aligned_faces(steps):
    data, _ = steps
    sets = load_datasets(data)
    aligned = (data / ALIGNED_DIR).resolve()
    for name in FACES:
        d, raw = sets[name], load_datasets(data / ("lfw" if name == "lfw" else "CASIA-WebFace"), [name])[name]
        assert all(aligned in Path(r.path).resolve().parents for r in d.records), name
        assert [Path(r.path).relative_to(d.root) for r in d.records] == [Path(r.path).relative_to(raw.root) for r in raw.records]
        assert d.names == raw.names and d.info["aligned_from"] == str(raw.root)
        with Image.open(d.records[0].path) as im:
            assert im.size == (224, 224)  # align_faces.py's default, the paper's
        top = aligned / ("lfw" if name == "lfw" else "CASIA-WebFace")
        manifest = json.loads((top / MANIFEST).read_text())
        assert manifest["counts"]["images"] == len(d.records) == len({e["source"] for e in manifest["images"]})
    assert Path(sets["lfw"].info["pairs_path"]).resolve().parent == aligned / "lfw"
    for name in ("market1501", "partial_reid", "partial_ilids"):
        assert not any(aligned in Path(r.path).resolve().parents for r in sets[name].query), name


def test_the_plan_bounds_hold_on_the_prepared_data(steps):
    from ppcl.pipeline.devicecheck import check_overrides
    from ppcl.pipeline.plan import check_bounds, summarize
    from ppcl.pipeline.profiles import load_profile

    data, results = steps
    summary = summarize(data)
    assert check_bounds(load_profile("paper", check_overrides(shrink=True)), summary) == []
    assert all((data / ALIGNED_DIR) in Path(r.path).parents for r in summary.face_train)
    plan = next(out for _, tool, _, out in results if tool == "ppcl.pipeline.reproduce")
    assert f"LFW holds only {summary.lfw_eligible} people with two or more images" in plan


def test_the_partial_lfw_file_is_the_runs_test_set(steps, tmp_path):
    """The documented command with the device check's identities: the run reads that file, and it is
    exactly the set the run would draw itself (the script's defaults are the profile's)."""
    from ppcl.pipeline.devicecheck import check_overrides
    from ppcl.pipeline.experiments.faces import partial_lfw_for, partial_lfw_manifest
    from ppcl.pipeline.run import setup

    data, _ = steps
    over = check_overrides(shrink=True)
    n = over["faces"]["partial_lfw"]["n_ids"]
    cmd = next(argv for argv in doc_commands() if argv[1] == "data_prep/partial_lfw.py")
    assert run_command([*cmd, "--ids", str(n)], data)[1] == 0
    run = setup("paper", over, data_root=data, cache_dir=tmp_path / "cache", out_dir=tmp_path / "run",
                progress=False, style=False)
    manifest, test = partial_lfw_for(run)
    assert manifest["protocol_file"] == str(data / "partial_lfw.json")
    cfg = run.profile.faces.partial_lfw
    drawn = partial_lfw_manifest(run.data("lfw")["lfw"], cfg.n_ids, cfg.area, cfg.sides, run.profile.seed + cfg.seed_offset)
    assert {k: manifest[k] for k in drawn} == drawn and len(drawn["gallery"]) == n
    assert Path(manifest["root"]).resolve().parent == (data / ALIGNED_DIR).resolve()
    assert test["gallery"].shape[0] == n


# ---------------------------------------------------------------------------------- the rule


def _aligned_copy(data: Path, raw: Path, name: str) -> Path:
    """``raw`` copied to ``data/aligned/<name>`` (the images unchanged: the rule only looks at the tree)."""
    dst = data / ALIGNED_DIR / name
    shutil.copytree(raw, dst)
    return dst


def test_no_aligned_folder_reads_the_download(tmp_path):
    fx = build_lfw(tmp_path)
    d = load_lfw(tmp_path)
    assert d.root == fx.root and d.info["aligned_root"] is None and d.info["aligned_from"] is None


def test_an_aligned_folder_is_read_instead_of_the_download(tmp_path):
    raw = build_lfw(tmp_path).root
    aligned = _aligned_copy(tmp_path, raw, "lfw")
    (aligned / "pairs.txt").write_text((tmp_path / "pairs.txt").read_text())
    d = load_lfw(tmp_path)
    assert d.root == aligned and d.info["aligned_from"] == str(raw) and d.info["pairs_path"] == str(aligned / "pairs.txt")
    assert load_lfw(tmp_path, aligned=False).root == raw
    c_raw = build_casia_webface(tmp_path).root
    c_aligned = _aligned_copy(tmp_path, c_raw, "CASIA-WebFace")
    assert load_casia_webface(tmp_path).root == c_aligned and load_casia_webface(tmp_path, aligned=False).root == c_raw
    shutil.rmtree(raw)  # the raw download deleted after aligning: the aligned set alone
    assert load_lfw(tmp_path).info["aligned_from"] is None


def test_an_aligned_folder_without_the_set_is_refused_naming_both(tmp_path):
    raw = build_lfw(tmp_path).root
    _aligned_copy(tmp_path, build_casia_webface(tmp_path / "x").root, "CASIA-WebFace")  # CASIA aligned, LFW not
    with pytest.raises(DatasetError) as e:
        load_lfw(tmp_path)
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path / ALIGNED_DIR}: expected LFW aligned by data_prep/align_faces.py")
    assert f"python data_prep/align_faces.py {raw} {tmp_path / ALIGNED_DIR / 'lfw'}" in msg


@pytest.mark.parametrize("change, says", [
    (lambda a: shutil.rmtree(a / "Zico"), "1 identities of the raw tree missing (e.g. Zico)"),
    (lambda a: (a / "George_W_Bush" / "George_W_Bush_0002.jpg").unlink(),
     "1 images of the raw tree missing (e.g. George_W_Bush/George_W_Bush_0002.jpg)"),
    (lambda a: write_jpeg(a / "Zico_Again" / "Zico_Again_0001.jpg"), "1 identities not in the raw tree (e.g. Zico_Again)"),
    (lambda a: write_jpeg(a / "Zico" / "Zico_0003.jpg"), "1 images not in the raw tree (e.g. Zico/Zico_0003.jpg)"),
])
def test_an_aligned_copy_that_differs_from_the_download_is_refused(tmp_path, change, says):
    raw = build_lfw(tmp_path).root
    aligned = _aligned_copy(tmp_path, raw, "lfw")
    change(aligned)
    with pytest.raises(DatasetError, match=re.escape(says)) as e:
        load_lfw(tmp_path)
    assert str(e.value).startswith(f"{aligned}: expected the aligned copy of {raw}:")


def test_the_raw_download_is_found_wherever_it_sorts(tmp_path):
    """A raw set one folder down in a folder sorting after ``aligned`` is still compared with the
    aligned one (not the aligned one with itself)."""
    raw = build_lfw(tmp_path / "zz_downloads").root
    aligned = _aligned_copy(tmp_path, raw, "lfw")
    write_jpeg(raw / "Zico_Late" / "Zico_Late_0001.jpg")  # the download gained a person after aligning
    with pytest.raises(DatasetError, match=r"1 identities of the raw tree missing \(e\.g\. Zico_Late\)"):
        load_lfw(tmp_path)
    assert load_lfw(tmp_path / "zz_downloads").root == raw and aligned.is_dir()


class NoFace:
    """A detector that finds nothing (every image becomes its centre crop): the tree logic alone."""

    def detect(self, image, landmarks=True):
        return None, None, None


def test_alignment_reads_the_raw_download_and_refuses_an_aligned_one(tmp_path):
    data = tmp_path / "DATA"
    build_lfw(data)
    _aligned_copy(data, data / "lfw", "lfw")
    (data / ALIGNED_DIR / "lfw" / "Zico" / "Zico_0001.jpg").write_bytes(b"not what align_tree must read")
    summary = align_tree(data, tmp_path / "out", detector=NoFace())  # the raw tree, not DATA/aligned/
    assert summary["images"] == sum(LFW_PEOPLE.values()) and summary["fallback_center"] == summary["images"]
    with pytest.raises(DatasetError, match=r"expected a raw face download to align; found an aligned tree"):
        align_tree(tmp_path / "out", tmp_path / "again", detector=NoFace())


def test_align_faces_says_where_its_output_is_read(tmp_path):
    align_faces = _script("data_prep/align_faces.py")
    build_lfw(tmp_path / "DATA")
    data = tmp_path / "DATA"
    align_tree(data / "lfw", data / ALIGNED_DIR / "lfw", detector=NoFace())
    assert align_faces.check_readable(data / ALIGNED_DIR / "lfw", "lfw").startswith(f"--data-root {data.resolve()} reads")
    assert "no data root reads it" in align_faces.check_readable(tmp_path / "elsewhere" / "lfw", "lfw")
    # a second aligned copy that the readers would not read (they take aligned/lfw first)
    shutil.copytree(data / ALIGNED_DIR / "lfw", data / ALIGNED_DIR / "lfw-deepfunneled")
    with pytest.raises(DatasetError, match=r"whose lfw is read from .*lfw-deepfunneled; found it is read from .*aligned/lfw$"):
        align_faces.check_readable(data / ALIGNED_DIR / "lfw-deepfunneled", "lfw")

"""Readers for the real datasets, on tiny trees that copy each distributed layout."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ppcl.data.casia_webface import load_casia_webface
from ppcl.data.common import DatasetError, Record, check_images
from ppcl.data.lfw import LFWPair, load_lfw, read_lfw_pairs
from ppcl.data.market1501 import load_market1501
from ppcl.data.partial_ilids import load_partial_ilids
from ppcl.data.partial_reid import load_partial_reid
from ppcl.data.readers import PUBLISHED_COUNTS, READERS, load, observed_counts
from tests.fixtures import (
    BUILDERS,
    build_casia_webface,
    build_lfw,
    build_market1501,
    build_partial_ilids,
    build_partial_reid,
    write_jpeg,
)

COUNT_KEYS = ("train_images", "train_ids", "query_images", "query_ids", "gallery_images", "gallery_ids")


def assert_names(err: pytest.ExceptionInfo[DatasetError], path: Path) -> None:
    assert str(path) in str(err.value)
    assert err.value.path == str(path)


def by_name(records: list[Record]) -> list[tuple[str, int, int | None]]:
    return sorted((Path(r.path).name, r.pid, r.camid) for r in records)


# ----------------------------------------------------------------------------- Market-1501


def test_market_counts_relabel_junk_distractors(tmp_path: Path) -> None:
    fx = build_market1501(tmp_path)
    data = load_market1501(fx.root)
    counts = data.counts()
    for k in COUNT_KEYS:
        assert counts[k] == fx.expected[k], k
    assert data.has_cameras
    assert data.info["train_pid_map"] == fx.expected["train_pid_map"]
    assert sorted({r.pid for r in data.train}) == [0, 1, 2]
    assert {r.pid for r in data.query} == {1, 3, 5}  # original ids kept
    assert {r.pid for r in data.gallery} == {0, 1, 3, 5}  # distractors kept
    assert all(r.pid != -1 for r in data.train + data.query + data.gallery)
    assert data.info["junk"] == fx.expected["junk"]
    assert data.info["distractors"] == fx.expected["distractors"]
    assert data.info["bounding_box_test_files"] == fx.expected["bounding_box_test_files"]


def test_market_camid_is_camera_number_from_name(tmp_path: Path) -> None:
    data = load_market1501(build_market1501(tmp_path).root)
    for r in data.train + data.query + data.gallery:
        name = Path(r.path).name
        assert r.camid == int(name.split("_c")[1][0])
        assert 1 <= r.camid <= 6


def test_market_ignores_stray_files(tmp_path: Path) -> None:
    data = load_market1501(build_market1501(tmp_path).root)
    paths = [r.path for r in data.train + data.query + data.gallery]
    assert not any("gt_bbox" in p or "gt_query" in p or p.endswith("Thumbs.db") for p in paths)


@pytest.mark.parametrize(
    "nest, root_rel",
    [
        ("Market-1501-v15.09.15", "Market-1501-v15.09.15"),  # the extracted folder itself
        ("Market-1501-v15.09.15", ""),  # its parent (fast-reid)
        ("market1501/Market-1501-v15.09.15", ""),  # torchreid
        ("market1501", ""),  # torchreid's older layout
        ("market1501", "market1501"),
    ],
)
def test_market_root_forms(tmp_path: Path, nest: str, root_rel: str) -> None:
    fx = build_market1501(tmp_path, folder=nest)
    data = load_market1501(tmp_path / root_rel)
    assert data.root == fx.root
    assert {k: data.counts()[k] for k in COUNT_KEYS} == {k: fx.expected[k] for k in COUNT_KEYS}


def test_market_digit_parent_does_not_change_ids(tmp_path: Path) -> None:
    plain = load_market1501(build_market1501(tmp_path / "plain").root)
    digits = load_market1501(build_market1501(tmp_path / "cam3_run7" / "0042_c5s1_000001_01").root)
    for a, b in ((plain.train, digits.train), (plain.query, digits.query), (plain.gallery, digits.gallery)):
        assert by_name(a) == by_name(b)


def test_market_junk_dropped_in_every_split(tmp_path: Path) -> None:
    fx = build_market1501(tmp_path)
    write_jpeg(fx.root / "bounding_box_train" / "-1_c1s1_000001_00.jpg")
    write_jpeg(fx.root / "query" / "-1_c2s1_000001_00.jpg")
    data = load_market1501(fx.root)
    assert data.counts()["train_images"] == fx.expected["train_images"]
    assert data.counts()["query_images"] == fx.expected["query_images"]
    assert data.info["junk_dropped"] == {"train": 1, "query": 1, "gallery": fx.expected["junk"]}


@pytest.mark.parametrize(
    "bad", ["0002_c7s1_000451_03.jpg", "2_c1s1_000451_03.jpg", "0002_c1s1_000451.jpg", "img.png"]
)
def test_market_unparseable_name(tmp_path: Path, bad: str) -> None:
    fx = build_market1501(tmp_path)
    path = write_jpeg(fx.root / "bounding_box_train" / bad)
    with pytest.raises(DatasetError) as err:
        load_market1501(fx.root)
    assert_names(err, path)
    assert "PPPP_cCsS_FFFFFF_NN.jpg" in str(err.value)


def test_market_distractor_outside_test_refused(tmp_path: Path) -> None:
    fx = build_market1501(tmp_path)
    path = write_jpeg(fx.root / "query" / "0000_c1s1_000151_01.jpg")
    with pytest.raises(DatasetError) as err:
        load_market1501(fx.root)
    assert_names(err, path)


@pytest.mark.parametrize("split", ["bounding_box_train", "query", "bounding_box_test"])
def test_market_missing_split(tmp_path: Path, split: str) -> None:
    fx = build_market1501(tmp_path)
    shutil.rmtree(fx.root / split)
    with pytest.raises(DatasetError) as err:
        load_market1501(tmp_path)
    assert_names(err, fx.root / split)


def test_market_empty_split(tmp_path: Path) -> None:
    fx = build_market1501(tmp_path)
    for f in (fx.root / "query").glob("*.jpg"):
        f.unlink()
    with pytest.raises(DatasetError) as err:
        load_market1501(fx.root)
    assert_names(err, fx.root / "query")
    assert "Thumbs.db" in str(err.value)  # what was found there


def test_market_wrong_root(tmp_path: Path) -> None:
    (tmp_path / "something_else").mkdir()
    with pytest.raises(DatasetError) as err:
        load_market1501(tmp_path)
    assert_names(err, tmp_path)
    msg = str(err.value)
    assert "Market-1501-v15.09.15/" in msg and "market1501/" in msg and "bounding_box_train/" in msg
    assert "something_else" in msg


def test_market_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        load_market1501(tmp_path / "nope")
    assert_names(err, tmp_path / "nope")
    assert "no such folder" in str(err.value)


# ----------------------------------------------------------------------------- Partial-REID


def test_partial_reid_counts_and_no_cameras(tmp_path: Path) -> None:
    fx = build_partial_reid(tmp_path)
    data = load_partial_reid(fx.root)
    counts = data.counts()
    for k in COUNT_KEYS:
        assert counts[k] == fx.expected[k], k
    assert data.train == []
    assert not data.has_cameras
    assert all(r.camid is None for r in data.query + data.gallery)
    assert {r.pid for r in data.query} == {1, 2, 5}  # original 3-digit ids
    assert all("partial_body_images" in r.path for r in data.query)
    assert all("whole_body_images" in r.path for r in data.gallery)
    assert data.info["occluded_images_unused"] == fx.expected["occluded_images_unused"]
    assert not any("occluded" in r.path for r in data.query + data.gallery)


def test_partial_reid_image_index_is_never_a_camera(tmp_path: Path) -> None:
    data = load_partial_reid(build_partial_reid(tmp_path).root)
    q = {Path(r.path).name: r for r in data.query}
    g = {Path(r.path).name: r for r in data.gallery}
    # 001_001.jpg exists on both sides: same id, and no camera that could filter the true match
    assert q["001_001.jpg"].pid == g["001_001.jpg"].pid == 1
    assert q["001_001.jpg"].camid is None and g["001_001.jpg"].camid is None
    assert {r.camid for r in data.query + data.gallery} == {None}


@pytest.mark.parametrize(
    "folder, list_files, root_rel",
    [
        ("Partial-REID_Dataset", False, "Partial-REID_Dataset"),
        ("Partial-REID_Dataset", False, ""),
        ("Partial_REID", True, "Partial_REID"),
        ("Partial_REID", True, ""),
        ("Partial_REID", False, ""),
    ],
)
def test_partial_reid_root_forms(tmp_path: Path, folder: str, list_files: bool, root_rel: str) -> None:
    fx = build_partial_reid(tmp_path, folder=folder, list_files=list_files)
    data = load_partial_reid(tmp_path / root_rel)
    assert data.root == fx.root
    assert data.counts()["query_images"] == fx.expected["query_images"]
    assert data.info["list_files_checked"] == (["Probe.txt", "Gallery.txt"] if list_files else [])


def test_partial_reid_digit_parent(tmp_path: Path) -> None:
    a = load_partial_reid(build_partial_reid(tmp_path / "a").root)
    b = load_partial_reid(build_partial_reid(tmp_path / "007_003" / "c2s1_42").root)
    assert by_name(a.query) == by_name(b.query) and by_name(a.gallery) == by_name(b.gallery)


def test_partial_reid_list_mismatch(tmp_path: Path) -> None:
    fx = build_partial_reid(tmp_path, folder="Partial_REID", list_files=True)
    lines = (fx.root / "Gallery.txt").read_text().splitlines()
    (fx.root / "Gallery.txt").write_text("\n".join(lines[1:]) + "\n")
    with pytest.raises(DatasetError) as err:
        load_partial_reid(fx.root)
    assert_names(err, fx.root / "Gallery.txt")
    assert "not listed" in str(err.value)


def test_partial_reid_list_naming_occluded_query_refused(tmp_path: Path) -> None:
    fx = build_partial_reid(tmp_path, folder="Partial_REID", list_files=True)
    text = (fx.root / "Probe.txt").read_text().replace("partial_body_images", "occluded_body_images")
    (fx.root / "Probe.txt").write_text(text)
    with pytest.raises(DatasetError) as err:
        load_partial_reid(fx.root)
    assert_names(err, fx.root / "Probe.txt")


@pytest.mark.parametrize("bad", ["1_1.jpg", "001-001.jpg", "001_001.png", "0001_001.jpg"])
def test_partial_reid_unparseable_name(tmp_path: Path, bad: str) -> None:
    fx = build_partial_reid(tmp_path)
    path = write_jpeg(fx.root / "partial_body_images" / bad)
    with pytest.raises(DatasetError) as err:
        load_partial_reid(fx.root)
    assert_names(err, path)


def test_partial_reid_missing_split(tmp_path: Path) -> None:
    fx = build_partial_reid(tmp_path)
    shutil.rmtree(fx.root / "whole_body_images")
    with pytest.raises(DatasetError) as err:
        load_partial_reid(tmp_path)
    assert_names(err, fx.root / "whole_body_images")


def test_partial_reid_empty_split(tmp_path: Path) -> None:
    fx = build_partial_reid(tmp_path)
    for f in (fx.root / "partial_body_images").iterdir():
        f.unlink()
    with pytest.raises(DatasetError) as err:
        load_partial_reid(fx.root)
    assert_names(err, fx.root / "partial_body_images")


def test_partial_reid_unknown_layout(tmp_path: Path) -> None:
    fx = build_partial_reid(tmp_path)
    shutil.rmtree(fx.root / "partial_body_images")
    shutil.rmtree(fx.root / "whole_body_images")  # only occluded_body_images left
    with pytest.raises(DatasetError) as err:
        load_partial_reid(fx.root)
    assert_names(err, fx.root)
    assert "partial_body_images/" in str(err.value) and "occluded_body_images" in str(err.value)


# ----------------------------------------------------------------------------- Partial-iLIDS


@pytest.mark.parametrize("layout", ["original", "fastreid", "bpbreid"])
@pytest.mark.parametrize("parent", [False, True])
def test_partial_ilids_layouts(tmp_path: Path, layout: str, parent: bool) -> None:
    fx = build_partial_ilids(tmp_path, layout=layout)
    data = load_partial_ilids(tmp_path if parent else fx.root)
    assert data.root == fx.root
    counts = data.counts()
    for k in COUNT_KEYS:
        assert counts[k] == fx.expected[k], k
    assert not data.has_cameras
    assert {r.camid for r in data.query + data.gallery} == {None}
    assert {r.pid for r in data.query} == {1, 2, 3, 17, 119}
    assert data.info["gallery_images"] == fx.expected["gallery_images"]
    assert data.info["gallery_variant"] == fx.expected["gallery_variant"]
    assert data.info["list_files_checked"] == (["Probe.txt", "Gallery.txt"] if layout == "original" else [])


def test_partial_ilids_without_list_files(tmp_path: Path) -> None:
    fx = build_partial_ilids(tmp_path)
    (fx.root / "Probe.txt").unlink()
    (fx.root / "Gallery.txt").unlink()
    assert load_partial_ilids(fx.root).counts()["query_images"] == fx.expected["query_images"]


def test_partial_ilids_unpadded_ids(tmp_path: Path) -> None:
    root = tmp_path / "Partial_iLIDS"
    for split in ("Probe", "Gallery"):
        for pid in (1, 42, 119):
            write_jpeg(root / split / f"{pid}.jpg")
    assert {r.pid for r in load_partial_ilids(tmp_path).gallery} == {1, 42, 119}


@pytest.mark.parametrize("which", ["Probe.txt", "Gallery.txt"])
def test_partial_ilids_list_mismatch(tmp_path: Path, which: str) -> None:
    fx = build_partial_ilids(tmp_path)
    with (fx.root / which).open("a") as f:
        f.write(f"{which[:-4]}/555.jpg\n")
    with pytest.raises(DatasetError) as err:
        load_partial_ilids(fx.root)
    assert_names(err, fx.root / which)
    assert "555.jpg" in str(err.value)


def test_partial_ilids_other_gallery_variant(tmp_path: Path) -> None:
    fx = build_partial_ilids(tmp_path, layout="fastreid")
    for f in list((fx.root / "gallery").glob("*.jpg")):
        shutil.copy(f, f.with_name(f.stem + "_2.jpg"))
    data = load_partial_ilids(fx.root)
    assert data.info["gallery_images"] == 10
    assert data.info["gallery_variant"].startswith("10: 2.00 images per id")
    assert {r.camid for r in data.gallery} == {None}


def test_partial_ilids_unparseable_name(tmp_path: Path) -> None:
    fx = build_partial_ilids(tmp_path)
    path = write_jpeg(fx.root / "Probe" / "001_1.jpg")  # the original has <pid>.jpg only
    with pytest.raises(DatasetError) as err:
        load_partial_ilids(fx.root)
    assert_names(err, path)


def test_partial_ilids_refuses_partial_reid_folder(tmp_path: Path) -> None:
    fx = build_partial_reid(tmp_path)  # partial_body_images/ + whole_body_images/, like bpbreid's iLIDS
    with pytest.raises(DatasetError) as err:
        load_partial_ilids(fx.root)
    assert_names(err, fx.root / "partial_body_images" / "001_001.jpg")


def test_partial_reid_refuses_partial_ilids_folder(tmp_path: Path) -> None:
    fx = build_partial_ilids(tmp_path, layout="bpbreid")
    with pytest.raises(DatasetError) as err:
        load_partial_reid(fx.root)
    assert_names(err, fx.root / "partial_body_images" / "001.jpg")


def test_partial_ilids_missing_split(tmp_path: Path) -> None:
    fx = build_partial_ilids(tmp_path)
    shutil.rmtree(fx.root / "Gallery")
    with pytest.raises(DatasetError) as err:
        load_partial_ilids(tmp_path)
    assert_names(err, fx.root / "Gallery")


def test_partial_ilids_wrong_root(tmp_path: Path) -> None:
    build_partial_reid(tmp_path)  # a different dataset
    with pytest.raises(DatasetError) as err:
        load_partial_ilids(tmp_path)
    assert_names(err, tmp_path)
    assert "Probe/" in str(err.value) and "Partial_iLIDS/" in str(err.value)


# ----------------------------------------------------------------------------- LFW


@pytest.mark.parametrize("folder", ["lfw", "lfw_funneled", "lfw-deepfunneled"])
@pytest.mark.parametrize("parent", [False, True])
def test_lfw_counts_and_root_forms(tmp_path: Path, folder: str, parent: bool) -> None:
    fx = build_lfw(tmp_path, folder=folder)
    data = load_lfw(tmp_path if parent else fx.root)
    assert data.root == fx.root
    counts = data.counts()
    for k in ("images", "ids", "ids_with_2_or_more"):
        assert counts[k] == fx.expected[k]
    assert data.names == fx.expected["names"]
    for r in data.records:
        assert Path(r.path).parent.name == data.names[r.pid]
        assert r.camid is None
    assert data.info["pairs_path"] == fx.expected["pairs_path"]


@pytest.mark.parametrize("pairs", ["beside", "inside", None])
def test_lfw_pairs_path(tmp_path: Path, pairs: str | None) -> None:
    fx = build_lfw(tmp_path, pairs=pairs)
    assert load_lfw(fx.root).info["pairs_path"] == fx.expected["pairs_path"]


def test_lfw_file_not_matching_folder(tmp_path: Path) -> None:
    fx = build_lfw(tmp_path)
    path = write_jpeg(fx.root / "Zico" / "George_W_Bush_0009.jpg")
    with pytest.raises(DatasetError) as err:
        load_lfw(fx.root)
    assert_names(err, path)
    assert "Zico_NNNN.jpg" in str(err.value)


def test_lfw_wrong_root(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetError) as err:
        load_lfw(tmp_path)
    assert_names(err, tmp_path)
    assert "lfw-deepfunneled/" in str(err.value) and "notes.txt" in str(err.value)


def test_lfw_read_pairs(tmp_path: Path) -> None:
    fx = build_lfw(tmp_path)
    pairs = read_lfw_pairs(fx.expected["pairs_path"])
    assert pairs == [
        LFWPair("George_W_Bush", 1, "George_W_Bush", 3, True, 0),
        LFWPair("Abel_Pacheco", 1, "Zico", 2, False, 0),
        LFWPair("Aaron_Peirsol", 1, "Aaron_Peirsol", 2, True, 1),
        LFWPair("Tung_Chee-hwa", 1, "George_W_Bush", 2, False, 1),
    ]
    for p in pairs:
        assert all(path.is_file() for path in p.paths(fx.root))


def test_lfw_read_pairs_dev_header(tmp_path: Path) -> None:
    path = tmp_path / "pairsDevTrain.txt"
    path.write_text("2\na\t1\t2\nb\t1\t3\na\t1\tb\t2\nb\t2\tc\t1\n")
    pairs = read_lfw_pairs(path)
    assert [p.same for p in pairs] == [True, True, False, False]
    assert {p.fold for p in pairs} == {0}


@pytest.mark.parametrize(
    "text",
    [
        "",  # no header
        "ten 300\n",  # bad header
        "1\t1\nGeorge_W_Bush\t1\t3\n",  # too few lines
        "1\t1\nGeorge_W_Bush\t1\tZico\t3\nAbel_Pacheco\t1\tZico\t2\n",  # mismatched where matched belongs
        "1\t1\nGeorge_W_Bush\t1\tx\nAbel_Pacheco\t1\tZico\t2\n",  # bad number
    ],
)
def test_lfw_read_pairs_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text(text)
    with pytest.raises(DatasetError) as err:
        read_lfw_pairs(path)
    assert_names(err, path)


# ----------------------------------------------------------------------------- CASIA-WebFace


@pytest.mark.parametrize(
    "folder, parent", [("CASIA-WebFace", False), ("CASIA-WebFace", True), ("CASIA-maxpy-clean", False)]
)
def test_casia_counts_and_root_forms(tmp_path: Path, folder: str, parent: bool) -> None:
    fx = build_casia_webface(tmp_path, folder=folder)
    data = load_casia_webface(tmp_path if parent else fx.root)
    assert data.root == fx.root
    counts = data.counts()
    for k in ("images", "ids", "ids_with_2_or_more"):
        assert counts[k] == fx.expected[k]
    assert data.names == fx.expected["names"]
    assert all(Path(r.path).parent.name == data.names[r.pid] and r.camid is None for r in data.records)


def test_casia_bad_image_name(tmp_path: Path) -> None:
    fx = build_casia_webface(tmp_path)
    path = write_jpeg(fx.root / "0000045" / "face1.jpg")
    with pytest.raises(DatasetError) as err:
        load_casia_webface(tmp_path)
    assert_names(err, path)


def test_casia_bad_id_folder(tmp_path: Path) -> None:
    fx = build_casia_webface(tmp_path)
    path = fx.root / "45"
    write_jpeg(path / "001.jpg")
    with pytest.raises(DatasetError) as err:
        load_casia_webface(fx.root)
    assert_names(err, path)


def test_casia_wrong_root(tmp_path: Path) -> None:
    (tmp_path / "faces").mkdir()
    with pytest.raises(DatasetError) as err:
        load_casia_webface(tmp_path)
    assert_names(err, tmp_path)
    assert "CASIA-WebFace/" in str(err.value) and "faces" in str(err.value)


# ----------------------------------------------------------------------------- images, registry


def test_check_images_ok_and_bad(tmp_path: Path) -> None:
    data = load_market1501(build_market1501(tmp_path).root)
    records = data.train + data.query + data.gallery
    assert check_images(records) == len(records)
    bad = Path(data.query[1].path)
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError) as err:
        check_images(records)
    assert_names(err, bad)


def test_readers_do_not_open_images(tmp_path: Path) -> None:
    fx = build_market1501(tmp_path)
    (fx.root / "query" / "0001_c1s1_001051_00.jpg").write_bytes(b"broken")
    assert load_market1501(fx.root).counts()["query_images"] == fx.expected["query_images"]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_registry_load_and_published_keys(tmp_path: Path, name: str) -> None:
    fx = BUILDERS[name](tmp_path)
    data = load(name, tmp_path)
    assert data.root == fx.root
    counts = observed_counts(data)
    assert set(PUBLISHED_COUNTS[name]) <= set(counts)
    for k, v in counts.items():
        if k in fx.expected:
            assert v == fx.expected[k], k


def test_registry_names_and_unknown() -> None:
    assert set(READERS) == {"market1501", "partial_reid", "partial_ilids", "lfw", "casia_webface"}
    assert set(PUBLISHED_COUNTS) == set(READERS)
    assert PUBLISHED_COUNTS["market1501"]["gallery_images"] == 15_913
    with pytest.raises(ValueError, match="unknown dataset 'duke'.*market1501"):
        load("duke", "/nowhere")


@pytest.mark.parametrize("lfw_folder", ["lfw", "lfw_funneled", "lfw-deepfunneled"])
def test_every_reader_accepts_the_folder_that_holds_all_the_datasets(tmp_path, lfw_folder):
    """`--data-root DATA` with every download unpacked side by side (LFW's images folder with its
    pairs.txt beside it, as LFW's separate downloads unpack)."""
    from ppcl.data.readers import load
    from tests.fixtures import build_casia_webface, build_lfw, build_market1501, build_partial_ilids, build_partial_reid

    build_market1501(tmp_path), build_partial_reid(tmp_path), build_partial_ilids(tmp_path)
    build_lfw(tmp_path, folder=lfw_folder, pairs="beside"), build_casia_webface(tmp_path)
    roots = {n: load(n, tmp_path).root for n in ("market1501", "partial_reid", "partial_ilids", "lfw", "casia_webface")}
    assert roots["lfw"].name == lfw_folder and roots["market1501"].name == "Market-1501-v15.09.15"
    assert load("lfw", tmp_path).info["pairs_path"] == str(tmp_path / "pairs.txt")

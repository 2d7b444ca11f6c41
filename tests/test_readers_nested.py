"""Every reader finds its dataset by what the folders hold, whatever the names of the folders
above it: one dataset's files kept together under a folder of its own (``DATA/lfw/lfw-deepfunneled/``
with ``DATA/lfw/pairs.txt``), given as that folder or as the data root above it."""
from __future__ import annotations

import pytest

from ppcl.data.common import DatasetError
from ppcl.data.lfw import load_lfw, read_lfw_pairs
from ppcl.data.readers import load
from tests.fixtures import (
    BUILDERS,
    LFW_PAIRS,
    build_casia_webface,
    build_lfw,
    build_market1501,
    build_partial_ilids,
    build_partial_reid,
    write_jpeg,
)

# Parent names that collide with a dataset folder's own name (the reader must not take the parent
# for the dataset), and a neutral one.
PARENTS = {
    "market1501": ["Market-1501-v15.09.15", "market1501", "downloads"],
    "partial_reid": ["Partial-REID_Dataset", "Partial_REID", "downloads"],
    "partial_ilids": ["Partial_iLIDS", "PartialiLIDS", "downloads"],
    "lfw": ["lfw", "lfw-deepfunneled", "downloads"],
    "casia_webface": ["CASIA-WebFace", "downloads"],
}


@pytest.mark.parametrize("image_folder", ["lfw", "lfw_funneled", "lfw-deepfunneled"])
@pytest.mark.parametrize("parent", ["lfw", "LFW", "faces"])
def test_lfw_kept_in_a_folder_of_its_own_loads_from_that_folder_and_from_the_data_root(tmp_path, image_folder, parent):
    """The issue's layout: DATA/lfw/lfw-deepfunneled/<Name>/<Name>_NNNN.jpg and DATA/lfw/pairs.txt."""
    data = tmp_path / "DATA"
    fx = build_lfw(data / parent, folder=image_folder, pairs="beside")
    assert fx.expected["pairs_path"] == str(data / parent / "pairs.txt")
    for root in (data / parent, data):
        got = load_lfw(root)
        assert got.root == fx.root, root
        assert got.info["variant"] == image_folder
        assert got.names == fx.expected["names"]
        assert {k: got.counts()[k] for k in ("images", "ids", "ids_with_2_or_more")} == {
            k: fx.expected[k] for k in ("images", "ids", "ids_with_2_or_more")}
        assert got.info["pairs_path"] == fx.expected["pairs_path"]
        for pair in read_lfw_pairs(got.info["pairs_path"]):
            assert all(p.is_file() for p in pair.paths(got.root))


def test_lfw_pairs_file_at_the_data_root_is_found(tmp_path):
    fx = build_lfw(tmp_path / "lfw", folder="lfw-deepfunneled", pairs=None)
    (tmp_path / "pairs.txt").write_text(LFW_PAIRS)
    assert load_lfw(tmp_path).info["pairs_path"] == str(tmp_path / "pairs.txt")
    assert load_lfw(fx.root).info["pairs_path"] is None  # nothing beside or inside the image folder


def test_the_nearest_lfw_image_folder_wins(tmp_path):
    near = build_lfw(tmp_path, folder="lfw_funneled")
    build_lfw(tmp_path / "old", folder="lfw-deepfunneled")
    assert load_lfw(tmp_path).root == near.root


def test_a_folder_named_like_lfw_that_holds_no_people_is_refused_naming_it(tmp_path):
    """A parent called lfw/ holding an lfw-deepfunneled/ with no person images: the error names
    the folder given and what was found inside, never a person folder called 'lfw-deepfunneled'."""
    empty = tmp_path / "lfw" / "lfw-deepfunneled" / "Zico"
    empty.mkdir(parents=True)
    (empty / "notes.txt").write_text("x")
    with pytest.raises(DatasetError) as err:
        load_lfw(tmp_path / "lfw")
    msg = str(err.value)
    assert err.value.path == str(tmp_path / "lfw")
    assert "<Name>/<Name>_NNNN.jpg" in msg and str(tmp_path / "lfw" / "lfw-deepfunneled") in msg
    assert "lfw-deepfunneled_NNNN.jpg" not in msg


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_reader_finds_its_dataset_below_a_parent_of_any_name(tmp_path, name):
    for parent in PARENTS[name]:
        data = tmp_path / parent.lower() / "DATA"
        fx = BUILDERS[name](data / parent)
        for root in (fx.root, data / parent, data):
            got = load(name, root)
            assert got.root == fx.root, (parent, root)
            counts = got.counts()
            for k, v in counts.items():
                if k in fx.expected:
                    assert v == fx.expected[k], (parent, root, k)


def test_a_data_root_with_each_dataset_in_a_folder_of_its_own(tmp_path):
    """``--data-root DATA`` with DATA/market/Market-1501-v15.09.15, DATA/lfw/lfw-deepfunneled, ..."""
    roots = {"market1501": build_market1501(tmp_path / "market").root,
             "partial_reid": build_partial_reid(tmp_path / "partial").root,
             "partial_ilids": build_partial_ilids(tmp_path / "partial").root,
             "lfw": build_lfw(tmp_path / "lfw", folder="lfw-deepfunneled").root,
             "casia_webface": build_casia_webface(tmp_path / "casia").root}
    for name, want in roots.items():
        assert load(name, tmp_path).root == want, name
    assert load("lfw", tmp_path).info["pairs_path"] == str(tmp_path / "lfw" / "pairs.txt")


def test_a_nested_dataset_missing_a_split_is_named(tmp_path):
    fx = build_market1501(tmp_path / "downloads")
    (fx.root / "query").rename(fx.root / "query_old")
    with pytest.raises(DatasetError) as err:
        load("market1501", tmp_path)
    assert err.value.path == str(fx.root / "query")


def test_a_data_root_without_the_dataset_names_where_it_looked(tmp_path):
    build_lfw(tmp_path / "lfw")
    for name in ("market1501", "partial_reid", "partial_ilids", "casia_webface"):
        with pytest.raises(DatasetError) as err:
            load(name, tmp_path)
        assert err.value.path == str(tmp_path), name
        assert "in a folder inside it" in str(err.value) and "lfw" in str(err.value), name
    write_jpeg(tmp_path / "market" / "x.jpg")
    with pytest.raises(DatasetError, match="market"):
        load("market1501", tmp_path)

"""The synthetic generator: determinism, layouts the real readers accept, identity sharing,
exact partial ground truth, and the cache's atomicity."""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import io
import itertools
import json
import os
import pickle
import re
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ppcl.data import synthetic as S
from ppcl.data.casia_webface import load_casia_webface
from ppcl.data.lfw import lfw_image_path, load_lfw, read_lfw_pairs
from ppcl.data.market1501 import load_market1501
from ppcl.data.partial import BODY_HALF_WIDTH, crop_pixels
from ppcl.data.partial_ilids import load_partial_ilids
from ppcl.data.partial_reid import load_partial_reid
from ppcl.data.synthetic import dataset as D
from ppcl.data.synthetic import faces as SF
from ppcl.data.synthetic import plans as P
from ppcl.data.synthetic import writers as W
from ppcl.geometry import paste

# Even smaller than SMOKE: for the tests that generate several times.
MINI = replace(
    S.SMOKE,
    n_train_ids=3,
    images_per_train_id=(2, 3),
    n_test_ids=2,
    n_gallery_per_id=(2, 2),
    n_distractors=1,
    n_junk=1,
    n_partial_reid_ids=2,
    partial_reid_images_per_id=1,
    n_ilids_ids=2,
    n_face_train_ids=2,
    face_images_per_train_id=(1, 2),
    n_lfw_ids=4,
    lfw_max_images_per_id=3,
    lfw_folds=1,
    lfw_pairs_per_fold=1,
)

MARKET_RE = re.compile(r"^(-1|\d{4})_c([1-6])s(\d+)_(\d{6})_(\d{2})\.jpg$")
PREID_RE = re.compile(r"^(\d{3})_(\d{3})\.jpg$")
ILIDS_RE = re.compile(r"^(\d{3})\.jpg$")
LFW_NAME_RE = re.compile(r"^[A-Z][a-z]+_[A-Z][a-z]+$")
CASIA_ID_RE = re.compile(r"^\d{7}$")
CASIA_IMG_RE = re.compile(r"^\d{3}\.jpg$")


def file_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> Path:
    return S.generate(tmp_path_factory.mktemp("smoke"), S.SMOKE, progress=False, workers=1)


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files_in_any_order(smoke, tmp_path):
    # two worker processes render the jobs in a different order and interleaving
    again = S.generate(tmp_path, S.SMOKE, progress=False, workers=2)
    assert again.name == smoke.name
    a, b = file_hashes(smoke), file_hashes(again)
    assert len(a) > 150
    assert a == b


def test_the_larger_draws_are_read_with_folds_of_the_real_sets_size(smoke):
    from ppcl.data.sources import load_datasets

    sets = load_datasets(smoke, ["partial_reid_large", "partial_ilids_large"])
    ilids, reid = sets["partial_ilids_large"].info["folds"], sets["partial_reid_large"].info["folds"]
    assert S.SMOKE.n_ilids_ids == 6 and len(ilids) == S.SMOKE.n_ilids_ids_large == 10  # round(10 / 6) = 2 folds of 5
    assert sorted(ilids.values()) == [0] * 5 + [1] * 5
    assert set(reid.values()) == {0} and len(reid) == S.SMOKE.n_partial_reid_ids_large  # round(8 / 6) = 1
    assert set(ilids) == {r.pid for r in sets["partial_ilids_large"].query}
    assert "folds" not in load_datasets(smoke, ["partial_ilids"])["partial_ilids"].info  # the real-size set: one gallery


def test_different_seed_gives_different_data(tmp_path):
    d0 = S.generate(tmp_path, MINI, progress=False)
    d1 = S.generate(tmp_path, replace(MINI, seed=1), progress=False)
    assert d0 != d1
    h0, h1 = file_hashes(d0), file_hashes(d1)
    images0 = {h for p, h in h0.items() if p.endswith(".jpg")}
    images1 = {h for p, h in h1.items() if p.endswith(".jpg")}
    assert images0 and images1 and not images0 & images1


def test_a_larger_verdict_draw_keeps_the_smaller_one_and_changes_nothing_else(tmp_path):
    # The verdict draws' sizes are chosen for the intervals' width: a larger one must add people, not
    # redraw them, and must leave the training, validation and paper-size sets byte for byte as they were.
    small = file_hashes(S.generate(tmp_path / "s", MINI, progress=False))
    large = file_hashes(S.generate(tmp_path / "l", replace(MINI, n_ilids_ids_large=MINI.n_ilids_ids_large + 3),
                                   progress=False))
    lists = {f"{S.LARGE_DIR}/{S.ILIDS_DIR}/{n}" for n in ("Probe.txt", "Gallery.txt")} | {S.META_NAME}
    assert {p for p in small if small[p] != large.get(p)} == lists  # every image of the small draw is kept
    added = sorted(set(large) - set(small))  # three people: a probe, a gallery image and the probe's source each
    where = (f"{S.LARGE_DIR}/{S.ILIDS_DIR}/", f"{S.SOURCES_DIR}/{S.LARGE_DIR}/{S.ILIDS_DIR}/")
    assert len(added) == 3 * 3 and all(p.startswith(where) for p in added)


def test_a_confirmation_draw_redraws_only_the_verdict_sets_with_other_people(tmp_path):
    """``verdict_seed``: the larger draws' people and images from a seed of their own (a draw no earlier
    run has seen); every other set byte for byte the same, and no confirmation person repeats another
    pool's signature."""
    base = file_hashes(S.generate(tmp_path / "a", MINI, progress=False))
    fresh_cfg = replace(MINI, verdict_seed=97)
    fresh = file_hashes(S.generate(tmp_path / "b", fresh_cfg, progress=False))
    assert set(base) == set(fresh)
    changed = {p for p in base if base[p] != fresh[p]}
    assert changed and all(p.startswith((f"{S.LARGE_DIR}/", f"{S.SOURCES_DIR}/{S.LARGE_DIR}/")) or p == S.META_NAME
                           for p in changed), sorted(changed)[:5]
    large = [p for p in base if p.startswith(f"{S.LARGE_DIR}/") and p.endswith(".jpg")]
    assert sum(base[p] != fresh[p] for p in large) == len(large), "a verdict image was kept from the exploration draw"
    from ppcl.data.synthetic.plans import build_context

    ctx = build_context(fresh_cfg, tmp_path / "b")
    others = {p.signature() for name, pool in ctx.persons.items() if not name.endswith("_large") for p in pool}
    mine = [p.signature() for name in ("partial_reid_large", "partial_ilids_large") for p in ctx.persons[name]]
    assert not (set(mine) & others) and len(set(mine)) == len(mine)
    assert replace(MINI, verdict_seed=0).key() == MINI.key() != fresh_cfg.key()


def test_config_key_is_stable_and_sensitive():
    assert S.SyntheticConfig().key() == S.SYNTHETIC.key()
    assert len(S.SMOKE.key()) == 10
    assert S.SyntheticConfig.from_dict(json.loads(json.dumps(S.SMOKE.to_dict()))) == S.SMOKE
    keys = {S.SMOKE.key(), replace(S.SMOKE, seed=1).key(), replace(S.SMOKE, person_size=(256, 128)).key(),
            replace(S.SMOKE, partial_area=(0.2, 0.8)).key()}
    assert len(keys) == 4
    with pytest.raises(ValueError):
        S.SyntheticConfig(partial_area=(0.5, 0.3))


def test_an_image_depends_only_on_its_coordinates():
    ident = S.person_pools(0, [1])[0][0]
    cam = S.cameras(0, 0, 1)[0]
    a = S.render_person(ident, S.image_rng(0, "market_train", 5, 2), cam)
    S.render_person(ident, S.image_rng(0, "market_train", 5, 1), cam)  # something else in between
    b = S.render_person(ident, S.image_rng(0, "market_train", 5, 2), cam)
    c = S.render_person(ident, S.image_rng(0, "market_train", 5, 3), cam)
    assert a.dtype == np.uint8 and a.shape == (128, 64, 3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_sizes_are_parameters():
    ident = S.person_pools(0, [1])[0][0]
    assert S.render_person(ident, np.random.default_rng(0), S.cameras(0, 0, 1)[0], (256, 128)).shape == (256, 128, 3)
    face = SF.face_pools(0, [1])[0][0]
    assert SF.render_face(face, np.random.default_rng(0), (112, 96)).shape == (112, 96, 3)


# --- layouts ------------------------------------------------------------------------------------


def test_file_names_follow_the_real_patterns(smoke):
    market = smoke / S.MARKET_DIR
    by_split = {}
    for split in ("bounding_box_train", "query", "bounding_box_test"):
        names = [p.name for p in (market / split).iterdir()]
        assert names and all(MARKET_RE.match(n) for n in names), split
        by_split[split] = [MARKET_RE.match(n) for n in names]
    test_pids = [int(m.group(1)) for m in by_split["bounding_box_test"]]
    assert test_pids.count(-1) == S.SMOKE.n_junk and test_pids.count(0) == S.SMOKE.n_distractors
    train_ids = {int(m.group(1)) for m in by_split["bounding_box_train"]}
    query_ids = {int(m.group(1)) for m in by_split["query"]}
    assert -1 not in train_ids | query_ids and 0 not in train_ids | query_ids
    assert query_ids <= set(test_pids) and not train_ids & set(test_pids)
    # every query has a true match from another camera in the gallery
    gallery_cams = defaultdict(set)
    for m in by_split["bounding_box_test"]:
        gallery_cams[int(m.group(1))].add(int(m.group(2)))
    for m in by_split["query"]:
        assert gallery_cams[int(m.group(1))] - {int(m.group(2))}, m.group(0)

    preid = smoke / S.PREID_DIR
    for sub in ("partial_body_images", "whole_body_images", "occluded_body_images"):
        names = sorted(p.name for p in (preid / sub).iterdir())
        assert len(names) == S.SMOKE.n_partial_reid_ids * S.SMOKE.partial_reid_images_per_id
        assert all(PREID_RE.match(n) for n in names) and names[0] == "001_001.jpg"
    ilids = smoke / S.ILIDS_DIR
    for sub in ("Probe", "Gallery"):
        names = sorted(p.name for p in (ilids / sub).iterdir())
        assert all(ILIDS_RE.match(n) for n in names) and len(names) == S.SMOKE.n_ilids_ids
        assert (ilids / f"{sub}.txt").read_text().split() == [f"{sub}/{n}" for n in names]

    people = sorted(p for p in (smoke / "lfw").iterdir())
    assert len(people) == S.SMOKE.n_lfw_ids
    for person in people:
        assert LFW_NAME_RE.match(person.name)
        files = sorted(f.name for f in person.iterdir())
        assert files == [f"{person.name}_{i:04d}.jpg" for i in range(1, len(files) + 1)]
    counts = [len(list(p.iterdir())) for p in people]
    assert counts.count(1) >= 2 and max(counts) >= 4  # skewed like LFW
    ids = sorted(p.name for p in (smoke / "CASIA-WebFace").iterdir())
    assert len(ids) == S.SMOKE.n_face_train_ids and all(CASIA_ID_RE.match(i) for i in ids)
    assert all(CASIA_IMG_RE.match(f.name) for i in ids for f in (smoke / "CASIA-WebFace" / i).iterdir())


def test_the_real_readers_load_the_layouts(smoke):
    cfg = S.SMOKE
    market = load_market1501(smoke)
    c = market.counts()
    assert c["train_ids"] == cfg.n_train_ids and c["query_ids"] == cfg.n_test_ids
    assert c["query_images"] == cfg.n_test_ids * cfg.n_query_per_id
    assert c["gallery_ids"] == cfg.n_test_ids + 1  # + the distractor id 0
    assert market.info["distractors"] == cfg.n_distractors and market.info["junk"] == cfg.n_junk
    lo, hi = cfg.images_per_train_id
    assert lo * cfg.n_train_ids <= c["train_images"] <= hi * cfg.n_train_ids

    preid = load_partial_reid(smoke)
    n = cfg.n_partial_reid_ids * cfg.partial_reid_images_per_id
    assert preid.counts() == {"train_images": 0, "train_ids": 0, "query_images": n,
                              "query_ids": cfg.n_partial_reid_ids, "gallery_images": n,
                              "gallery_ids": cfg.n_partial_reid_ids}
    ilids = load_partial_ilids(smoke)
    assert ilids.info["list_files_checked"] == ["Probe.txt", "Gallery.txt"]
    assert ilids.counts()["query_ids"] == ilids.counts()["gallery_images"] == cfg.n_ilids_ids

    lfw = load_lfw(smoke)
    assert lfw.counts()["ids"] == cfg.n_lfw_ids and lfw.info["pairs_path"]
    pairs = read_lfw_pairs(lfw.info["pairs_path"])
    header = Path(lfw.info["pairs_path"]).read_text().splitlines()[0].split("\t")
    assert int(header[0]) == cfg.lfw_folds and len(pairs) == 2 * cfg.lfw_folds * int(header[1]) > 0
    for p in pairs:
        a, b = p.paths(lfw.root)
        assert a.is_file() and b.is_file() and (p.name1 == p.name2) == p.same
    assert len({(p.name1, p.n1, p.name2, p.n2) for p in pairs}) == len(pairs)
    fold_people = defaultdict(set)
    for p in pairs:
        fold_people[p.fold] |= {p.name1, p.name2}
    for f, g in itertools.combinations(fold_people.values(), 2):
        assert not f & g  # folds are person-disjoint, as in LFW View 2
    casia = load_casia_webface(smoke)
    assert casia.counts()["ids"] == cfg.n_face_train_ids
    assert not set(casia.names) & set(lfw.names)


def test_lfw_image_path_matches_reader():
    assert lfw_image_path(Path("x"), "Ab_Cd", 3) == Path("x/Ab_Cd/Ab_Cd_0003.jpg")


# --- identities -----------------------------------------------------------------------------


@pytest.mark.parametrize("pools_fn", [S.person_pools, SF.face_pools])
def test_identities_share_parts_yet_none_is_identical(pools_fn):
    pools = pools_fn(0, [120, 60])
    everyone = [p for pool in pools for p in pool]
    assert len({p.signature() for p in everyone}) == len(everyone)
    for pool in pools:
        groups = list(pool[0].parts())
        shares = defaultdict(int)
        for a, b in itertools.combinations(pool, 2):
            pa, pb = a.parts(), b.parts()
            same = [g for g in groups if pa[g] == pb[g]]
            for g in groups[:3]:  # the major groups: head / top / bottom (face / hair / eyes)
                if g in same and len(same) < len(groups):
                    shares[g] += 1
            if len(same) == len(groups) - 1:
                shares["sibling"] += 1
        # pairs that share a top but not everything, a bottom but not everything, ...
        assert all(shares[g] > 0 for g in groups[:3]), dict(shares)
        # ... and near-duplicates that differ in a single part group (crop-level confusers)
        assert shares["sibling"] >= len(pool) // 10, dict(shares)


def test_no_two_identities_of_a_generated_set_are_identical(smoke):
    meta = S.load_meta(smoke)
    sigs = [json.dumps(v, sort_keys=True) for group in meta["identities"].values() for v in group.values()]
    assert len(set(sigs)) == len(sigs)


# --- partial ground truth ----------------------------------------------------------------------


def test_partial_images_paste_back_onto_their_source(smoke):
    meta = S.load_meta(smoke)
    recs = meta["partial"]
    cfg = S.SMOKE
    assert len(recs) == ((cfg.n_partial_reid_ids + cfg.n_partial_reid_ids_large) * cfg.partial_reid_images_per_id
                         + cfg.n_ilids_ids + cfg.n_ilids_ids_large)
    assert {r["path"] for r in recs} == {
        str(p.relative_to(smoke)) for d in ("Partial-REID_Dataset/partial_body_images", "Partial_iLIDS/Probe",
                                            "large/Partial-REID_Dataset/partial_body_images", "large/Partial_iLIDS/Probe")
        for p in (smoke / d).iterdir()}
    errs, wrong = [], []
    for r in recs:
        src = np.asarray(Image.open(smoke / r["source"]))
        part = np.asarray(Image.open(smoke / r["path"]).convert("RGB"))
        t = np.asarray(r["t"])
        _, hi = cfg.partial_area
        assert r["side"] in S.SyntheticConfig().partial_reid_sides
        # a crop of the body: inside the person's box widened by the margin (and the frame), at most
        # `hi` of that box (plus the margin) in area
        cx, top, ws, ph = meta["bodies"][r["source"]]["body"]
        hw, m = BODY_HALF_WIDTH * ws, cfg.partial_margin
        px0, px1, py0, py1 = cx - hw, cx + hw, top, top + ph
        x0, x1, y0, y1 = (t[2] - t[0] + 1) / 2, (t[2] + t[0] + 1) / 2, (t[3] - t[1] + 1) / 2, (t[3] + t[1] + 1) / 2
        px, py = 1.5 / src.shape[1], 1.5 / src.shape[0]  # whole-pixel rounding
        assert x0 >= max(0, px0 - m * 2 * hw) - px and x1 <= min(1, px1 + m * 2 * hw) + px, (r["path"], t)
        assert y0 >= max(0, py0 - m * ph) - py and y1 <= min(1, py1 + m * ph) + py, (r["path"], t)
        assert (x1 - x0) * (y1 - y0) <= hi * (1 + 2 * m) ** 2 * (2 * hw) * ph + 0.05
        cut, t_real = crop_pixels(src, t)
        assert np.allclose(t_real, t) and cut.shape == part.shape == tuple(r["size"]) + (3,)
        # exact: the partial file is the JPEG of the source cut at t
        buf = io.BytesIO()
        Image.fromarray(cut).save(buf, format="JPEG", quality=cfg.jpeg_quality)
        assert buf.getvalue() == (smoke / r["path"]).read_bytes()
        h, w = src.shape[:2]
        x = torch.from_numpy(part.copy()).permute(2, 0, 1)[None].float()
        tt = torch.tensor(t, dtype=torch.float32)[None]
        back = paste(x, tt, (h, w), mode="nearest")[0].permute(1, 2, 0).numpy()
        ones = paste(torch.ones(1, 1, *part.shape[:2]), tt, (h, w), mode="nearest")[0, 0].numpy() > 0.5
        assert ones.sum() == part.shape[0] * part.shape[1]
        errs.append(np.abs(back[ones] - src[ones]).mean())
        # the same check with t off by a few pixels must fail: the test has power
        t_off = t + np.array([0, 0, 6 / w, 6 / h])
        back_off = paste(x, torch.tensor(t_off, dtype=torch.float32)[None], (h, w), mode="nearest")[0].permute(1, 2, 0).numpy()
        m = ones & (paste(torch.ones(1, 1, *part.shape[:2]), torch.tensor(t_off, dtype=torch.float32)[None], (h, w),
                          mode="nearest")[0, 0].numpy() > 0.5)
        wrong.append(np.abs(back_off[m] - src[m]).mean())
    errs, wrong = np.array(errs), np.array(wrong)
    assert errs.max() < 16.0, errs  # JPEG at quality 90 of noisy images; small crops of the body weigh its blocks more
    assert (wrong > 1.5 * errs).all() and wrong.mean() > 3 * errs.mean(), (errs, wrong)


# --- cache ---------------------------------------------------------------------------------------


def test_ensure_synthetic_reuses_a_complete_folder(tmp_path):
    d = S.ensure_synthetic(tmp_path, MINI, progress=False)
    assert S.is_complete(d, MINI) and d == S.dataset_dir(tmp_path, MINI)
    meta = d / S.META_NAME
    some = next((d / S.MARKET_DIR / "query").iterdir())
    stamps = (meta.stat().st_mtime_ns, some.stat().st_mtime_ns)
    assert S.ensure_synthetic(tmp_path, MINI, progress=False) == d
    assert (meta.stat().st_mtime_ns, some.stat().st_mtime_ns) == stamps
    assert not S.is_complete(d, replace(MINI, seed=5))


def test_interrupted_generation_is_never_taken_as_complete(tmp_path, monkeypatch):
    final = S.dataset_dir(tmp_path, MINI)
    calls = {"n": 0}
    real = D.run_job

    def flaky(ctx, job):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(ctx, job)

    monkeypatch.setattr(D, "run_job", flaky)
    with pytest.raises(KeyboardInterrupt):
        S.generate(tmp_path, MINI, progress=False, workers=1)
    monkeypatch.setattr(D, "run_job", real)
    assert not final.exists() and not S.is_complete(final)
    assert not list(tmp_path.glob(".synthetic-*.tmp-*"))  # cleaned up

    # a killed run leaves its temporary folder behind, and a half-copied folder has no meta
    dead = tmp_path / f".{final.name}.tmp-999999999-deadbeef"
    (dead / S.MARKET_DIR / "query").mkdir(parents=True)
    (dead / S.META_NAME).write_text(json.dumps({"complete": True, "key": MINI.key()}))
    (final / S.MARKET_DIR).mkdir(parents=True)
    assert not S.is_complete(final)
    d = S.ensure_synthetic(tmp_path, MINI, progress=False)
    assert d == final and S.is_complete(final, MINI)
    assert load_market1501(final).counts()["query_ids"] == MINI.n_test_ids
    assert not dead.exists()  # the dead process's leftovers are removed
    assert sorted(os.listdir(tmp_path)) == sorted([final.name, f".{final.name}.lock"])


# --- structure of the package ----------------------------------------------------------------------

# Each module may import only from modules of strictly lower layers (a layered DAG).
LAYERS = [
    {"streams", "raster"},
    {"palettes"},
    {"identities"},
    {"camera", "pose"},
    {"pedestrian", "faces", "lfw_layout"},
    {"detection"},
    {"config"},
    {"plans"},
    {"writers"},
    {"dataset"},
    {"__init__"},
]


def package_imports() -> dict[str, list[tuple[str, list[str], bool]]]:
    """For each module of the package: (imported sibling, names, at module level?) per relative import."""
    out = {}
    for path in sorted(Path(S.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text())
        top = {id(n) for n in tree.body}
        out[path.stem] = [(node.module or "", [a.name for a in node.names], id(node) in top)
                          for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1]
    return out


def test_package_modules_form_a_layered_dag():
    layer = {m: i for i, group in enumerate(LAYERS) for m in group}
    imports = package_imports()
    assert set(imports) == set(layer), "a module was added or removed: place it in LAYERS"
    for mod, edges in imports.items():
        for target, names, at_top in edges:
            assert at_top, f"{mod} imports .{target} inside a function or block"
            assert layer[target] < layer[mod], f"{mod} (layer {layer[mod]}) imports .{target} (layer {layer[target]})"
            if mod != "__init__":
                private = [n for n in names if n.startswith("_")]
                assert not private, f"{mod} imports private names {private} from .{target}"


def test_package_modules_are_small_and_documented():
    for path in Path(S.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert len(text.splitlines()) <= 400, path.name
        assert ast.get_docstring(ast.parse(text)), path.name


def test_jobs_are_frozen_picklable_records_with_one_writer_each():
    ctx = P.build_context(MINI, Path("unused"))
    jobs = P.make_jobs(ctx)
    kinds = {type(j) for j in jobs}
    assert kinds == {P.MarketIdJob, P.MarketExtraJob, P.PartialReidJob, P.PartialIlidsJob, P.CasiaJob, P.LfwJob}
    assert set(W.WRITERS) == kinds
    for job in jobs:
        assert dataclasses.is_dataclass(job) and type(job).__dataclass_params__.frozen
        assert pickle.loads(pickle.dumps(job)) == job


# --- detection boxes and body frames ---------------------------------------------------------------

MARKET_TREE = ("bounding_box_train", "query", "bounding_box_test")
DETECTED = {"bounding_box_train", "bounding_box_test", "whole_body_images", "Gallery", "partial_body_images", "Probe"}


def gets_detection_box(rel: str) -> bool:
    """Market training and gallery images of labelled ids, Partial-REID whole-body images,
    Partial-iLIDS gallery images, and partial probes' sources (and so the probes)."""
    folder, name = rel.split("/")[-2:]
    return folder in DETECTED and not name.startswith(("0000_", "-1_"))


def body_rows(root: Path) -> list[tuple[str, dict]]:
    return list(S.load_meta(root)["bodies"].items())


def test_detection_boxes_are_good_and_loose_and_queries_stay_hand_drawn(smoke):
    rows = body_rows(smoke)
    det = [r for _, r in rows if r["box"] == "detector"]
    assert len(det) > 80
    iou = np.array([r["box_iou"] for r in det])
    top = np.array([r["body"][1] for r in det])
    bottom = np.array([r["body"][1] + r["body"][3] for r in det])
    height = np.array([r["body"][3] for r in det])
    centre = np.array([r["body"][0] - 0.5 for r in det])
    assert iou.min() >= S.SMOKE.min_box_iou and iou.max() <= 1
    assert (iou < 0.7).sum() >= 5 and 0.68 < np.median(iou) < 0.85  # spread, median ~0.75
    assert (top < -0.02).sum() >= 3 and (bottom > 1.02).sum() >= 3  # boxes cutting the head / the feet
    assert (top > 0.15).sum() >= 3  # and loose boxes with background above the head
    assert height.max() - height.min() > 0.2 and np.abs(centre).max() > 0.08
    for rel, r in rows:
        folder, name = rel.split("/")[-2:]
        if name.startswith(("0000_", "-1_")):  # distractors and junk keep their own boxes
            assert folder == "bounding_box_test" and r["box"] in ("tight", "bad", "none"), rel
        elif folder == "query":  # hand-drawn: the tight layout
            assert r["box"] == "tight" and r["box_iou"] == 1.0, rel
            cx, t, ws, ph = r["body"]
            assert 0.7 < ph < 1.05 and abs(cx - 0.5) < 0.1 and -0.06 < t < 0.2, (rel, r)
        elif gets_detection_box(rel):
            assert r["box"] == "detector", rel
        else:
            assert folder == "occluded_body_images" and r["box"] == "tight", rel


def test_detection_box_distribution():
    rng = np.random.default_rng(0)
    cfg = S.SYNTHETIC
    draws = [S.sample_detection_box(rng, cfg.box_log_scale_h, cfg.box_log_scale_w, cfg.box_shift, cfg.min_box_iou)
             for _ in range(4000)]
    iou = np.array([i for _, i in draws])
    boxes = np.array([b for b, _ in draws])
    assert iou.min() >= 0.5 and 0.72 < np.median(iou) < 0.8
    assert np.quantile(iou, 0.05) < 0.65 and np.quantile(iou, 0.95) > 0.85
    assert (boxes[:, 1] > 0.1).mean() > 0.05 and (boxes[:, 3] < 0.9).mean() > 0.05  # cut the head / the feet
    strict = [S.sample_detection_box(rng, (0, 0.3), (0, 0.3), (0.2, 0.2), 0.8)[1] for _ in range(200)]
    assert min(strict) >= 0.8
    with pytest.raises(ValueError):
        S.SyntheticConfig(detection="loose")
    with pytest.raises(ValueError):
        S.SyntheticConfig(box_shift=(0.1, -0.1))
    assert replace(S.SMOKE, detection="aligned").key() != S.SMOKE.key()


def v1_market_image(ctx, pid: int, shot) -> bytes:
    """A Market image as generator version 1 rendered it (one stream, no detection box)."""
    cfg = ctx.cfg
    img = S.render_person(ctx.persons["market_train" if shot.code == "market_train" else "market_test"][
        (ctx.train_pids if shot.code == "market_train" else ctx.test_pids).index(pid)],
        S.image_rng(cfg.seed, shot.code, pid, shot.index), ctx.cams["market"][shot.cam - 1], cfg.person_size,
        view=shot.view, occluder=shot.occluder, occluder_strength=shot.strength or None, avoid=ctx.avoid)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=cfg.jpeg_quality)
    return buf.getvalue()


def test_aligned_mode_renders_version_1_images_and_the_box_stream_is_separate(tmp_path):
    aligned = S.generate(tmp_path / "a", replace(MINI, detection="aligned"), progress=False)
    detector = S.generate(tmp_path / "d", MINI, progress=False)
    ha, hd = file_hashes(aligned), file_hashes(detector)
    assert ha.keys() == hd.keys()
    images = [p for p in ha if p.endswith((".jpg", ".png"))]
    same = {p for p in images if ha[p] == hd[p]}
    for p in images:
        if gets_detection_box(p):
            assert p not in same, p  # re-framed by its detection box
        else:  # queries, occluded, distractors, junk, faces: not a draw moved
            assert p in same, p
    # aligned mode: every labelled Market image is version 1's call, byte for byte
    ctx = P.build_context(MINI, aligned)
    for job in P.make_jobs(ctx):
        if isinstance(job, P.MarketIdJob):
            for shot in job.shots:
                assert v1_market_image(ctx, job.pid, shot) == (aligned / S.MARKET_DIR / shot.folder / shot.name).read_bytes()
    # the identity box changes nothing; a box re-frames the same pose, background and noise
    ident, cam = ctx.persons["market_train"][0], ctx.cams["market"][0]
    a, pa = S.render_detection(ident, S.image_rng(0, "market_train", 1, 1), cam)
    b, pb = S.render_detection(ident, S.image_rng(0, "market_train", 1, 1), cam, box=(0.0, 0.0, 1.0, 1.0))
    assert np.array_equal(a, b) and pa == pb
    meta_a, meta_d = S.load_meta(aligned), S.load_meta(detector)
    assert {r["box"] for r in meta_a["bodies"].values()} <= {"tight", "bad", "none"}
    # the crops are drawn after the box, from the image's stream: the same sides; their t follow the body
    assert [r["side"] for r in meta_a["partial"]] == [r["side"] for r in meta_d["partial"]]


def test_bodies_cover_every_image(smoke):
    bodies = S.load_meta(smoke)["bodies"]
    holistic = [f"{pre}{d}" for pre in ("", f"{S.LARGE_DIR}/")
                for d in (f"{S.PREID_DIR}/whole_body_images", f"{S.PREID_DIR}/occluded_body_images", f"{S.ILIDS_DIR}/Gallery")]
    expected = {str(p.relative_to(smoke)) for d in [f"{S.MARKET_DIR}/{f}" for f in MARKET_TREE] + holistic
                for p in (smoke / d).iterdir()}
    expected |= {str(p.relative_to(smoke)) for p in (smoke / S.SOURCES_DIR).rglob("*.png")}
    assert set(bodies) == expected
    assert {r["source"] for r in S.load_meta(smoke)["partial"]} <= set(bodies)
    for rel, r in bodies.items():
        if r["box"] == "none":  # junk: no person
            assert r["body"] is None and rel.split("/")[-1].startswith("-1_"), rel
            continue
        cx, top, ws, ph = r["body"]
        assert ws > 0 and ph > 0 and isinstance(r["flipped"], bool), rel
    flips = [r["flipped"] for r in bodies.values() if r["body"] is not None]
    assert 0.3 < np.mean(flips) < 0.7


def test_recorded_body_frame_matches_the_pixels():
    """Render with and without the person (same stream: same background, flip and noise); the
    silhouette's top, soles and centre are where the recorded body frame says, flips included."""
    ident = S.person_pools(0, [3])[0][1]
    cam = S.cameras(0, 0, 1)[0]
    boxes = [(-0.25, -0.05, 0.75, 1.0), (0.25, 0.1, 1.15, 0.95), (0.1, -0.1, 0.8, 1.2), (-0.1, 0.15, 1.0, 1.05)]
    flips, checked_side = set(), 0
    for k in range(12):
        box = boxes[k % len(boxes)]
        img, where = S.render_detection(ident, S.image_rng(0, "market_train", 1, k), cam, box=box)
        bg, _ = S.render_detection(None, S.image_rng(0, "market_train", 1, k), cam, box=box)
        h, w = img.shape[:2]
        ys, xs = np.nonzero(np.abs(img.astype(int) - bg.astype(int)).max(-1) > 40)
        cx, top, ws, ph = where.body()
        assert abs(ys.min() - max(top * h, 0)) <= 3, k
        assert abs(ys.max() + 1 - min((top + ph) * h, h)) <= 3, k
        assert abs(xs.mean() - cx * w) <= 3, k
        if abs(1 - 2 * cx) * w > 10:  # far off centre: the unflipped (wrong) centre would miss
            assert abs(xs.mean() - (1 - cx) * w) > 6, k
            checked_side += 1
        flips.add(where.flipped)
    assert flips == {True, False} and checked_side >= 6

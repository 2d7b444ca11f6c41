"""Anyone's features on the kit's protocols (``ppcl.evaluate.features``, ``python -m ppcl.evaluate``).

Hand-worked cases on layout-exact tiny trees: a Partial-REID tree whose features are a Latin
square of scores (every query's and every gallery image's ranking is written out below, in
both directions), and a Market-1501 tree with a same-camera match that must be filtered away.
A torchvision ResNet-18 with random weights (not the kit's model) is scored by the command and
checked against a brute-force CMC/AP written here. Every refusal of the format is exercised.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ppcl.data.common import DatasetError
from ppcl.evaluate import features as fe
from ppcl.evaluate.__main__ import main
from ppcl.evaluate.compare import random_effects_interval
from ppcl.evaluate.features import (
    evaluate_features,
    load_protocol,
    read_features,
    save_features,
)
from tests.fixtures import build_market1501, build_partial_ilids, write_jpeg

ROOT = Path(__file__).resolve().parent.parent

# ----------------------------------------------------------------------------- a hand-worked Partial-REID

PARTIAL = ["001_001.jpg", "002_001.jpg", "003_001.jpg", "003_002.jpg"]  # p0..p3 (the reader's sorted order)
WHOLE = ["001_001.jpg", "001_002.jpg", "002_001.jpg", "003_001.jpg"]  # g0..g3
OCCLUDED = ["001_001.jpg", "002_001.jpg"]
# Score of partial image i against whole image j (higher = nearer): a Latin square, so every row
# and every column is a permutation of 1..4 and no direction has ties.
SCORES = np.array([
    [4, 2, 1, 3],  # p0 (id 1): g0 g3 g1 g2 -> matches g0, g1 at ranks 1, 3: AP (1 + 2/3) / 2 = 5/6
    [2, 1, 3, 4],  # p1 (id 2): g3 g2 g0 g1 -> match g2 at rank 2: AP 1/2
    [1, 3, 4, 2],  # p2 (id 3): g2 g1 g3 g0 -> match g3 at rank 3: AP 1/3
    [3, 4, 2, 1],  # p3 (id 3): g1 g0 g2 g3 -> match g3 at rank 4: AP 1/4
], dtype=np.float64)
# Table 2 (partial as query): first matches at ranks 1, 2, 3, 4.
TABLE2 = {"rank1": 25.0, "rank3": 75.0, "rank5": 100.0, "rank10": 100.0,
          "mAP": 100 * (5 / 6 + 1 / 2 + 1 / 3 + 1 / 4) / 4}
# Table 3 (partial as gallery), the columns: g0 (id 1) p0 p3 p1 p2 -> rank 1, AP 1; g1 (id 1) p3 p2 p0 p1 ->
# rank 3, AP 1/3; g2 (id 2) p2 p1 p3 p0 -> rank 2, AP 1/2; g3 (id 3) p1 p0 p2 p3 -> ranks 3, 4, AP (1/3 + 2/4) / 2.
TABLE3 = {"rank1": 25.0, "rank3": 100.0, "rank5": 100.0, "rank10": 100.0,
          "mAP": 100 * (1 + 1 / 3 + 1 / 2 + 5 / 12) / 4}


def build_tiny_partial_reid(base: Path) -> Path:
    """``Partial-REID_Dataset/`` as distributed (three folders, ``PPP_NNN.jpg``), each person drawn in
    its own shade, with the occluded folder that the protocol must not use."""
    root = base / "Partial-REID_Dataset"
    for folder, names in (("partial_body_images", PARTIAL), ("whole_body_images", WHOLE),
                          ("occluded_body_images", OCCLUDED)):
        for n in names:
            write_jpeg(root / folder / n, shade=60 * int(n[:3]))
    return root


def latin_features(scale: float = 1.0, rng: np.random.Generator | None = None) -> tuple[list[str], np.ndarray]:
    """Paths and features: whole image j is the unit vector e_j and partial image i the score row i,
    so cos and Euclidean distances both order pairs as the scores do (every row has norm sqrt(30));
    rows shuffled, plus the occluded images with features that would win every ranking."""
    paths = [f"partial_body_images/{n}" for n in PARTIAL] + [f"whole_body_images/{n}" for n in WHOLE]
    feats = np.concatenate([scale * SCORES, scale * np.eye(4)])
    paths += [f"occluded_body_images/{n}" for n in OCCLUDED]
    feats = np.concatenate([feats, np.ones((len(OCCLUDED), 4))])
    order = (rng or np.random.default_rng(0)).permutation(len(paths))
    return [paths[i] for i in order], feats[order]


def perfect_features(scale: float = 1.0) -> tuple[list[str], np.ndarray]:
    """One-hot of the person: every true match at distance 0."""
    paths = [f"partial_body_images/{n}" for n in PARTIAL] + [f"whole_body_images/{n}" for n in WHOLE]
    return paths, scale * np.eye(4)[[int(p.split("/")[1][:3]) for p in paths]]


def run_json(tmp_path: Path, argv: list[str], capsys) -> dict:
    out = tmp_path / "out.json"
    assert main([*argv, "--json", str(out), "--no-progress", "--n-boot", "400"]) == 0
    capsys.readouterr()
    return json.loads(out.read_text())


def seed_row(result: dict, model: str, direction: str, seed: int = 0) -> dict:
    (row,) = [r for r in result["per_seed"] if (r["model"], r["direction"], r["seed"]) == (model, direction, seed)]
    return row


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_the_hand_worked_partial_reid_case_in_both_directions(tmp_path, capsys, metric):
    root = build_tiny_partial_reid(tmp_path)
    save_features(tmp_path / "s0.npz", *latin_features(), metric=metric)
    out = run_json(tmp_path, ["partial", "--dataset", "partial_reid", "--root", str(root),
                              "--features", str(tmp_path / "s0.npz")], capsys)
    for direction, want in (("partial_as_query", TABLE2), ("partial_as_gallery", TABLE3)):
        row = seed_row(out, "features", direction)
        assert {k: row[k] for k in want} == pytest.approx(want), direction
        assert row["queries"] == row["valid_queries"] == 4
    assert out["protocol"]["partial side"] == "partial_body_images/"
    assert out["protocol"]["camera filtering"].startswith("off")
    assert out["files"]["features"][0]["metric"] == metric
    # p0 ranks its match first only because no camera is read from 001_001.jpg on both sides.
    per = fe.score_file(load_protocol("partial_reid", root), read_features(tmp_path / "s0.npz"))
    assert per["partial_as_query"]["per_query"]["first"].tolist() == [0, 1, 2, 3]


def test_the_printed_report_names_the_protocol(tmp_path, capsys):
    root = build_tiny_partial_reid(tmp_path)
    save_features(tmp_path / "s0.npz", *latin_features())
    assert main(["partial", "--dataset", "partial_reid", "--root", str(root), "--features",
                 str(tmp_path / "s0.npz"), "--no-progress"]) == 0
    text = capsys.readouterr().out
    for needle in ("partial_body_images/", "whole_body_images/", "occluded_body_images/ (2 images): not a query set",
                   "camera filtering: off", "| partial_as_query", "| 25.0 ± 0.0"):
        assert needle in text, needle


def test_seeds_give_mean_and_std_and_versus_gives_the_clustered_interval(tmp_path, capsys, monkeypatch):
    root = build_tiny_partial_reid(tmp_path)
    save_features(tmp_path / "a0.npz", *latin_features())
    save_features(tmp_path / "a1.npz", *perfect_features())
    save_features(tmp_path / "b0.npz", *perfect_features(1.0))
    save_features(tmp_path / "b1.npz", *perfect_features(2.0))  # same ranking, another file
    seen = []
    real = fe.random_effects_interval

    def spy(a, b, **kw):
        seen.append((a, b, kw["clusters"]))
        return real(a, b, **kw)

    monkeypatch.setattr(fe, "random_effects_interval", spy)
    out = run_json(tmp_path, ["partial", "--dataset", "partial_reid", "--root", str(root),
                              "--features", str(tmp_path / "a0.npz"), str(tmp_path / "a1.npz"),
                              "--versus", str(tmp_path / "b0.npz"), str(tmp_path / "b1.npz")], capsys)
    (s,) = [r for r in out["summary"] if (r["model"], r["direction"]) == ("features", "partial_as_query")]
    assert s["seeds"] == "0,1"
    assert s["rank1_mean"] == pytest.approx((25 + 100) / 2)
    assert s["rank1_std"] == pytest.approx(75 / np.sqrt(2))  # ddof=1 over two seeds
    (d,) = [r for r in out["versus"] if r["direction"] == "partial_as_query"]
    assert d["rank1_diff"] == pytest.approx((-75 + 0) / 2)
    assert d["seed_diff_std"] == pytest.approx(75 / np.sqrt(2))
    assert d["ci_low"] <= d["rank1_diff"] <= d["ci_high"]
    assert (d["people"], d["queries"], d["seeds"]) == (3, 4, 2)
    # The interval saw each seed's hits on the 4 partial queries (p0..p3) and their people, 1 2 3 3.
    a, b, ids = seen[0]
    assert a.tolist() == [[1, 0, 0, 0], [1, 1, 1, 1]] and b.tolist() == [[1, 1, 1, 1]] * 2
    assert ids.tolist() == [1, 2, 3, 3]


def test_the_interval_clusters_queries_by_person():
    ids = np.repeat(np.arange(10), 10)  # 10 people, 10 queries each; a person's queries all agree
    a = np.repeat(np.array([[1, 1, 0, 1, 0, 1, 1, 0, 1, 1.0]] * 3), 10, axis=1)  # three seeds alike: no training noise
    b = np.zeros_like(a)
    people = fe.rank1_difference(a, b, ids, n_boot=0)
    queries = random_effects_interval(a, b, clusters=None, n_boot=0)
    assert people["mean"] == pytest.approx(a.mean())
    assert (people["high"] - people["low"]) > 2 * (queries["high"] - queries["low"])
    assert "in 10 identities" in people["basis"]


def brute_force(d: np.ndarray, qp, gp, qc=None, gc=None) -> dict:
    """CMC and mAP the slow, obvious way: sort each row, drop same-camera matches, walk the list."""
    firsts, aps = [], []
    for i in range(len(qp)):
        order = np.argsort(d[i], kind="stable")
        keep = [j for j in order if qc is None or not (gp[j] == qp[i] and gc[j] == qc[i])]
        hits = np.array([gp[j] == qp[i] for j in keep])
        if not hits.any():
            continue
        pos = np.flatnonzero(hits)
        firsts.append(pos[0])
        aps.append(np.mean((np.arange(len(pos)) + 1) / (pos + 1)))
    firsts = np.array(firsts)
    return {"rank1": 100 * np.mean(firsts < 1), "rank5": 100 * np.mean(firsts < 5), "mAP": 100 * np.mean(aps)}


def test_a_torchvision_resnet_scored_by_the_command_matches_brute_force(tmp_path):
    from PIL import Image
    from torchvision.models import resnet18
    from torchvision.transforms.functional import normalize, pil_to_tensor

    root = build_tiny_partial_reid(tmp_path)
    data = load_protocol("partial_reid", root).data
    records = [*data.query, *data.gallery]
    torch.manual_seed(0)
    model = resnet18(weights=None).eval()
    model.fc = torch.nn.Identity()
    x = torch.stack([pil_to_tensor(Image.open(r.path).convert("RGB").resize((32, 64))) for r in records])
    with torch.no_grad():
        feats = model(normalize(x.float() / 255, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]))
    save_features(tmp_path / "r0.npz", [r.path for r in records], feats, root=data.root)
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "ppcl.evaluate", "partial", "--dataset", "partial_reid", "--root",
                           str(tmp_path), "--features", str(tmp_path / "r0.npz"), "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "| partial_as_gallery" in proc.stdout
    got = json.loads(out.read_text())
    f = torch.nn.functional.normalize(feats, dim=1).numpy()
    d = 1 - f[: len(data.query)] @ f[len(data.query):].T
    qp, gp = [r.pid for r in data.query], [r.pid for r in data.gallery]
    for direction, want in (("partial_as_query", brute_force(d, qp, gp)),
                            ("partial_as_gallery", brute_force(d.T, gp, qp))):
        row = seed_row(got, "features", direction)
        assert {k: row[k] for k in want} == pytest.approx(want, abs=1e-4), direction


# ----------------------------------------------------------------------------- Market-1501

SAME_CAM = "0001_c1s1_001101_01.jpg"  # person 1 seen by camera 1, like query 0001_c1s1_001051_00.jpg
MARKET_RANKINGS = {  # query -> gallery names nearest first (the rest follow in any order)
    "0001_c1s1_001051_00.jpg": [SAME_CAM, "0000_c1s1_000151_01.jpg", "0001_c2s1_000301_01.jpg",
                                "0003_c1s1_002301_01.jpg", "0001_c3s1_000551_02.jpg"],
    "0003_c2s1_002551_00.jpg": ["0003_c1s1_002301_01.jpg", "0005_c1s1_004551_03.jpg", "0003_c4s1_001926_05.jpg"],
    "0003_c5s1_022651_00.jpg": ["0000_c3s2_002512_04.jpg", "0005_c2s1_004626_01.jpg", "0001_c3s1_000551_02.jpg",
                                "0003_c4s1_001926_05.jpg", "0003_c1s1_002301_01.jpg"],
    "0005_c6s1_004576_00.jpg": ["0005_c2s1_004626_01.jpg", "0005_c1s1_004551_03.jpg"],
}
# With SAME_CAM filtered: q0 distractor, match (2), other, match (4): AP (1/2 + 2/4) / 2 = 1/2;
# q1 match (1), other, match (3): AP (1 + 2/3) / 2; q2 matches at 4 and 5: AP (1/4 + 2/5) / 2; q3 AP 1.
MARKET = {"rank1": 50.0, "rank3": 75.0, "rank5": 100.0, "rank10": 100.0,
          "mAP": 100 * (1 / 2 + 5 / 6 + 13 / 40 + 1) / 4}


def test_market_filters_the_same_camera_match_and_ignores_junk(tmp_path, capsys):
    fx = build_market1501(tmp_path)
    write_jpeg(fx.root / "bounding_box_test" / SAME_CAM)
    proto = load_protocol("market1501", fx.root)
    gallery = [Path(k).name for k in proto.gallery_keys]
    assert SAME_CAM in gallery and not any(n.startswith("-1") for n in gallery)
    paths = [f"bounding_box_test/{n}" for n in gallery]
    feats = [np.eye(len(gallery))[j] for j in range(len(gallery))]
    for q, ranked in MARKET_RANKINGS.items():
        rest = [n for n in gallery if n not in ranked]
        order = ranked + rest
        paths.append(f"query/{q}")
        feats.append(np.array([len(order) - order.index(n) for n in gallery], float))
    for junk in ("-1_c1s1_000401_03.jpg", "-1_c3s1_000776_04.jpg"):  # the reader drops junk: these rows are unused
        paths.append(f"bounding_box_test/{junk}")
        feats.append(np.full(len(gallery), 100.0))
    save_features(tmp_path / "m0.npz", paths, np.stack(feats))
    out = run_json(tmp_path, ["market1501", "--root", str(tmp_path), "--features", str(tmp_path / "m0.npz")], capsys)
    row = seed_row(out, "features", "query_to_gallery")
    assert {k: row[k] for k in MARKET} == pytest.approx(MARKET)
    assert out["protocol"]["camera filtering"].startswith("on")
    assert "3 junk files" in out["protocol"]["junk"] and "2 distractors" in out["protocol"]["junk"]
    # The case does exercise the rule: without camera filtering query 0001 would rank its match first.
    per = fe.score_file(proto, read_features(tmp_path / "m0.npz"))["query_to_gallery"]["per_query"]["first"]
    assert per.tolist() == [1, 0, 3, 0]


def test_partial_command_refuses_market_naming_the_subcommand(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["partial", "--dataset", "market1501", "--root", str(tmp_path), "--features", "x.npz"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "argument --dataset" in err and "python -m ppcl.evaluate market1501" in err


# ----------------------------------------------------------------------------- Partial-iLIDS versions


@pytest.mark.parametrize("layout, version", [("original", "the distributed one"), ("fastreid", "fast-reid's"),
                                             ("bpbreid", "bpbreid's")])
def test_partial_ilids_names_its_version(tmp_path, layout, version):
    fx = build_partial_ilids(tmp_path, layout)
    proto = load_protocol("partial_ilids", fx.root)
    keys = proto.query_keys + proto.gallery_keys
    pids = [int(Path(k).stem.split("_")[0]) for k in keys]
    save_features(tmp_path / "s0.npz", keys, np.eye(200)[pids])
    out = evaluate_features("partial_ilids", fx.root, [tmp_path / "s0.npz"])
    assert version in out["protocol"]["version"] and "one full image per id" in out["protocol"]["version"]
    assert out["per_seed"]["rank1"].tolist() == [100.0, 100.0]


# ----------------------------------------------------------------------------- refusals


def write_npz(path: Path, **arrays) -> Path:
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def good_arrays() -> dict:
    paths, feats = latin_features()
    return {"paths": np.asarray(paths), "features": feats}


@pytest.mark.parametrize("change, message", [
    ({"features": np.ones(10)}, r"expected 'features' of shape \(N, D\) = \(10, D >= 1\).*found shape \(10,\)"),
    ({"features": np.ones((9, 4))}, r"shape \(N, D\) = \(10, D >= 1\).*found shape \(9, 4\)"),
    ({"features": np.ones((10, 4), dtype=np.int64)}, "expected 'features' of a float dtype; found dtype int64"),
    ({"metric": np.asarray("manhattan")}, r"expected 'metric' one of \['cosine', 'euclidean'\]; found 'manhattan'"),
    ({"paths": np.arange(10)}, "expected 'paths' as a non-empty 1-D array of strings"),
])
def test_bad_arrays_are_refused_naming_the_file(tmp_path, change, message):
    path = write_npz(tmp_path / "bad.npz", **{**good_arrays(), **change})
    with pytest.raises(ValueError, match=message) as e:
        read_features(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_features_are_refused_naming_the_row(tmp_path, value):
    arrays = good_arrays()
    arrays["features"][3, 1] = value
    path = write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=rf"expected finite features; found NaN or inf in 1 rows \(first: row 3, "
                                         rf"'{arrays['paths'][3]}'\)"):
        read_features(path)


def test_duplicate_paths_are_refused(tmp_path):
    arrays = good_arrays()
    paths = arrays["paths"].tolist()
    paths[5] = "./" + paths[2].replace("/", "\\")  # one image under two spellings
    arrays["paths"] = np.asarray(paths)
    path = write_npz(tmp_path / "dup.npz", **arrays)
    with pytest.raises(ValueError, match=rf"{path}: expected each path once; found 1 duplicate rows "
                                         rf"\(first: '{arrays['paths'][2]}'\)"):
        read_features(path)


def test_files_that_are_not_npz_are_refused(tmp_path):
    text = tmp_path / "f.npz"
    text.write_text("paths,features\n")
    with pytest.raises(ValueError, match=rf"{text}: expected a .npz archive.*found a file that is not a zip"):
        read_features(text)
    npy = tmp_path / "f.npy"
    np.save(npy, np.ones((3, 2)))
    with pytest.raises(ValueError, match="found a .npy array"):
        read_features(npy)
    keys = write_npz(tmp_path / "keys.npz", feats=np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"found the arrays \['feats'\]"):
        read_features(keys)
    pickled = write_npz(tmp_path / "obj.npz", paths=np.array([Path("a.jpg")], dtype=object), features=np.ones((1, 2)))
    with pytest.raises(ValueError, match="loadable without pickle"):
        read_features(pickled)
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_features(tmp_path / "absent.npz")


def test_a_missing_image_is_refused_naming_it_and_how_many(tmp_path):
    root = build_tiny_partial_reid(tmp_path)
    paths, feats = latin_features()
    dropped = ("partial_body_images/003_002.jpg", "whole_body_images/001_002.jpg")
    keep = [i for i, p in enumerate(paths) if p not in dropped]
    save_features(tmp_path / "s0.npz", [paths[i] for i in keep], feats[keep])
    with pytest.raises(ValueError, match=r"s0.npz: expected a row for every image of the partial_reid protocol "
                                         r"\(8 images.*found 2 of them missing \(e.g. "
                                         r"'partial_body_images/003_002.jpg', 'whole_body_images/001_002.jpg'\)"):
        evaluate_features("partial_reid", root, [tmp_path / "s0.npz"])


def test_occluded_images_in_place_of_partial_ones_are_refused(tmp_path):
    root = build_tiny_partial_reid(tmp_path)
    paths = [f"occluded_body_images/{n}" for n in PARTIAL] + [f"whole_body_images/{n}" for n in WHOLE]
    save_features(tmp_path / "occ.npz", paths, np.random.default_rng(0).normal(size=(8, 4)))
    with pytest.raises(ValueError, match="found 4 of them missing.*occluded_body_images/, which is not this "
                                         "benchmark's partial side"):
        evaluate_features("partial_reid", root, [tmp_path / "occ.npz"])


def test_absolute_or_prefixed_paths_are_refused_with_a_hint(tmp_path):
    root = build_tiny_partial_reid(tmp_path)
    paths, feats = latin_features()
    write_npz(tmp_path / "abs.npz", paths=np.asarray([str(root / p) for p in paths]), features=feats)
    with pytest.raises(ValueError, match="found 8 of them missing.*paths are absolute"):
        evaluate_features("partial_reid", root, [tmp_path / "abs.npz"])
    save_features(tmp_path / "pre.npz", [f"Partial-REID_Dataset/{p}" for p in paths], feats)
    with pytest.raises(ValueError, match="paths carry a prefix"):
        evaluate_features("partial_reid", root, [tmp_path / "pre.npz"])
    with pytest.raises(ValueError, match="expected paths relative to the dataset folder"):
        save_features(tmp_path / "x.npz", [str(root / p) for p in paths], feats)


def test_a_zero_row_is_refused_for_cosine_only(tmp_path):
    root = build_tiny_partial_reid(tmp_path)
    paths, feats = perfect_features()
    feats = np.concatenate([feats, np.zeros((1, 4))])
    paths = [*paths, "occluded_body_images/001_001.jpg"]  # a zero row outside the protocol is ignored
    save_features(tmp_path / "ok.npz", paths, feats)
    assert evaluate_features("partial_reid", root, [tmp_path / "ok.npz"])["per_seed"]["rank1"].tolist() == [100, 100]
    feats[2] = 0
    save_features(tmp_path / "zero.npz", paths, feats)
    with pytest.raises(ValueError, match=r"expected non-zero features for the cosine metric; found 1 zero rows "
                                         r"\(first: 'partial_body_images/003_001.jpg'\)"):
        evaluate_features("partial_reid", root, [tmp_path / "zero.npz"])


def test_save_features_checks_before_writing_and_writes_atomically(tmp_path):
    paths, feats = latin_features()
    target = save_features(tmp_path / "s0.npz", paths, feats)
    before = target.read_bytes()
    bad = feats.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="not written"):
        save_features(target, paths, bad)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s0.npz"]  # no temporary file left
    ff = read_features(target)
    assert ff.metric == "cosine" and ff.features.shape == (10, 4) and ff.paths == paths


def test_the_same_file_twice_is_not_two_seeds(tmp_path, capsys):
    root = build_tiny_partial_reid(tmp_path)
    save_features(tmp_path / "a.npz", *latin_features())
    shutil.copy(tmp_path / "a.npz", tmp_path / "b.npz")
    with pytest.raises(SystemExit):
        main(["partial", "--dataset", "partial_reid", "--root", str(root), "--features", str(tmp_path / "a.npz"),
              str(tmp_path / "b.npz")])
    assert "argument --features: expected one file per seed" in capsys.readouterr().err


def test_a_missing_whole_body_folder_is_refused_by_the_reader(tmp_path, capsys):
    root = build_tiny_partial_reid(tmp_path)
    save_features(tmp_path / "s0.npz", *latin_features())
    shutil.rmtree(root / "whole_body_images")
    with pytest.raises(DatasetError, match=r"whole_body_images: expected the Partial-REID split folder "
                                           r"'whole_body_images/'; found nothing there"):
        evaluate_features("partial_reid", root, [tmp_path / "s0.npz"])
    with pytest.raises(SystemExit) as e:
        main(["partial", "--dataset", "partial_reid", "--root", str(root), "--features", str(tmp_path / "s0.npz")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "argument --root" in err and "whole_body_images/'" in err


@pytest.mark.parametrize("argv, flag", [
    (["partial", "--dataset", "partial_reid", "--root", "{root}"], "--features"),
    (["partial", "--root", "{root}", "--features", "{good}"], "--dataset"),
    (["partial", "--dataset", "partial_reid", "--root", "{root}", "--features", "{root}/nope.npz"], "--features"),
    (["partial", "--dataset", "partial_reid", "--root", "{root}", "--features", "{good}", "--versus", "{bad}"],
     "--versus"),
    (["partial", "--dataset", "partial_reid", "--root", "{root}/nowhere", "--features", "{good}"], "--root"),
    (["partial", "--dataset", "partial_reid", "--root", "{root}", "--features", "{good}", "--level", "95"],
     "--level"),
])
def test_command_line_errors_name_the_flag(tmp_path, capsys, argv, flag):
    root = build_tiny_partial_reid(tmp_path)
    good = save_features(tmp_path / "good.npz", *latin_features())
    bad = write_npz(tmp_path / "bad.npz", paths=np.asarray(["x.jpg"]), features=np.array([[np.nan]]))
    with pytest.raises(SystemExit) as e:
        main([a.format(root=root, good=good, bad=bad) for a in argv])
    assert e.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error:" in last and flag in last

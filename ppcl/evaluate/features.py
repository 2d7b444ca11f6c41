"""Anyone's model on the kit's protocols: a feature file format, its reader, and the scoring.

A **feature file** is one ``.npz`` per seed (or per model) that any framework can write
(``numpy.savez`` or :func:`save_features`):

* ``paths``: ``(N,)`` strings, each image's path relative to the dataset folder exactly as
  distributed (``partial_body_images/001_001.jpg``, ``bounding_box_test/0002_c1s1_000451_03.jpg``);
* ``features``: ``(N, D)`` floats, one row per path;
* ``metric`` (optional): ``"cosine"`` (the default; distance ``1 - cos``) or ``"euclidean"``.

Rows are looked up by path, so one file may hold both sides in any order and extra images are
ignored; an image of the protocol missing from the file is refused, naming it.

The protocols are the kit's: Partial-REID (``partial_body_images/`` against
``whole_body_images/``, never ``occluded_body_images/``) and Partial-iLIDS are scored in both
directions (partial as query: the paper's Table 2; partial as gallery: Table 3) with no camera
ids anywhere (:mod:`ppcl.evaluate.protocols`); Market-1501 query -> gallery with its camera rule
(a gallery image of the query's person from the query's camera is not a valid match) and the
reader's junk handling (pid -1 dropped, distractors kept). CMC rank-1/3/5/10 and mAP come from
:func:`ppcl.evaluate.rank`; several files give each seed's numbers and the mean and std over
seeds; a second model (``versus``) gives the kit's interval of the rank-1 difference
(:func:`rank1_difference`: the random-effects interval over seeds and people, queries clustered
by identity).
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.common import ReIDData, Record
from ..data.readers import PUBLISHED_COUNTS, load
from ..io import atomic_write, write_json
from .compare import hits_at, random_effects_interval, seed_summary
from .protocols import partial_rank, require_no_cameras
from .rank import rank

METRICS = ("cosine", "euclidean")
PARTIAL_SETS = ("partial_reid", "partial_ilids")
DATASETS = (*PARTIAL_SETS, "market1501")
DIRECTIONS = {  # direction -> what it is
    "partial_as_query": "Table 2: each partial image queries the holistic gallery",
    "partial_as_gallery": "Table 3: each holistic image queries the partial gallery",
    "query_to_gallery": "query/ against bounding_box_test/",
}
FORMAT = ("a .npz archive (numpy.savez) holding 'paths' (N,) strings and 'features' (N, D) floats, "
          "optionally 'metric' ('cosine' or 'euclidean')")
ILIDS_VERSIONS = {  # the reader's info["layout"] -> where that copy comes from
    "Probe/ + Gallery/": "the distributed one (lingxiao-he/Partial-Person-ReID: Probe/, Gallery/)",
    "query/ + gallery/": "fast-reid's repackaging (PartialiLIDS/query, gallery)",
    "partial_body_images/ + whole_body_images/": "bpbreid's repackaging (partial_body_images/, whole_body_images/)",
}
METRIC_NAMES = ("rank1", "rank3", "rank5", "rank10", "mAP")


@dataclass(frozen=True)
class FeatureFile:
    """One feature file, checked: ``features`` ``(N, D)``, ``paths`` its N normalised paths,
    ``index`` path -> row."""

    path: Path
    paths: list[str]
    features: np.ndarray
    metric: str
    index: dict[str, int]
    sha256: str


def _norm(p: str) -> str:
    """A stored path in one spelling: forward slashes, no leading ``./``."""
    p = p.replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    return p


def _check(where: str, paths: np.ndarray, features: np.ndarray, metric: str) -> tuple[list[str], str]:
    """Refuse bad arrays naming ``where``; return the normalised paths and the metric."""
    if paths.ndim != 1 or paths.dtype.kind not in "US" or len(paths) == 0:
        raise ValueError(f"{where}: expected 'paths' as a non-empty 1-D array of strings (one per image); "
                         f"found shape {paths.shape}, dtype {paths.dtype}")
    names = [_norm(p.decode() if isinstance(p, bytes) else str(p)) for p in paths.tolist()]
    if features.dtype.kind != "f":
        raise ValueError(f"{where}: expected 'features' of a float dtype; found dtype {features.dtype}")
    if features.ndim != 2 or features.shape[0] != len(names) or features.shape[1] == 0:
        raise ValueError(f"{where}: expected 'features' of shape (N, D) = ({len(names)}, D >= 1), one row per path; "
                         f"found shape {features.shape}")
    bad = np.flatnonzero(~np.isfinite(features).all(1))
    if len(bad):
        raise ValueError(f"{where}: expected finite features; found NaN or inf in {len(bad)} rows "
                         f"(first: row {bad[0]}, {names[bad[0]]!r})")
    if len(set(names)) < len(names):
        first = next(n for n, c in Counter(names).items() if c > 1)
        raise ValueError(f"{where}: expected each path once; found {len(names) - len(set(names))} duplicate rows "
                         f"(first: {first!r})")
    if metric not in METRICS:
        raise ValueError(f"{where}: expected 'metric' one of {list(METRICS)}; found {metric!r}")
    return names, metric


def save_features(path: str | Path, paths: Sequence[str | Path], features, metric: str = "cosine",
                  root: str | Path | None = None) -> Path:
    """Write a feature file atomically: ``features`` ``(N, D)`` (numpy or torch, float), one row per
    image of ``paths``. Paths are stored relative to the dataset folder; with ``root`` (that
    folder, e.g. a reader's ``data.root``) absolute or ``root``-prefixed paths are made relative.
    The arrays are checked as :func:`read_features` checks them, before anything is written."""
    names = []
    for p in paths:
        p = Path(p)
        if root is not None:
            try:
                p = p.relative_to(root)
            except ValueError:
                try:
                    p = p.resolve().relative_to(Path(root).resolve())
                except ValueError:
                    raise ValueError(f"paths: expected images under root {root}; found {p}") from None
        if p.is_absolute():
            raise ValueError(f"paths: expected paths relative to the dataset folder (or pass root=); found {p}")
        names.append(p.as_posix())
    if isinstance(features, Tensor):
        features = features.detach().cpu()
        features = (features.float() if features.dtype == torch.bfloat16 else features).numpy()
    feats = np.asarray(features)
    _check(f"{path} (not written)", np.asarray(names, dtype=str), feats, metric)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: numpy.savez would append .npz to a name
            np.savez(f, paths=np.asarray(names, dtype=str), features=feats, metric=np.asarray(metric))

    return atomic_write(path, write)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_features(path: str | Path) -> FeatureFile:
    """Read and check a feature file (:data:`FORMAT`); raise naming the file, what was expected
    and what was found (not an .npz, a missing array, a wrong shape or dtype, NaN/inf, a path
    twice, an unknown metric)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expected a feature file ({FORMAT}); found no such file")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            head = f.read(6)
        found = ("a .npy array (write both arrays with numpy.savez or save_features)" if head == b"\x93NUMPY"
                 else "a file that is not a zip archive")
        raise ValueError(f"{path}: expected {FORMAT}; found {found}")
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = sorted(z.files)
            if "paths" not in keys or "features" not in keys:
                raise KeyError(keys)
            paths, features = z["paths"], z["features"]
            metric = z["metric"] if "metric" in keys else np.asarray("cosine")
    except KeyError:
        raise ValueError(f"{path}: expected {FORMAT}; found the arrays {keys}") from None
    except ValueError as e:  # object arrays (e.g. a list of Path objects) need pickle, which is refused
        raise ValueError(f"{path}: expected {FORMAT}, loadable without pickle (paths as a numpy string array, "
                         f"np.asarray(paths, dtype=str)); found {e}") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"{path}: expected {FORMAT}; found an unreadable archive ({e})") from None
    if metric.ndim != 0 or metric.dtype.kind not in "US":
        raise ValueError(f"{path}: expected 'metric' as one string; found shape {metric.shape}, dtype {metric.dtype}")
    m = metric.item()
    names, m = _check(str(path), paths, features, m.decode() if isinstance(m, bytes) else m)
    return FeatureFile(path, names, features, m, {n: i for i, n in enumerate(names)}, _sha256(path))


@dataclass
class Protocol:
    """A loaded test set and how it is scored: ``query_keys`` / ``gallery_keys`` the paths
    (relative to ``data.root``) a feature file must hold, ``description`` what the protocol does."""

    dataset: str
    data: ReIDData
    directions: tuple[str, ...]
    query_keys: list[str]
    gallery_keys: list[str]
    description: dict[str, str]


def _describe(data: ReIDData) -> dict[str, str]:
    """The protocol in words: folders, camera filtering, version, counts against the published."""
    info, c = data.info, data.counts()
    published = PUBLISHED_COUNTS[data.name]
    keys = ("query_images", "gallery_images")
    counts = f"{c['query_images']} query / {c['gallery_images']} gallery images (published: " + \
        f"{published['query_images']} / {published['gallery_images']}" + \
        (")" if all(c[k] == published[k] for k in keys) else "; this copy differs)")
    d = {"dataset": data.name, "folder": str(data.root), "counts": counts}
    if data.name == "partial_reid":
        d["partial side"] = "partial_body_images/"
        d["holistic side"] = "whole_body_images/"
        d["not used"] = (f"occluded_body_images/ ({info['occluded_images_unused']} images): not a query set of "
                         "this benchmark")
    elif data.name == "partial_ilids":
        qdir, gdir = info["layout"].split(" + ")
        d["partial side"], d["holistic side"] = qdir, gdir
        d["version"] = (f"{ILIDS_VERSIONS.get(info['layout'], info['layout'])}; gallery of "
                        f"{info['gallery_variant']}")
    if data.name in PARTIAL_SETS:
        d["camera filtering"] = ("off: Partial-REID has no camera ids (the NNN of PPP_NNN.jpg is an image index, never "
                                 "a camera)" if data.name == "partial_reid" else "off: Partial-iLIDS has no camera ids")
        d["directions"] = "partial as query (Table 2) and partial as gallery (Table 3)"
        if info.get("list_files_checked"):
            d["list files"] = ", ".join(info["list_files_checked"]) + " checked against the folders"
        if info.get("query_ids_without_gallery"):
            d["unmatched"] = f"ids {info['query_ids_without_gallery']} have no holistic image (not scored as queries)"
    else:
        d["query side"], d["gallery side"] = "query/", "bounding_box_test/"
        d["camera filtering"] = ("on (Market-1501's rule): for each query, gallery images of its person taken by its "
                                 "camera are removed from its ranking")
        d["junk"] = (f"{info['junk']} junk files (pid -1) in bounding_box_test/ dropped by the reader; "
                     f"{info['distractors']} distractors (pid 0000) kept in the gallery")
        d["directions"] = "query -> gallery"
    return d


def load_protocol(dataset: str, root: str | Path) -> Protocol:
    """Read ``dataset`` (one of :data:`DATASETS`) from ``root`` with the kit's reader and set up its
    protocol. A partial set whose records carry camera ids, or a Market-1501 without them, is
    refused."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset: expected one of {list(DATASETS)}; found {dataset!r}")
    data = load(dataset, root)
    if dataset in PARTIAL_SETS:
        require_no_cameras(data)
        directions: tuple[str, ...] = ("partial_as_query", "partial_as_gallery")
    else:
        no_cam = [r.path for r in (*data.query, *data.gallery) if r.camid is None]
        if no_cam:
            raise ValueError(f"{no_cam[0]}: expected a Market-1501 record with a camera id; found none")
        directions = ("query_to_gallery",)

    def rel(records: list[Record]) -> list[str]:
        return [Path(r.path).relative_to(data.root).as_posix() for r in records]

    return Protocol(dataset, data, directions, rel(data.query), rel(data.gallery), _describe(data))


def _missing_message(ff: FeatureFile, proto: Protocol, missing: list[str]) -> str:
    n = len(proto.query_keys) + len(proto.gallery_keys)
    msg = (f"{ff.path}: expected a row for every image of the {proto.dataset} protocol ({n} images, paths "
           f"relative to {proto.data.root}, e.g. {proto.query_keys[0]!r}); found {len(missing)} of them missing "
           f"(e.g. {', '.join(repr(m) for m in missing[:3])})")
    stored = ff.paths[0]
    if stored.startswith("/") or (len(stored) > 1 and stored[1] == ":"):
        msg += f". The file's paths are absolute ({stored!r}): store them relative to the dataset folder"
    elif any(p.endswith("/" + missing[0]) for p in ff.paths):
        msg += ". The file's paths carry a prefix: store them relative to the dataset folder"
    if missing[0].startswith("partial_body_images/") and any(p.startswith("occluded_body_images/") for p in ff.paths):
        msg += ". The file holds occluded_body_images/, which is not this benchmark's partial side"
    return msg


def lookup(ff: FeatureFile, keys: Sequence[str], proto: Protocol) -> np.ndarray:
    """``(len(keys), D)`` rows of ``ff`` for the protocol paths ``keys``; refuse missing paths (naming
    them and how many) and, for the cosine metric, zero rows (they have no direction)."""
    rows = [ff.index.get(k) for k in keys]
    missing = [k for k, i in zip(keys, rows) if i is None]
    if missing:
        raise ValueError(_missing_message(ff, proto, missing))
    x = ff.features[rows]
    if ff.metric == "cosine":
        zero = np.flatnonzero(~np.any(x != 0, axis=1))
        if len(zero):
            raise ValueError(f"{ff.path}: expected non-zero features for the cosine metric; found {len(zero)} "
                             f"zero rows (first: {keys[zero[0]]!r})")
    return x


def check_covers(proto: Protocol, ff: FeatureFile) -> None:
    """Refuse ``ff`` unless it holds every query and gallery image of ``proto``."""
    lookup(ff, [*proto.query_keys, *proto.gallery_keys], proto)


def distances(query: np.ndarray, gallery: np.ndarray, metric: str) -> Tensor:
    """``(Q, G)`` distances between ``query`` ``(Q, D)`` and ``gallery`` ``(G, D)``: ``1 - cos`` or
    Euclidean (float32)."""
    a, b = torch.from_numpy(np.asarray(query, np.float32)), torch.from_numpy(np.asarray(gallery, np.float32))
    if metric == "cosine":
        return 1.0 - F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
    if metric == "euclidean":
        return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")
    raise ValueError(f"metric: expected one of {list(METRICS)}; found {metric!r}")


def score_file(proto: Protocol, ff: FeatureFile) -> dict[str, dict]:
    """Each direction of ``proto`` scored with ``ff``'s features: ``{direction: rank(...)}``."""
    x = lookup(ff, [*proto.query_keys, *proto.gallery_keys], proto)
    nq = len(proto.query_keys)
    d = distances(x[:nq], x[nq:], ff.metric)
    data = proto.data
    if proto.dataset in PARTIAL_SETS:
        folds = data.info.get("folds")
        return {"partial_as_query": partial_rank(d, data.query, data.gallery, "query", folds),
                "partial_as_gallery": partial_rank(d, data.query, data.gallery, "gallery", folds)}
    return {"query_to_gallery": rank(d, [r.pid for r in data.query], [r.pid for r in data.gallery],
                                     [r.camid for r in data.query], [r.camid for r in data.gallery])}


def queries_of(proto: Protocol, direction: str) -> list[Record]:
    """The records that are queries in ``direction`` (the holistic side for ``partial_as_gallery``)."""
    return proto.data.gallery if direction == "partial_as_gallery" else proto.data.query


def rank1_difference(a: np.ndarray, b: np.ndarray, identities: Sequence[int], n_boot: int = 5000, seed: int = 0,
                     level: float = 0.95) -> dict:
    """The kit's interval of ``mean(a - b)`` for rank-1 hits ``(seeds, queries)`` of two models on
    the same queries, queries clustered by person (``identities``: one per query). The one place
    this module calls :mod:`ppcl.evaluate.compare`'s interval (a change of interval is one line
    here); returns :func:`ppcl.evaluate.compare.random_effects_interval`'s dict."""
    return random_effects_interval(a, b, clusters=np.asarray(identities), level=level, n_boot=n_boot, seed=seed)


def read_feature_files(files: Sequence[str | Path | FeatureFile], what: str) -> list[FeatureFile]:
    """Read one model's files (one per seed; ``what`` names them in errors), refusing none and
    refusing two files with the same content (two seeds must be two trainings)."""
    out = [f if isinstance(f, FeatureFile) else read_features(f) for f in files]
    if not out:
        raise ValueError(f"{what}: expected at least one feature file; found none")
    seen: dict[str, Path] = {}
    for f in out:
        if f.sha256 in seen:
            raise ValueError(f"{what}: expected one file per seed (independent trainings); found {seen[f.sha256]} and "
                             f"{f.path} with the same content (sha256 {f.sha256[:12]})")
        seen[f.sha256] = f.path
    return out


def evaluate_protocol(proto: Protocol, features: Sequence[str | Path | FeatureFile],
                      versus: Sequence[str | Path | FeatureFile] | None = None,
                      labels: tuple[str, str] = ("features", "versus"), n_boot: int = 5000, seed: int = 0,
                      level: float = 0.95, progress: bool = False) -> dict:
    """Score feature files (one per seed) on ``proto``; see :func:`evaluate_features`."""
    import pandas as pd
    from tqdm.auto import tqdm

    models = {labels[0]: read_feature_files(features, "features")}
    if versus:
        if labels[1] == labels[0]:
            raise ValueError(f"labels: expected two different names; found {labels}")
        models[labels[1]] = read_feature_files(versus, "versus")
    rows: list[dict] = []
    hits: dict[tuple[str, str], list[dict]] = {}
    bar = tqdm(total=sum(map(len, models.values())), desc=f"score {proto.dataset}", unit="file",
               disable=None if progress else True)
    for label, files in models.items():
        for s, ff in enumerate(files):
            for direction, r in score_file(proto, ff).items():
                rows.append({"model": label, "direction": direction, "seed": s, "file": str(ff.path),
                             "metric": ff.metric, **{m: r[m] for m in METRIC_NAMES},
                             "queries": r["num_queries"], "valid_queries": r["num_valid_queries"]})
                hits.setdefault((label, direction), []).append(r["per_query"])
            bar.update()
    bar.close()
    per_seed = _percent(rows)
    summary = seed_summary(rows, keys=("model", "direction"))
    diffs = []
    if versus:
        a_name, b_name = labels
        for direction in proto.directions:
            qa, qb = hits[(a_name, direction)], hits[(b_name, direction)]
            n = min(len(qa), len(qb))
            qa, qb = qa[:n], qb[:n]
            if any(not np.array_equal(x["query"], y["query"]) for x, y in zip(qa, qb)):
                raise ValueError(f"{direction}: {a_name} and {b_name} were scored on different queries")
            who = queries_of(proto, direction)
            ids = [who[i].pid for i in qa[0]["query"]]
            r = rank1_difference(np.stack([hits_at(x) for x in qa]), np.stack([hits_at(x) for x in qb]), ids,
                                 n_boot=n_boot, seed=seed, level=level)
            diffs.append({"model": a_name, "versus": b_name, "direction": direction, "seeds": n,
                          "people": len(set(ids)), "queries": len(ids), "rank1_diff": 100 * r["mean"],
                          "ci_low": 100 * r["low"], "ci_high": 100 * r["high"], "p": r["p"], "ci_basis": r["basis"],
                          "seed_diff_std": 100 * r["seed_std"], "ci_query_low": 100 * r["query_low"],
                          "ci_query_high": 100 * r["query_high"], "level": level})
    files = {label: [{"file": str(f.path), "sha256": f.sha256, "metric": f.metric} for f in fs]
             for label, fs in models.items()}
    return {"protocol": dict(proto.description), "files": files, "per_seed": per_seed, "summary": summary,
            "versus": pd.DataFrame(diffs) if versus else None}


def _percent(rows: list[dict]):
    import pandas as pd

    df = pd.DataFrame(rows)
    for m in METRIC_NAMES:
        df[m] = 100 * df[m]
    return df


def evaluate_features(dataset: str, root: str | Path, features: Sequence[str | Path | FeatureFile],
                      versus: Sequence[str | Path | FeatureFile] | None = None,
                      labels: tuple[str, str] = ("features", "versus"), n_boot: int = 5000, seed: int = 0,
                      level: float = 0.95, progress: bool = False) -> dict:
    """Score feature files on ``dataset`` (one of :data:`DATASETS`) read from ``root``.

    ``features`` is one file per seed of one model; ``versus`` (optional) the files of a second
    model, compared seed for seed (over the first ``min`` of the two counts). Returns
    ``{"protocol": {what: how}, "files": {label: [{file, sha256, metric}]}, "per_seed": DataFrame
    (model, direction, seed, file, metric, rank1..rank10, mAP in percent, queries, valid_queries),
    "summary": DataFrame (:func:`ppcl.evaluate.compare.seed_summary`: mean and std over seeds,
    percent), "versus": DataFrame of rank-1 differences in points with the interval
    (:func:`rank1_difference`) or None}``. Directions: ``partial_as_query`` (Table 2) and
    ``partial_as_gallery`` (Table 3) on the partial sets, ``query_to_gallery`` on Market-1501.
    """
    return evaluate_protocol(load_protocol(dataset, root), features, versus, labels, n_boot, seed, level, progress)


def report_markdown(result: dict) -> str:
    """The result of :func:`evaluate_features` as text: the protocol, then Markdown tables."""
    lines = ["Protocol:", *(f"  {k}: {v}" for k, v in result["protocol"].items()), ""]
    s = result["summary"].copy()
    table = s[["model", "direction", "seeds"]].copy()
    for m in METRIC_NAMES:
        table[m] = [f"{a:.1f} ± {b:.1f}" for a, b in zip(s[f"{m}_mean"], s[f"{m}_std"])]
    lines += ["Mean ± std over seeds (percent; std with ddof=1, 0 for one seed):", "",
              table.to_markdown(index=False), ""]
    cols = ["model", "direction", "seed", "file", *METRIC_NAMES, "valid_queries", "queries"]
    lines += ["Per seed (percent):", "", result["per_seed"][cols].to_markdown(index=False, floatfmt=".2f"), ""]
    if result["versus"] is not None:
        lines += ["Rank-1 difference (points; interval over seeds and people, queries clustered by identity):", "",
                  result["versus"].to_markdown(index=False, floatfmt=".2f"), ""]
    return "\n".join(lines)


def result_json(result: dict) -> dict:
    """The result of :func:`evaluate_features` as plain JSON values."""
    out = {"protocol": result["protocol"], "files": result["files"], "units": "percent (differences in points)"}
    for key in ("per_seed", "summary", "versus"):
        df = result[key]
        out[key] = None if df is None else json.loads(df.to_json(orient="records"))
    return out


def write_result(path: str | Path, result: dict) -> Path:
    """:func:`result_json` to ``path``, atomically."""
    return write_json(path, result_json(result))

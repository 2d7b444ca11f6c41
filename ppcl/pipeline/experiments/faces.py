"""Partial-LFW (§5): partial face queries against a holistic gallery, CMC and verification ROC.

The test set is :func:`ppcl.data.partial_lfw.build_partial_lfw`'s manifest: the ``n_ids``
identities of LFW with the most images (1,000 in the paper; ``n_ids = 0`` takes every identity
with two or more images, which is what the kit's small synthetic LFW holds), one holistic
gallery image each, every other image a partial query cut at a recorded t (area range, sides
and seed in the manifest); drawn by the run, or read from ``partial_lfw.json`` in the data root
(``data_prep/partial_lfw.py``) when the file is there and matches the profile (:func:`partial_lfw_for`).
Queries are cut from the image's pixels (:func:`ppcl.data.partial.crop_pixels`, the realised t
kept) and resized to the network's input, as a detector would hand them over.

Every method goes through the re-ID evaluation engine (:mod:`ppcl.evaluate.engine`) unchanged,
on the face backbone: **Resize** (the crop resized, F, the GDC descriptor), **+R** (GLRec
rectifies, the descriptor of GLRec's layout box) and **PPCL** (``+R+L``: CRLoc anchored on the
partial query locates its region in each gallery face, the two regions compared). The partial
query is always the anchor.

**Distance.** The paper compares descriptors in Euclidean distance. The kit's descriptors are
L2-normalised, and for unit vectors ``|a - b| = sqrt(2 (1 - cos(a, b)))``, so the kit reports
the Euclidean distance computed from the engine's cosine distance (:func:`euclidean`): a
monotone map of it, so ranks, ROC, AUC and TAR are those of the cosine distance too.

Metrics: CMC rank-1/3/5/10 (and mAP) with :func:`ppcl.evaluate.rank` (no camera ids), and the
verification ROC over **all** (partial query, gallery face) pairs with
:func:`ppcl.evaluate.verification` (TAR at FAR 1e-3 and 1e-2 read at the best point whose FAR
does not exceed the target).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ...data.common import DatasetError, FaceData, read_image
from ...data.partial_lfw import build_partial_lfw
from ...models.ppcl import PPCL
from ...evaluate.engine import PAIRWISE, distance_matrix, encode, load_images, pil_to_tensor
from ...evaluate.rank import rank
from .methods import FACES, Method
from ...evaluate.verification import VerificationResult, verification

DATASET = "Partial-LFW"
FACE_METHODS = FACES
FARS = (1e-3, 1e-2)


def eligible_ids(data: FaceData) -> int:
    """How many identities hold two or more images (the most Partial-LFW can use)."""
    return data.counts()["ids_with_2_or_more"]


def partial_lfw_manifest(data: FaceData, n_ids: int = 1000, area: tuple[float, float] = (0.3, 0.8),
                         sides: Sequence[str] | None = None, seed: int = 0) -> dict:
    """The Partial-LFW manifest of ``data`` (an LFW-layout :class:`FaceData`): ``n_ids = 0``
    takes every identity with two or more images. Asking for more than that is an error naming
    the dataset folder."""
    from ...data.partial import SIDES

    n = eligible_ids(data) if n_ids == 0 else n_ids
    return build_partial_lfw(data, n, tuple(area), tuple(sides or SIDES), seed)


def load_partial_lfw(manifest: dict, size: tuple[int, int]) -> dict:
    """The manifest's images as tensors at the network's input ``size``: ``query`` (each partial
    face cut from its image's pixels at the manifest's t, then resized), ``gallery`` (holistic,
    resized), pids, the realised ``t`` and ``side`` of each query, and the paths."""
    from ...data.partial import crop_pixels
    from PIL import Image

    root = Path(manifest["root"])
    q_imgs, ts = [], []
    for q in manifest["query"]:
        img = np.asarray(read_image(root / q["path"]))
        cut, t_real = crop_pixels(img, np.asarray(q["t"], dtype=np.float64))
        q_imgs.append(pil_to_tensor(Image.fromarray(cut), size))
        ts.append(t_real)
    from ...data.common import Record

    g_recs = [Record(str(root / g["path"]), g["pid"], None) for g in manifest["gallery"]]
    return {"query": torch.stack(q_imgs), "q_pids": [q["pid"] for q in manifest["query"]],
            "t": torch.tensor(np.stack(ts), dtype=torch.float32), "side": [q["side"] for q in manifest["query"]],
            "gallery": load_images(g_recs, size), "g_pids": [g["pid"] for g in manifest["gallery"]],
            "q_paths": [str(root / q["path"]) for q in manifest["query"]], "g_paths": [r.path for r in g_recs],
            "names": [g["name"] for g in manifest["gallery"]]}


def protocol_from_file(path: Path, data: FaceData, cfg, seed: int, data_root: Path) -> dict:
    """The Partial-LFW manifest written by ``data_prep/partial_lfw.py`` at ``path``, checked
    against the profile's ``faces.partial_lfw`` settings ``cfg`` and crop ``seed`` and re-rooted at
    ``data``'s LFW folder (the one the run reads: its paths are relative to it). A file built with
    other settings, or naming an image this LFW lacks, is refused naming the file and the setting."""
    from ...data.partial_lfw import MANIFEST_VERSION, read_manifest

    m = read_manifest(path)
    n = eligible_ids(data) if cfg.n_ids == 0 else cfg.n_ids
    rebuild = (f"rebuild it (python data_prep/partial_lfw.py {data_root} {path} --ids {cfg.n_ids} --area {cfg.area[0]} "
               f"{cfg.area[1]} --sides {' '.join(cfg.sides)} --seed {seed}) or remove it to have the run draw its own")
    checks = (("faces.partial_lfw.n_ids", n, m.get("n_ids")), ("faces.partial_lfw.area", list(cfg.area), m.get("area")),
              ("faces.partial_lfw.sides", list(cfg.sides), m.get("sides")),
              ("seed + faces.partial_lfw.seed_offset", seed, m.get("seed")), ("version", MANIFEST_VERSION, m.get("version")))
    for setting, want, found in checks:
        if found != want:
            raise DatasetError(path, f"a Partial-LFW protocol built with this run's {setting} = {want}",
                               f"{setting} = {found}; {rebuild}")
    if len(m["gallery"]) != n or {g["pid"] for g in m["gallery"]} != set(range(n)):
        raise DatasetError(path, f"one gallery image for each of its {n} identities (pids 0..{n - 1})",
                           f"{len(m['gallery'])} gallery entries; {rebuild}")
    root = Path(data.root)
    absent = next((e["path"] for e in (*m["gallery"], *m["query"]) if not (root / e["path"]).is_file()), None)
    if absent is not None:
        raise DatasetError(path, f"images of the LFW folder this run reads ({root})",
                           f"{absent}, which is not there (built from another LFW copy?); {rebuild}")
    return {**m, "root": str(root), "protocol_file": str(path)}


def partial_lfw_for(run) -> tuple[dict, dict]:
    """The run's Partial-LFW: ``(manifest, tensors)`` at the face input size, built once per run
    (kept in ``run.memo``). When the data root holds :data:`ppcl.data.partial_lfw.PROTOCOL_FILE`
    (``data_prep/partial_lfw.py``'s output), that file is the test set, after
    :func:`protocol_from_file` has checked it against the profile; otherwise the set is drawn from
    ``run.data("lfw")`` with the profile's ``faces.partial_lfw`` settings (crops with the profile's
    seed + ``seed_offset``). The manifest's ``protocol_file`` says which (None: drawn)."""
    from ...data.partial_lfw import PROTOCOL_FILE

    if "partial_lfw" not in run.memo:
        cfg, lfw = run.profile.faces.partial_lfw, run.data("lfw")["lfw"]
        seed, path = run.profile.seed + cfg.seed_offset, Path(run.root) / PROTOCOL_FILE
        if path.is_file():
            manifest = protocol_from_file(path, lfw, cfg, seed, Path(run.root))
        else:
            manifest = {**partial_lfw_manifest(lfw, cfg.n_ids, cfg.area, cfg.sides, seed), "protocol_file": None}
        run.memo["partial_lfw"] = (manifest, load_partial_lfw(manifest, tuple(run.profile.faces.backbone.input_size)))
    return run.memo["partial_lfw"]


def euclidean(cosine_distance: Tensor) -> Tensor:
    """Euclidean distance between unit vectors from their cosine distance ``1 - cos``:
    ``sqrt(2 (1 - cos))`` (monotone: ranks and ROC unchanged).

    >>> euclidean(torch.tensor([0.0, 1.0, 2.0]))  # the same, orthogonal, opposite
    tensor([0.0000, 1.4142, 2.0000])
    """
    return (2.0 * cosine_distance).clamp_min(0.0).sqrt()


def same_identity(q_pids: Sequence[int], g_pids: Sequence[int]) -> Tensor:
    """``(Q, G)`` booleans: whether each (query, gallery) pair is genuine."""
    return torch.as_tensor(list(q_pids))[:, None] == torch.as_tensor(list(g_pids))[None, :]


@torch.no_grad()
def evaluate_faces(model: PPCL, test: dict, methods: Sequence[str] = ("resize", "+R", "+R+L"), topk: int | None = None,
                   device: torch.device | str = "cpu", fars: Sequence[float] = FARS) -> dict[str, dict]:
    """Each engine ``method`` on a :func:`load_partial_lfw` set, partial faces as queries.

    Returns ``{method: {"rank": rank(...), "roc": VerificationResult, "distmat": (Q, G) Euclidean
    distances, "encoded": (query, gallery)}}``; the feature maps are computed once and shared
    by ``+R`` and ``+R+L``.
    """
    same = same_identity(test["q_pids"], test["g_pids"])
    cache, out = {}, {}
    for m in methods:
        key = "+R" if m in ("+R", *PAIRWISE) else m
        if key not in cache:
            cache[key] = (encode(model, test["query"], m, device=device), encode(model, test["gallery"], m, device=device))
        q, g = cache[key]
        d = euclidean(distance_matrix(model, q, g, m, anchor="query", topk=topk, device=device))
        out[m] = {"rank": rank(d, test["q_pids"], test["g_pids"]),
                  "roc": verification(d.reshape(-1), same.reshape(-1), fars), "distmat": d, "encoded": (q, g)}
    return out


def score_faces_seed(models: dict[str, PPCL], test: dict, seed: int, methods: Sequence[Method] = FACE_METHODS,
                     topk: int | None = None, device="cpu") -> tuple[list[dict], dict, dict]:
    """Every method of ``methods`` on Partial-LFW for one seed's models (``models[variant]``).

    Returns ``(rows, per_query, raw)``: one row per method with ``seed``, ``rank1/3/5/10``,
    ``mAP`` (fractions), ``auc`` and ``tar_at_far_<f>`` (fractions); ``per_query[(dataset,
    "query", label)]`` for :func:`ppcl.evaluate.compare.differences`; ``raw[label]`` the
    method's :func:`evaluate_faces` entry.
    """
    rows, per_query, raw = [], {}, {}
    by_variant: dict[str, dict] = {}
    for variant in dict.fromkeys(m.variant for m in methods):
        wanted = tuple(m.method for m in methods if m.variant == variant)
        by_variant[variant] = evaluate_faces(models[variant], test, wanted, topk=topk, device=device)
    for m in methods:
        r = by_variant[m.variant][m.method]
        roc: VerificationResult = r["roc"]
        rows.append({"dataset": DATASET, "direction": "query", "method": m.label, "seed": seed,
                     **{k: r["rank"][k] for k in ("rank1", "rank3", "rank5", "rank10", "mAP")}, "auc": roc.auc,
                     **{f"tar_at_far_{f:.0e}".replace("e-0", "e-"): roc.tar_at[f] for f in roc.tar_at}})
        per_query[(DATASET, "query", m.label)] = r["rank"]["per_query"]
        raw[m.label] = r
    return rows, per_query, raw


def face_query_identities(per_query: dict, test: dict) -> dict[tuple[str, str], list[int]]:
    """The identity of each Partial-LFW query in the order of ``per_query``'s ``"query"`` indices (an
    LFW person gives several partial queries): the clusters of :func:`ppcl.evaluate.compare.differences`."""
    first = next(iter(per_query.values()))[0]
    return {(DATASET, "query"): [int(test["q_pids"][int(i)]) for i in first["query"]]}


def table4(rows: Sequence[dict]):
    """``05_table4``: per method, the seeds and rank-1 (mean, std), rank-3/5/10 means, in %."""
    from ...evaluate.compare import seed_summary

    s = seed_summary(rows, keys=("method",))
    return s[["method", "seeds", "rank1_mean", "rank1_std", "rank3_mean", "rank5_mean", "rank10_mean"]]


def roc_table(rows: Sequence[dict]):
    """``05_roc``: per method, the means over seeds of the AUC (0-1) and of TAR at FAR 1e-3 and
    1e-2 (in %)."""
    import pandas as pd

    df = pd.DataFrame(list(rows))
    tars = [c for c in df.columns if c.startswith("tar_at_far_")]
    out = df.groupby("method", sort=False)[["auc", *tars]].mean().reset_index()
    out[tars] = 100 * out[tars]
    return out


def table4_beside_paper(t4, label: str = "kit"):
    """Table 4 as the paper prints it (R-1, R-3, R-5, R-10), the paper's rows above the kit's
    (R-1 as mean ± std over seeds, the others as means)."""
    import pandas as pd

    from ... import paper

    fmt = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
    rows = [{"source": "paper", "method": name, "R-1": fmt(r1), "R-3": fmt(r3), "R-5": fmt(r5), "R-10": fmt(r10)}
            for name, (r1, r3, r5, r10) in paper.TABLE4.items()]
    for r in t4.itertuples():
        rows.append({"source": label, "method": r.method, "R-1": f"{r.rank1_mean:.1f} ± {r.rank1_std:.1f}",
                     "R-3": f"{r.rank3_mean:.1f}", "R-5": f"{r.rank5_mean:.1f}", "R-10": f"{r.rank10_mean:.1f}"})
    return pd.DataFrame(rows)


@torch.no_grad()
def located_examples(model: PPCL, test: dict, result: dict, n: int = 4, seed: int = 0) -> list[dict]:
    """``n`` partial queries (drawn with ``seed``), each with its true identity's gallery face:
    the partial face, its rectified view x^r with GLRec's layout box and the true crop t, and
    the gallery face with the box CRLoc locates there (``result``: the ``+R+L`` entry of
    :func:`evaluate_faces`). The inputs of :func:`ppcl.viz.faces.located_faces`."""
    from ...evaluate.engine import crloc_pair_distance

    q, g = result["encoded"]
    first = {}
    for j, p in enumerate(test["g_pids"]):
        first.setdefault(p, j)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(test["q_pids"]), size=min(n, len(test["q_pids"])), replace=False).tolist()
    pairs = torch.tensor([[i, first[test["q_pids"][i]]] for i in picks])
    _, boxes = crloc_pair_distance(model, q, g, pairs, return_boxes=True)
    rect = model.glrec.rectify(test["query"][picks], out_size=model.input_size)
    d = result["distmat"]
    return [{"partial": test["query"][i], "rectified": rect["x_r"][k], "glrec_box": q.t[i], "true_box": test["t"][i],
             "gallery": test["gallery"][first[test["q_pids"][i]]], "crloc_box": boxes[k],
             "rank": int((d[i] < d[i, first[test["q_pids"][i]]]).sum()) + 1, "side": test["side"][i],
             "name": test["names"][first[test["q_pids"][i]]]} for k, i in enumerate(picks)]

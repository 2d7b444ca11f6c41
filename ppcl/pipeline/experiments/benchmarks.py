"""The partial re-ID suite over seeds: every compared method on both test sets, both directions.

Tables 2 and 3 (and 1a) compare methods that come from different trained models: Pad and
Resize use the Resize-trained F (partial views resized in training), their "holistic F" rows an
F trained on holistic images only (the paper's Resize baseline as it reads), +R its own model,
PPCL's rows the PPCL-trained one. For each
seed :func:`score_seed` encodes each test set once per model, computes each method's distance
matrix and ranks it both ways; :func:`ppcl.evaluate.compare.seed_summary` and
:func:`ppcl.evaluate.compare.differences` then turn the rows into means, spreads and paired
intervals.
"""
from __future__ import annotations

from collections.abc import Sequence

from ...data.common import ReIDData
from ...evaluate.protocols import evaluate_partial, fold_count
from ...models.ppcl import PPCL
from .methods import TABLES23, Method

METHODS = TABLES23  # notebook 03
DATASETS = {"partial_reid": "Partial-REID", "partial_ilids": "Partial-iLIDS",
            "partial_reid_large": "Partial-REID, larger draw", "partial_ilids_large": "Partial-iLIDS, larger draw"}
DIRECTIONS = {"query": "partial as query", "gallery": "partial as gallery"}
# The primary comparisons, declared before any run reads them (docs/statistics.md): PPCL against +R and against
# Resize, in both directions of both verdict sets, read with one Holm adjustment over the family; every other
# difference the notebooks print is descriptive.
PRIMARY: tuple[tuple[str, str], ...] = (("PPCL", "+R"), ("PPCL", "Resize"))


def query_identities(per_query: dict, data: dict[str, ReIDData]) -> dict[tuple[str, str], list[int]]:
    """The identity of every query of each (dataset label, direction) of ``per_query`` (any method's:
    every method of a setting ranks the same queries), in the order of its ``"query"`` indices: the
    clusters of :func:`ppcl.evaluate.compare.differences` (Partial-REID has five images of each person
    on each side, so its queries are not independent)."""
    out = {}
    for ds, d in data.items():
        label = DATASETS.get(ds, ds)
        for direction in DIRECTIONS:
            hits = [v for (l, r, _), v in per_query.items() if (l, r) == (label, direction)]
            if not hits:
                continue
            side = d.query if direction == "query" else d.gallery
            out[(label, direction)] = [side[int(i)].pid for i in hits[0][0]["query"]]
    return out


def fingerprint(model: PPCL) -> str:
    """A short hash of a model's weights (names and bytes of every tensor of its state)."""
    import hashlib

    h = hashlib.sha1()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _rank_to_json(r: dict) -> dict:
    return {k: (v.tolist() if hasattr(v, "tolist") else v) if k != "per_query" else {n: a.tolist() for n, a in v.items()}
            for k, v in r.items()}


def _rank_from_json(r: dict) -> dict:
    import numpy as np

    out = {k: np.asarray(v) if k == "cmc" else v for k, v in r.items()}
    out["per_query"] = {n: np.asarray(a) for n, a in r["per_query"].items()}
    return out


def scored(model: PPCL, ds: str, data: ReIDData, methods: Sequence[str], topk: int | None, fuse: float | None, device,
           cache=None, reuse: bool = True) -> dict:
    """:func:`evaluate_partial` of ``methods`` on ``data`` (named ``ds``), or, when ``cache`` (a
    folder) holds the ranks of the same weights, set, methods, top-K and fusion weight, those ranks
    (``{method: {"query", "gallery"}}``, no matrices): notebook 04 reads what notebook 03 scored.
    ``reuse=False`` always evaluates (and writes the ranks)."""
    from pathlib import Path

    from ...io import write_json

    paths = {}
    if cache is not None:
        # ranks within folds are other ranks
        stem = f"{fingerprint(model)}-{ds}-{len(data.query)}x{len(data.gallery)}-f{fold_count(data)}-k{topk or 0}"
        paths = {m: Path(cache) / f"ranks-{stem}-{m}{f'-w{fuse}' if m == '+R+L+G' else ''}.json" for m in methods}
        if reuse and all(p.is_file() for p in paths.values()):
            import json

            saved = {m: json.loads(p.read_text()) for m, p in paths.items()}
            return {m: {d: _rank_from_json(saved[m][d]) for d in DIRECTIONS} for m in methods}
    out = evaluate_partial(model, data, methods, topk=topk, device=device, fuse=fuse)
    for m, p in paths.items():
        write_json(p, {d: _rank_to_json(out[m][d]) for d in DIRECTIONS})
    return out


def score_seed(models: dict[str, PPCL], data: dict[str, ReIDData], seed: int, methods: Sequence[Method] = METHODS,
               fuse: float | None = None, topk: int | None = None, device="cpu", cache=None,
               reuse: bool = True) -> tuple[list[dict], dict, dict]:
    """Every method on every partial set in ``data``, both directions, for one seed's models.

    Returns ``(rows, per_query, raw)``: one row per (dataset, direction, method) with ``seed``,
    ``rank1/3/5/10`` and ``mAP`` (fractions); ``per_query[(dataset, direction, label)]`` the
    per-query ranks; ``raw[(dataset, variant)]`` :func:`evaluate_partial`'s full output (only the
    ranks where they were read from ``cache``, see :func:`scored`).
    """
    rows, per_query, raw = [], {}, {}
    for ds, d in data.items():
        for variant in dict.fromkeys(m.variant for m in methods):
            wanted = tuple(m.method for m in methods if m.variant == variant)
            raw[(ds, variant)] = scored(models[variant], ds, d, wanted, topk, fuse if "+R+L+G" in wanted else None,
                                        device, cache, reuse)
        for m in methods:
            r = raw[(ds, m.variant)][m.method]
            for direction in DIRECTIONS:
                res = r[direction]
                rows.append({"dataset": DATASETS.get(ds, ds), "direction": direction, "method": m.label, "seed": seed,
                             **{k: res[k] for k in ("rank1", "rank3", "rank5", "rank10", "mAP")}})
                per_query[(DATASETS.get(ds, ds), direction, m.label)] = res["per_query"]
    return rows, per_query, raw


def test_set_sizes(sets: dict[str, ReIDData], verdict: Sequence[str] = ()):
    """One row per partial test set: ``set`` (its label), ``used for`` (the paper-style tables or
    the kit's verdicts), ``identities``, ``partial images``, ``holistic images`` and ``folds`` (the
    galleries a larger draw is scored in, each query against its own fold's; 1: one gallery)."""
    import pandas as pd

    rows = []
    for name, d in sets.items():
        use = "Tables 2 and 3, and the verdicts" if name in verdict and name in ("partial_reid", "partial_ilids") else (
            "the verdicts" if name in verdict else "Tables 2 and 3 (paper-style)")
        rows.append({"set": DATASETS.get(name, name), "used for": use, "identities": len({r.pid for r in d.query}),
                     "partial images": len(d.query), "holistic images": len(d.gallery),
                     "folds": fold_count(d)})
    return pd.DataFrame(rows)


def available(methods: Sequence[Method], models: dict[tuple[str, int], PPCL], seed: int) -> tuple[Method, ...]:
    """The ``methods`` whose variant was trained on ``seed`` (a variant may have fewer seeds, e.g. the
    paper's holistic-F Resize baseline: its differences are then read over the seeds both have)."""
    return tuple(m for m in methods if (m.variant, seed) in models)


def score_seeds(models: dict[tuple[str, int], PPCL], data: dict[str, ReIDData], seeds: Sequence[int],
                methods: Sequence[Method] = METHODS, fuse: dict[int, float] | None = None, topk: int | None = None,
                device="cpu", progress: bool = True, cache=None, reuse: bool = True) -> tuple[list[dict], dict, dict]:
    """:func:`score_seed` for every seed in ``seeds`` (``models[(variant, seed)]``; ``fuse[seed]``
    the fusion weight each seed chose on validation). Returns ``(rows, per_query, raw)``:
    ``per_query[(dataset, direction, label)]`` a list over ``seeds`` in their order (what
    :func:`ppcl.evaluate.compare.differences` takes), ``raw[seed]`` each seed's raw output."""
    from tqdm.auto import tqdm

    rows, per_query, raw = [], {}, {}
    for s in tqdm(seeds, desc=f"scoring {', '.join(data)}", disable=not progress):
        here = available(methods, models, s)
        r, pq, raw[s] = score_seed({m.variant: models[(m.variant, s)] for m in here}, data, s, here,
                                   fuse=None if fuse is None else fuse[s], topk=topk, device=device, cache=cache,
                                   reuse=reuse)
        rows += r
        for k, v in pq.items():
            per_query.setdefault(k, []).append(v)
    return rows, per_query, raw


def paper_style(summary, direction: str, paper_rows: dict | None = None, label: str = "kit"):
    """Table 2 (``direction="query"``) or 3 (``"gallery"``) from a seed summary: the paper's rows
    (R-1 and R-3 as published) above the kit's (R-1 mean ± std over seeds, R-3 mean)."""
    import pandas as pd

    from ... import paper

    ref = paper_rows if paper_rows is not None else (paper.TABLE2 if direction == "query" else paper.TABLE3)
    rows = [{"source": "paper", "method": name, "Partial-REID R-1": f"{a1:.1f}", "Partial-REID R-3": f"{a3:.1f}",
             "Partial-iLIDS R-1": f"{b1:.1f}", "Partial-iLIDS R-3": f"{b3:.1f}"} for name, (a1, a3, b1, b3) in ref.items()]
    s = summary[summary.direction == direction]
    for method in dict.fromkeys(s.method):
        row = {"source": label, "method": method}
        for ds in DATASETS.values():
            hit = s[(s.method == method) & (s.dataset == ds)]
            if len(hit):
                h = hit.iloc[0]
                row[f"{ds} R-1"] = f"{h.rank1_mean:.1f} ± {h.rank1_std:.1f}"
                row[f"{ds} R-3"] = f"{h.rank3_mean:.1f}"
        rows.append(row)
    return pd.DataFrame(rows)


def ranked_examples(model: PPCL, data: ReIDData, result: dict, n: int = 3, top: int = 6, seed: int = 0) -> list[dict]:
    """``n`` partial queries (drawn with ``seed``) with their ``top`` gallery images under ``result``
    (one method's entry of :func:`evaluate_partial` on ``data``), CRLoc's box in each and whether it
    is a true match: the inputs of :func:`ppcl.viz.ranked_list`."""
    import numpy as np
    import torch

    from ...evaluate.engine import crloc_pair_distance, load_images

    part, whole = result["encoded"]
    d = result["distmat"]
    size = model.input_size
    rng = np.random.default_rng(seed)
    out = []
    for qi in rng.choice(len(data.query), size=min(n, len(data.query)), replace=False).tolist():
        top_j = d[qi].argsort()[:top]
        pairs = torch.stack([torch.full_like(top_j, qi), top_j], 1)
        _, boxes = crloc_pair_distance(model, part, whole, pairs, return_boxes=True)
        q_img = load_images([data.query[qi]], size)
        out.append({"query": model.glrec.rectify(q_img, out_size=size)["x_r"][0], "query_box": part.t[qi],
                    "gallery": list(load_images([data.gallery[j] for j in top_j.tolist()], size)),
                    "correct": [data.gallery[j].pid == data.query[qi].pid for j in top_j.tolist()],
                    "boxes": boxes, "dists": d[qi, top_j].tolist(), "name": data.query[qi].path})
    return out

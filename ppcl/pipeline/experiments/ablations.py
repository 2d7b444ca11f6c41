"""Notebook 04's experiments (§4.3), each a function of the run's trained models.

* :func:`table1a` — the model variations on Partial-REID (partial as query), over seeds, with
  the paired interval of each step (Resize -> +R -> +R+L single constraint -> PPCL);
* :func:`figure5` — rank-1 against the query's visible-area ratio on the simulated partial
  Market-style set, per method and seed;
* :func:`table1b` — the query ratio x gallery ratio grid (both sides cropped; GLRec's gate
  decides), with the gate's accuracy;
* :func:`holistic_check` — holistic Market-style queries and gallery: how often the gate leaves
  a holistic image alone, and rank-1 / mAP with and without PPCL;
* :func:`timing` — evaluation wall time of Resize, +R and +R+L (full and top-K) on one set;
* :func:`rank_changes` — the queries whose true match moved most between +R and PPCL (Figures
  6 and 7 are drawn from them by that rule, never by hand).
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from ...data.common import ReIDData
from ...evaluate.compare import differences, seed_summary
from ...evaluate.engine import encode, load_images
from ...evaluate.protocols import evaluate_partial
from ...evaluate.simulated import market_rank, simulated_partial_eval
from ...models.ppcl import PPCL
from .benchmarks import available, query_identities, score_seed
from .methods import FIGURE5, TABLE1A, Method

STEPS: tuple[tuple[str, str], ...] = (
    ("Resize", "Resize (holistic F, the paper's)"),
    ("+R", "Resize (holistic F, the paper's)"),
    ("+R", "Resize"),
    ("+R+L (PP-Triplet only)", "+R"),
    ("+R+L (PP-Cycle only)", "+R"),
    ("PPCL", "+R+L (PP-Triplet only)"),
    ("PPCL", "+R+L (PP-Cycle only)"),
    ("PPCL", "+R fixed box"),
    ("PPCL", "+R"),
)


def _query_side(models, data: dict[str, ReIDData], seeds: Sequence[int], device, cache=None) -> tuple[list[dict], dict]:
    """TABLE1A's methods on ``data`` for every seed, partial images as query: rows and per-query ranks
    (read from ``cache`` where notebook 03 scored the same models, see :func:`ppcl.pipeline.experiments.benchmarks.scored`)."""
    rows, per_query = [], {}
    for s in seeds:
        here = available(TABLE1A, models, s)
        r, pq, _ = score_seed({m.variant: models[(m.variant, s)] for m in here}, data, s, here, device=device, cache=cache)
        rows += [x for x in r if x["direction"] == "query"]
        for k, v in pq.items():
            if k[1] == "query":
                per_query.setdefault(k, []).append(v)
    return rows, per_query


def table1a(models: dict[tuple[str, int], PPCL], data: ReIDData, seeds: Sequence[int], verdict: ReIDData | None = None,
            device="cpu", cache=None):
    """Table 1a over ``seeds`` on a partial set (Partial-REID, partial as query): ``(table, steps)``.
    ``table`` has ``method, seeds, rank1_mean, rank1_std, rank3_mean, rank5_mean, mAP_mean``
    (percent) on ``data``; ``steps`` the rank-1 differences of :data:`STEPS` with the intervals of
    :func:`ppcl.evaluate.compare.differences`, on ``verdict`` (the larger synthetic draw) when
    given and not ``data`` itself, else on ``data``."""
    rows, per_query = _query_side(models, {"partial_reid": data}, seeds, device, cache)
    scored_on = {"partial_reid": data}
    if verdict is not None and verdict is not data:
        _, per_query = _query_side(models, {"partial_reid_large": verdict}, seeds, device, cache)
        scored_on = {"partial_reid_large": verdict}
    summary = seed_summary(rows)
    table = summary[["method", "seeds", "rank1_mean", "rank1_std", "rank3_mean", "rank5_mean", "mAP_mean"]]
    return table.reset_index(drop=True), differences(per_query, STEPS, clusters=query_identities(per_query, scored_on))


def figure5(models: dict[tuple[str, int], PPCL], market: ReIDData, seeds: Sequence[int], ratios: Sequence[float],
            topk: int = 20, methods: Sequence[Method] = FIGURE5, device="cpu"):
    """Rank-1 and mAP (percent) per method, seed and query ratio; the gallery stays holistic."""
    import pandas as pd

    rows = []
    for s in seeds:
        for m in methods:
            model, gallery = models[(m.variant, s)], None
            for r in ratios:
                res = simulated_partial_eval(model, m.method, market.query, market.gallery, r, 1.0, seed=s, topk=topk,
                                             device=device, encoded_gallery=gallery)
                gallery = res["encoded_gallery"]
                rows.append({"method": m.label, "seed": s, "ratio": r, "rank1": 100 * res["rank1"], "mAP": 100 * res["mAP"]})
    return pd.DataFrame(rows)


def table1b(models: dict[int, PPCL], market: ReIDData, ratios: Sequence[float], topk: int = 20, device="cpu"):
    """PPCL's rank-1 (percent) for every (query ratio, gallery ratio), per seed, and the gate's
    accuracy on the same images (every cropped image should be called partial, every holistic
    one holistic): ``(grid, gate)`` DataFrames."""
    import pandas as pd

    rows, gate = [], []
    for s, model in models.items():
        for rg in ratios:
            gallery = None
            for rq in ratios:
                res = simulated_partial_eval(model, "+R+L", market.query, market.gallery, rq, rg, seed=s, topk=topk,
                                             device=device, encoded_gallery=gallery)
                gallery = res["encoded_gallery"]
                rows.append({"seed": s, "query_ratio": rq, "gallery_ratio": rg, "rank1": 100 * res["rank1"]})
                if rg == ratios[0]:
                    gate.append({"seed": s, "ratio": rq, "images": len(res["query_partial"]),
                                 "gate_accuracy": 100 * float(res["query_partial"].float().mean())})
        holistic = encode(model, load_images(market.gallery, model.input_size), "+R", device=device)
        gate.append({"seed": s, "ratio": 1.0, "images": len(holistic.eta),
                     "gate_accuracy": 100 * float((holistic.eta < 0.5).float().mean())})
    return pd.DataFrame(rows), pd.DataFrame(gate)


def holistic_check(models: dict[tuple[str, int], PPCL], market: ReIDData, seeds: Sequence[int], topk: int = 20, device="cpu"):
    """Holistic Market-style queries and gallery: the share of images GLRec's gate leaves alone,
    and rank-1 / mAP of the Resize-trained F (no PPCL) and of PPCL (+R+L with its gate)."""
    import pandas as pd

    rows = []
    for s in seeds:
        for label, variant, method in (("without PPCL (Resize model)", "resize", "resize"), ("PPCL (+R+L)", "ppcl", "+R+L")):
            res = simulated_partial_eval(models[(variant, s)], method, market.query, market.gallery, 1.0, 1.0, seed=s,
                                         topk=topk, device=device)
            kept = None if res["query_partial"] is None else 100 * float((~res["query_partial"]).float().mean())
            rows.append({"method": label, "seed": s, "rank1": 100 * res["rank1"], "mAP": 100 * res["mAP"],
                         "queries left unchanged by the gate (%)": kept})
    return pd.DataFrame(rows)


def timing(models: dict[str, PPCL], data: ReIDData, topk: int = 20, repeats: int = 3, device="cpu"):
    """Evaluation wall time (seconds, best of ``repeats``) on one partial set, encoding included,
    of Resize, +R and +R+L (every pair, and the top-K of +R), with ratios to Resize."""
    import pandas as pd

    cases = (("Resize", "resize", "resize", None), ("+R", "+R", "+R", None), ("+R+L", "ppcl", "+R+L", None),
             (f"+R+L (top-{topk})", "ppcl", "+R+L", topk))
    rows = []
    for label, variant, method, k in cases:
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            evaluate_partial(models[variant], data, (method,), topk=k, device=device)
            best = min(best, time.perf_counter() - t0)
        rows.append({"method": label, "seconds": best})
    df = pd.DataFrame(rows)
    return df.assign(ratio_to_resize=df.seconds / df.seconds.iloc[0])


def rank_changes(plus_r: dict, ppcl: dict, data: ReIDData) -> "pd.DataFrame":
    """Per partial query: the rank of its first true match under +R and under PPCL (from
    :func:`evaluate_partial` results on the same set), sorted by PPCL's gain (best first)."""
    import pandas as pd

    a, b = plus_r["query"]["per_query"], ppcl["query"]["per_query"]
    if not np.array_equal(a["query"], b["query"]):
        raise ValueError("the two results were scored on different queries")
    df = pd.DataFrame({"query": a["query"], "rank_+R": a["first"] + 1, "rank_PPCL": b["first"] + 1,
                       "name": [data.query[i].path for i in a["query"]]})
    return df.assign(gain=df["rank_+R"] - df["rank_PPCL"]).sort_values("gain", ascending=False, kind="stable").reset_index(drop=True)


@torch.no_grad()
def correspondence_examples(model: PPCL, data: ReIDData, result: dict, queries: Sequence[int]) -> list[dict]:
    """For each partial query index: the rectified query with GLRec's layout box, and its first
    true match with GLRec's box (the query's layout, blind to the reference: blue) and CRLoc's
    box (red) — the inputs of :func:`ppcl.viz.correspondence_figure`."""
    from ...evaluate.engine import crloc_pair_distance

    part, whole = result["encoded"]
    size = model.input_size
    out = []
    for qi in queries:
        match = next(j for j, r in enumerate(data.gallery) if r.pid == data.query[qi].pid)
        _, box = crloc_pair_distance(model, part, whole, torch.tensor([[qi, match]]), return_boxes=True)
        x = load_images([data.query[qi], data.gallery[match]], size)
        out.append({"query": model.glrec.rectify(x[:1], out_size=size)["x_r"][0], "query_box": part.t[qi],
                    "match": x[1], "glrec_box": part.t[qi], "crloc_box": box[0], "name": data.query[qi].path})
    return out


__all__ = ["FIGURE5", "STEPS", "TABLE1A", "correspondence_examples", "figure5", "holistic_check", "market_rank",
           "rank_changes", "table1a", "table1b", "timing"]


def figure5_findings(df) -> "pd.DataFrame":
    """The paper's reading of Figure 5, tested per ratio on the means over seeds: is PP-Triplet
    only ahead of PP-Cycle only (the paper: below 0.5), and is PPCL above both (the paper: at
    every ratio)? Each difference comes with the spread of the per-seed differences, so a
    difference inside it is not read as a finding."""
    import pandas as pd

    piv = df.pivot_table(index=["ratio", "seed"], columns="method", values="rank1").reset_index()
    rows = []
    for r, g in piv.groupby("ratio"):
        tri, cyc, ppcl = g["+R+L (PP-Triplet only)"], g["+R+L (PP-Cycle only)"], g["PPCL"]
        t_c = tri.values - cyc.values
        p_b = ppcl.values - np.maximum(tri.values, cyc.values)
        rows.append({"ratio": r, "triplet - cycle": t_c.mean(), "spread": t_c.std(ddof=1) if len(t_c) > 1 else 0.0,
                     "paper: triplet ahead": r < 0.5, "PPCL - best single": p_b.mean(),
                     "spread ": p_b.std(ddof=1) if len(p_b) > 1 else 0.0})
    return pd.DataFrame(rows)

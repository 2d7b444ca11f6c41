"""Validation on held-out *training* identities: simulated partial queries vs holistic gallery.

Each validation identity gives ``queries_per_id`` of its images as queries (never all of
them), each cut to a simulated partial crop with a fixed seed; its other images (and every
other identity's) form the gallery. The same engine and ranking as the test protocols; used
to select epochs and hyper-parameters. With 30 identities and one query each, two models one
query apart differ by 3.3 points, which is why the profiles ask for several queries per id.

The crops are drawn in the *frame* (side and area of the image, the paper's partial views), or,
with ``view_width``, in the image narrowed about its centre to a fraction of its width, as the
kit's training views are cut (:func:`ppcl.data.framing.narrow_framing`; a training image needs no
body box for it): the queries that select models then look like the test sets', which are cut
around the visible part of the person. With ``bodies`` (the kit's synthetic sets know every body
frame) they are cut around the visible part of the *body*, as the synthetic test sets are
(:func:`ppcl.data.partial.sample_body_crop_t`): the ruler on validation
(:func:`validation_localisation`) reads the selection's crops and these.

Everything goes through the engine, which pools regions with the backbone's own ``pool``
(:class:`ppcl.models.backbone.Backbone`), so the same validation selects re-ID models
(Market-style identities) and face models (CASIA-style identities, notebook 05).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..data.common import Record
from ..data.framing import narrowed_region
from ..data.partial import SIDES, area_ratio, draw_partial_batch, sample_body_crop_t, simulate_partial_batch
from ..geometry import box_iou, crop, identity_t, t_to_box
from ..models.ppcl import PPCL
from .engine import PAIRWISE, Encoded, crloc_pair_distance, distance_matrix, encode, fuse_distances, global_distance, load_images
from .rank import rank


def validation_set(records: Sequence[Record], size: tuple[int, int], seed: int = 0,
                   area: tuple[float, float] = (0.3, 0.8), sides: tuple[str, ...] = SIDES,
                   queries_per_id: int = 1, bodies: dict | None = None,
                   view_width: tuple[float, float] = (1.0, 1.0)) -> dict:
    """Queries (partial crops, resized to ``size``) and gallery images, with pids.

    An identity with n images gives ``min(queries_per_id, n - 1)`` queries, so each keeps at
    least one gallery image; one with a single image only joins the gallery (a distractor).
    Crops are drawn in the frame (``view_width`` (1, 1)), in the image narrowed about its centre
    to ``U(view_width)`` of its width (the kit's training views), or around the body when
    ``bodies`` (path -> :class:`ppcl.data.bodies.Body`) is given; ``"crops"`` says which
    (``"frame"``, ``"view"``, ``"body"``) and ``"t"`` is always the crop's region of the whole
    image. The same queries and gallery every way.
    """
    if queries_per_id < 1:
        raise ValueError(f"queries_per_id must be at least 1; got {queries_per_id}")
    if not 0 < view_width[0] <= view_width[1] <= 1:
        raise ValueError(f"view_width: expected a width fraction range (lo, hi) with 0 < lo <= hi <= 1; "
                         f"found {tuple(view_width)}")
    rng = np.random.default_rng(seed)
    by_pid: dict[int, list[Record]] = {}
    for r in records:
        by_pid.setdefault(r.pid, []).append(r)
    q_recs, g_recs = [], []
    for pid in sorted(by_pid):
        rs = by_pid[pid]
        if len(rs) < 2:
            g_recs += rs
            continue
        pick = set(rng.choice(len(rs), size=min(queries_per_id, len(rs) - 1), replace=False).tolist())
        q_recs += [r for i, r in enumerate(rs) if i in pick]
        g_recs += [r for i, r in enumerate(rs) if i not in pick]
    if not q_recs:
        raise ValueError("validation needs at least one identity with two or more images")
    x = load_images(q_recs, size)
    crops = "frame" if bodies is None and tuple(view_width) == (1.0, 1.0) else "view" if bodies is None else "body"
    if crops == "frame":
        x_p, t, _, side = simulate_partial_batch(x, torch.Generator().manual_seed(seed), 1.0, area, sides)
    elif crops == "view":  # the crop drawn in the image narrowed about its centre, as training cuts its views
        g = torch.Generator().manual_seed(seed)
        t_view, _, side = draw_partial_batch(len(x), g, 1.0, area, sides, x.dtype)
        t = narrowed_region(t_view, tuple(view_width), g)  # the crop's region of the whole image
        x_p = crop(x, t, tuple(x.shape[-2:]))
    else:
        missing = [r.path for r in q_recs if r.path not in bodies]
        if missing:
            raise ValueError(f"bodies: expected a body frame for every validation query; found none for {len(missing)}, "
                             f"e.g. {missing[0]}")
        body_rng = np.random.default_rng(seed)
        drawn = [sample_body_crop_t(body_rng, (b.cx, b.top, b.width_scale, b.ph), area, sides)
                 for b in (bodies[r.path] for r in q_recs)]
        t = torch.tensor(np.stack([d[0] for d in drawn]), dtype=x.dtype)
        side = [d[1] for d in drawn]
        x_p = crop(x, t, tuple(x.shape[-2:]))
    return {"query": x_p, "q_pids": [r.pid for r in q_recs], "t": t, "side": side,
            "crops": crops,
            "gallery": load_images(g_recs, size), "g_pids": [r.pid for r in g_recs],
            "q_paths": [r.path for r in q_recs], "g_paths": [r.path for r in g_recs]}


def encode_split(model: PPCL, val: dict, method: str = "+R", device="cpu") -> tuple[Encoded, Encoded]:
    """The queries and the gallery of a :func:`validation_set`, each encoded once for ``method``."""
    return encode(model, val["query"], method, device=device), encode(model, val["gallery"], method, device=device)


@torch.no_grad()
def validate(model: PPCL, val: dict, methods: Sequence[str] = ("+R+L",), device="cpu", comparison: str = "pooled",
             direction: str = "query") -> dict[str, dict]:
    """``{method: rank(...)}`` on a :func:`validation_set`. ``direction="gallery"`` ranks the
    transposed matrix, holistic images as queries against the partial ones (Table 3's direction),
    with the partial side still anchoring the region methods."""
    out = {}
    cache = {}
    for m in methods:
        key = "+R" if m in ("+R", *PAIRWISE) else m
        if key not in cache:
            cache[key] = encode_split(model, val, m, device)
        q, g = cache[key]
        d = distance_matrix(model, q, g, m, device=device, comparison=comparison)
        out[m] = rank(d, val["q_pids"], val["g_pids"]) if direction == "query" else rank(d.T, val["g_pids"], val["q_pids"])
    return out


@torch.no_grad()
def fusion_weight(model: PPCL, val: dict, weights: Sequence[float] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0),
                  device="cpu") -> tuple[float, list[dict]]:
    """Choose ``+R+L+G``'s weight on a :func:`validation_set`: the weight with the best rank-1
    (ties: the smaller weight, the closer to the paper's region-only distance, ``0``).
    CRLoc runs once; each weight only re-adds. Returns ``(weight, [{"weight", "rank1", "mAP"}])``."""
    if not weights or min(weights) < 0:
        raise ValueError(f"weights must be a non-empty list of values >= 0; got {list(weights)}")
    q, g = encode_split(model, val, "+R", device)
    d0 = global_distance(q, g)
    region = distance_matrix(model, q, g, "+R+L", device=device)
    rows = []
    for w in sorted(weights):
        r = rank(fuse_distances(region, d0, w), val["q_pids"], val["g_pids"])
        rows.append({"weight": w, "rank1": r["rank1"], "mAP": r["mAP"]})
    best = max(rows, key=lambda row: (row["rank1"], row["mAP"], -row["weight"]))
    return best["weight"], rows


@torch.no_grad()
def locator_agreement(model: PPCL, val: dict, bodies: dict | None = None, device="cpu") -> dict:
    """Does CRLoc find the right region? On a :func:`validation_set`, for each partial query and
    the first gallery image of its identity, CRLoc's box against the true corresponding region,
    beside GLRec's layout box for the same query, which does not look at the reference.

    The true region is the query's crop t mapped through the two images' body frames
    (:func:`ppcl.data.bodies.corresponding_region`) when ``bodies`` are known (the kit's
    synthetic sets); without them (real data) it is approximated by the crop t itself, as if
    every image of a person shared one layout (``"truth"`` says which).

    Returns the boxes, per-query IoUs, sides and areas, and the correlation of box centres with
    the true centres (``corr_x``, ``corr_y``): a negative value is PP-Cycle's mirror solution.
    """
    q, g = encode_split(model, val, "+R", device)
    first = {}
    for j, p in enumerate(val["g_pids"]):
        first.setdefault(p, j)
    keep = [i for i, p in enumerate(val["q_pids"]) if p in first]
    pairs = torch.tensor([[i, first[val["q_pids"][i]]] for i in keep])
    _, boxes = crloc_pair_distance(model, q, g, pairs, device=device, return_boxes=True)
    true = val["t"][keep].float()
    truth = "crop t (one layout assumed)"
    if bodies is not None and all(p in bodies for p in val.get("q_paths", [None])) and all(p in bodies for p in val["g_paths"]):
        from ..data.bodies import corresponding_region

        true = corresponding_region(true, [bodies[val["q_paths"][i]] for i in keep],
                                    [bodies[val["g_paths"][first[val["q_pids"][i]]]] for i in keep])
        truth = "body frames"

    def corr(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(torch.corrcoef(torch.stack([a, b]))[0, 1])

    iou_l = box_iou(t_to_box(boxes), t_to_box(true))
    iou_g = box_iou(t_to_box(q.t[keep]), t_to_box(true))
    iou_w = box_iou(t_to_box(identity_t(len(true), dtype=true.dtype)), t_to_box(true))
    return {"crloc": boxes, "glrec": q.t[keep], "true": true, "iou_crloc": iou_l, "iou_glrec": iou_g, "iou_whole": iou_w,
            "corr_x": corr(boxes[:, 2], true[:, 2]), "corr_y": corr(boxes[:, 3], true[:, 3]), "truth": truth,
            "side": [val["side"][i] for i in keep], "area": (val["t"][keep, 0] * val["t"][keep, 1]).float()}


def validation_localisation(agree: dict, seed: int, crops: str) -> dict:
    """The ruler on validation, one row from :func:`locator_agreement` (genuine pairs of held-out
    training identities, never a test set): mean IoU with the true corresponding region of CRLoc's
    box, GLRec's fixed box and the whole reference, and mean areas (shares of the reference map) of
    CRLoc's box, the fixed box and the true region. ``iou_margin`` = IoU CRLoc − IoU fixed,
    ``area_ratio`` = CRLoc's area / the true area; the localisation issue asks for a margin of at
    least 0.05 and a ratio within 25% of 1 (``margin_ok``, ``area_ok``)."""

    def area(b: torch.Tensor) -> float:
        return float(area_ratio(b).mean())

    row = {"seed": seed, "crops": crops, "truth": agree["truth"], "pairs": len(agree["true"]),
           "iou_crloc": float(agree["iou_crloc"].mean()), "iou_fixed": float(agree["iou_glrec"].mean()),
           "iou_whole": float(agree["iou_whole"].mean()), "area_crloc": area(agree["crloc"]),
           "area_fixed": area(agree["glrec"]), "area_true": area(agree["true"])}
    row["iou_margin"] = row["iou_crloc"] - row["iou_fixed"]
    row["area_ratio"] = row["area_crloc"] / row["area_true"]
    row["margin_ok"] = bool(row["iou_margin"] >= 0.05)
    row["area_ok"] = bool(abs(row["area_ratio"] - 1) <= 0.25)
    return row


def agreement_table(agree: dict, area_bins: Sequence[float] = (0.0, 0.4, 0.6, 0.8, 1.0)):
    """:func:`locator_agreement` by crop side and visible-area bin: pairs, mean IoU of CRLoc's and
    of GLRec's box with the true region, and how often CRLoc's is the better placed."""
    import pandas as pd

    sides = np.array(agree["side"])
    area = agree["area"].numpy()
    rows = []
    groups = [("all", np.ones(len(sides), bool))] + [(f"side {s}", sides == s) for s in sorted(set(sides))]
    groups += [(f"area [{lo:.1f}, {hi:.1f})", (area >= lo) & (area < hi)) for lo, hi in zip(area_bins[:-1], area_bins[1:])]
    for name, m in groups:
        if m.any():
            a, b = agree["iou_crloc"][torch.from_numpy(m)], agree["iou_glrec"][torch.from_numpy(m)]
            rows.append({"group": name, "pairs": int(m.sum()), "IoU CRLoc": float(a.mean()), "IoU GLRec": float(b.mean()),
                         "CRLoc better (%)": 100 * float((a > b).float().mean())})
    return pd.DataFrame(rows)


@torch.no_grad()
def pair_distances(model: PPCL, val: dict, methods: Sequence[str] = ("+R", "+R+box", "+R+L"), device="cpu",
                   comparison: str = "pooled") -> dict[str, dict[str, np.ndarray]]:
    """Genuine and impostor distances on a :func:`validation_set` for each method:
    ``{method: {"genuine": (n,), "impostor": (m,)}}`` (partial query, holistic gallery image)."""
    q, g = encode_split(model, val, "+R", device)
    same = torch.tensor(val["q_pids"])[:, None] == torch.tensor(val["g_pids"])[None, :]
    out = {}
    for m in methods:
        d = distance_matrix(model, q, g, m, device=device, comparison=comparison)
        out[m] = {"genuine": d[same].numpy(), "impostor": d[~same].numpy()}
    return out


@torch.no_grad()
def gate_cost(model: PPCL, val: dict, area_bins: Sequence[float] = (0.0, 0.4, 0.6, 0.8, 1.0), device="cpu"):
    """What GLRec's gate costs, on a :func:`validation_set` (every query is a crop): per visible-area
    bin, the queries, the share the gate calls holistic (passed through unrectified), and the +R
    rank-1 of the queries it calls holistic and of those it calls partial (percent; NaN where
    none)."""
    import pandas as pd

    q, g = encode_split(model, val, "+R", device)
    hits = rank(global_distance(q, g), val["q_pids"], val["g_pids"])["per_query"]
    hit = torch.zeros(len(q), dtype=torch.bool)
    hit[torch.as_tensor(hits["query"]).long()] = torch.as_tensor(hits["first"]) == 0
    called_whole = q.eta < float(model.glrec.threshold)
    area = (val["t"][:, 0] * val["t"][:, 1]).float()
    rows = []
    for lo, hi in zip(area_bins[:-1], area_bins[1:]):
        m = (area >= lo) & (area < hi)
        if m.any():
            w, p = m & called_whole, m & ~called_whole
            rows.append({"area": f"[{lo:.1f}, {hi:.1f})", "queries": int(m.sum()),
                         "called holistic (%)": 100 * float(w.sum()) / int(m.sum()),
                         "rank1 if called holistic": 100 * float(hit[w].float().mean()) if w.any() else float("nan"),
                         "rank1 if called partial": 100 * float(hit[p].float().mean()) if p.any() else float("nan")})
    return pd.DataFrame(rows)

"""Figures for the notebooks: image grids, layout boxes, loss curves, ranked lists.

Every function returns a matplotlib Figure and takes plain tensors / records, so the same
pictures come out of a notebook, the batch report or the viewer. Box colours follow the
paper's Figure 6: GLRec's layout in blue, CRLoc's region in red; the true region in green.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle
from torch import Tensor

from ..data.transforms import denormalize
from ..geometry import pixel_box
from ..io import atomic_write

BLUE, RED, GREEN = "#1f77ff", "#ff2a2a", "#22cc44"


def notebook_style(dpi: int = 72) -> None:
    """Matplotlib defaults for the notebooks: figures drawn at ``dpi`` (small enough that an
    executed notebook stays a few hundred kB)."""
    plt.rcParams["figure.dpi"] = dpi


def to_display(x: Tensor | np.ndarray, normalized: bool = True) -> np.ndarray:
    """A ``(3, H, W)`` tensor (ImageNet-normalised unless ``normalized=False``) or an
    ``H x W x 3`` array -> ``H x W x 3`` floats in [0, 1] for ``imshow``."""
    if isinstance(x, np.ndarray):
        return x.astype(np.float32) / (255.0 if x.dtype == np.uint8 else 1.0)
    x = x.detach().float().cpu()
    x = denormalize(x) if normalized else x.clamp(0, 1)
    return x.permute(1, 2, 0).numpy()


def draw_box(ax, t: Tensor | Sequence[float], height: int, width: int, color: str = BLUE, lw: float = 2.0, label: str | None = None,
             ls: str = "-") -> None:
    """Draw region t (the kit's convention) on an axis showing a ``height x width`` image."""
    t = torch.as_tensor(t, dtype=torch.float32).view(1, 4)
    x1, y1, x2, y2 = pixel_box(t, height, width)[0].tolist()
    ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ec=color, lw=lw, label=label, ls=ls))


def image_grid(images: Sequence, nrow: int, titles: Sequence[str] | None = None, size: float = 1.2, normalized: bool = True, aspect: float = 2.0):
    """Images in a grid of ``nrow`` rows; returns ``(fig, axes)`` (axes flat)."""
    n = len(images)
    ncol = int(np.ceil(n / nrow))
    fig, axes = plt.subplots(nrow, ncol, figsize=(ncol * size, nrow * size * aspect), squeeze=False)
    axes = axes.ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i < n:
            img = images[i]
            ax.imshow(to_display(img, normalized) if not hasattr(img, "convert") else np.asarray(img))
            if titles is not None:
                ax.set_title(titles[i], fontsize=7)
    fig.tight_layout()
    return fig, axes


def identity_grid(records, n_ids: int = 8, per_id: int = 6, seed: int = 0, title: str | None = None):
    """``n_ids`` identities (rows) with up to ``per_id`` of their images each."""
    from ..data.common import read_image

    by_pid: dict[int, list] = {}
    for r in records:
        by_pid.setdefault(r.pid, []).append(r)
    rng = np.random.default_rng(seed)
    pids = sorted(p for p, rs in by_pid.items() if len(rs) >= 2)
    pids = list(rng.choice(pids, size=min(n_ids, len(pids)), replace=False))
    fig, axes = plt.subplots(len(pids), per_id, figsize=(per_id * 0.9, len(pids) * 1.8), squeeze=False)
    for row, pid in zip(axes, pids):
        rs = by_pid[pid][:per_id]
        for ax, r in zip(row, list(rs) + [None] * (per_id - len(rs))):
            ax.axis("off")
            if r is not None:
                ax.imshow(read_image(r.path))
                ax.set_title(f"id {pid} c{r.camid}" if r.camid is not None else f"id {pid}", fontsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def crops_on_holistic(holistic: Sequence[Tensor], partial: Sequence[Tensor], t_true: Tensor, sides: Sequence[str], t_pred: Tensor | None = None, rectified: Sequence[Tensor] | None = None, normalized: bool = True):
    """One column per example: the holistic image with the true region (green) and, if given,
    GLRec's predicted layout (blue); the partial input; and its rectification x^r."""
    rows = 2 + (rectified is not None)
    n = len(holistic)
    fig, axes = plt.subplots(rows, n, figsize=(n * 1.1, rows * 2.1), squeeze=False)
    for i in range(n):
        h, w = holistic[i].shape[-2:]
        ax = axes[0, i]
        ax.imshow(to_display(holistic[i], normalized))
        draw_box(ax, t_true[i], h, w, GREEN)
        if t_pred is not None:
            draw_box(ax, t_pred[i], h, w, BLUE, lw=1.5)
        ax.set_title(sides[i], fontsize=7)
        axes[1, i].imshow(to_display(partial[i], normalized))
        if rectified is not None:
            axes[2, i].imshow(to_display(rectified[i], normalized))
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    labels = ["holistic x (true t green" + (", GLRec blue)" if t_pred is not None else ")"), "partial x^p", "rectified x^r"]
    for r in range(rows):
        axes[r, 0].set_ylabel(labels[r], fontsize=7)
    fig.tight_layout()
    return fig


def loss_curves(steps: Sequence[dict], terms: Sequence[str] | None = None, smooth: int = 20, title: str = ""):
    """One panel per loss term, raw (faint) and moving-averaged."""
    if not steps:
        raise ValueError("no training steps to plot")
    terms = list(terms or [k for k in steps[0] if k not in ("epoch", "step")])
    fig, axes = plt.subplots(1, len(terms), figsize=(3.0 * len(terms), 2.4), squeeze=False)
    x = np.array([s["step"] for s in steps])
    for ax, k in zip(axes[0], terms):
        y = np.array([s.get(k, np.nan) for s in steps], dtype=float)
        ax.plot(x, y, alpha=0.3, lw=0.8)
        if len(y) >= smooth > 1:
            ax.plot(x[smooth - 1 :], np.convolve(y, np.ones(smooth) / smooth, mode="valid"), lw=1.5)
        ax.set_title(k, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def ranked_list(query: Tensor, gallery: Sequence[Tensor], correct: Sequence[bool], query_box: Tensor | None = None, boxes: Sequence[Tensor] | None = None, dists: Sequence[float] | None = None, normalized: bool = True, title: str | None = None):
    """A query and its top-ranked gallery images; true matches framed green, others red.
    ``query_box`` (GLRec's layout, blue) and ``boxes`` (CRLoc's regions, red) are optional."""
    n = len(gallery)
    fig, axes = plt.subplots(1, n + 1, figsize=((n + 1) * 0.95, 2.2))
    axes[0].imshow(to_display(query, normalized))
    if query_box is not None:
        h, w = query.shape[-2:]
        draw_box(axes[0], query_box, h, w, BLUE)
    axes[0].set_title("query", fontsize=7)
    for i, (ax, g) in enumerate(zip(axes[1:], gallery)):
        ax.imshow(to_display(g, normalized))
        h, w = g.shape[-2:]
        if boxes is not None:
            draw_box(ax, boxes[i], h, w, RED, lw=1.5)
        for s in ax.spines.values():
            s.set_edgecolor(GREEN if correct[i] else RED)
            s.set_linewidth(3)
        ax.set_title(f"{i + 1}" + (f" {dists[i]:.2f}" if dists is not None else ""), fontsize=7)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def cmc_curves(results: dict[str, dict], title: str = "CMC"):
    """CMC curves of several methods (``{name: rank(...) result}``)."""
    fig, ax = plt.subplots(figsize=(4, 3))
    for name, r in results.items():
        cmc = np.asarray(r["cmc"]) * 100
        ax.plot(np.arange(1, len(cmc) + 1), cmc, marker="o", ms=3, label=f"{name} (R-1 {cmc[0]:.1f})")
    ax.set_xlabel("rank")
    ax.set_ylabel("matching rate (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def locator_scatter(agreement: dict, title: str = "box centre vs the true region's centre"):
    """Predicted against true region centres (x and y) for CRLoc and GLRec, from
    :func:`ppcl.evaluate.validation.locator_agreement`. On the diagonal is right; along the
    anti-diagonal is PP-Cycle's mirror solution."""
    fig, axes = plt.subplots(1, 2, figsize=(6, 3), sharey=True)
    true = agreement["true"]
    for ax, k, name in ((axes[0], 2, "x"), (axes[1], 3, "y")):
        ax.plot([-1, 1], [-1, 1], color="0.7", lw=1)
        ax.scatter(true[:, k], agreement["glrec"][:, k], s=8, color=BLUE, alpha=0.6, label="GLRec (no reference)")
        ax.scatter(true[:, k], agreement["crloc"][:, k], s=8, color=RED, alpha=0.6,
                   label=f"CRLoc (corr {agreement['corr_' + name]:+.2f})")
        ax.set_xlabel(f"true centre {name}")
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1, 1)
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=6, loc="upper left")
    axes[0].set_ylabel("predicted centre")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def save_figure(fig, folder, name: str, dpi: int = 110):
    """Save ``fig`` as ``folder/name.png`` atomically (temp file, then rename); return the path."""
    return atomic_write(Path(folder) / f"{name}.png", lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png"))


def partial_examples_figure(examples: list[dict], restored: list | None = None):
    """Holistic images with the crop's region (green), the crops, and (optionally) the crops
    put back by T with their true t."""
    rows = 2 + (restored is not None)
    n = len(examples)
    fig, axes = plt.subplots(rows, n, figsize=(n * 1.0, rows * 2.0), squeeze=False)
    for i, ex in enumerate(examples):
        h, w = ex["holistic"].shape[:2]
        axes[0, i].imshow(ex["holistic"])
        draw_box(axes[0, i], ex["t"], h, w, GREEN)
        axes[0, i].set_title(ex["side"], fontsize=7)
        axes[1, i].imshow(ex["crop"])
        if restored is not None:
            axes[2, i].imshow(np.clip(restored[i] / 255.0, 0, 1))
    names = ["holistic + region t", "partial crop", "T(crop, t)"]
    for r in range(rows):
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(names[r], fontsize=7)
    fig.tight_layout()
    return fig


def pairs_figure(left: list, right: list, titles: list[str], left_name: str = "partial", right_name: str = "whole"):
    """Two rows of PIL images / arrays: e.g. partial queries over their true matches."""
    n = len(left)
    fig, axes = plt.subplots(2, n, figsize=(n * 1.0, 4.0), squeeze=False)
    for i in range(n):
        axes[0, i].imshow(np.asarray(left[i]))
        axes[1, i].imshow(np.asarray(right[i]))
        axes[0, i].set_title(titles[i], fontsize=7)
    for r, name in enumerate((left_name, right_name)):
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, fontsize=8)
    fig.tight_layout()
    return fig


def save_and_show(fig, folder, name: str) -> None:
    """Save ``fig`` under ``folder`` (see :func:`save_figure`); a notebook then shows it (the inline
    backend draws every open figure when the cell ends)."""
    save_figure(fig, folder, name)


def validation_curves(histories: dict[str, object], title: str = "validation rank-1 (held-out training ids)"):
    """Validation rank-1 per epoch, one line per ``{label: History}`` (e.g. each variant and seed)."""
    fig, ax = plt.subplots(figsize=(5, 3))
    for label, h in histories.items():
        rows = [e for e in h.epochs if "val_rank1" in e]
        ax.plot([e["epoch"] + 1 for e in rows], [100 * e["val_rank1"] for e in rows], marker="o", ms=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("rank-1 (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig


def differences_plot(diff, title: str = "rank-1 difference, 95% interval over seeds and queries (points)"):
    """Forest plot of :func:`ppcl.evaluate.compare.differences`: one row per (setting, method vs
    versus), the mean difference and its interval (the one that counts training); the zero line is
    "no difference"."""
    labels = [f"{r.dataset}, {r.direction}: {r.method} − {r.versus}" for r in diff.itertuples()]
    fig, ax = plt.subplots(figsize=(6.5, 0.28 * len(labels) + 1.0))
    y = np.arange(len(labels))[::-1]
    colours = [GREEN if r.ci_low > 0 else RED if r.ci_high < 0 else "0.4" for r in diff.itertuples()]
    ax.hlines(y, diff.ci_low, diff.ci_high, colors=colours, lw=2)
    ax.scatter(diff.rank1_diff_mean, y, color=colours, zorder=3, s=12)
    ax.axvline(0, color="0.6", lw=1, ls="--")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlabel("points of rank-1")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def distance_histograms(dists: dict[str, dict], title: str = "genuine vs impostor distances (validation)"):
    """One panel per method of :func:`ppcl.evaluate.validation.pair_distances`: the distances of
    genuine pairs (green) and impostor pairs (grey), densities; the less they overlap the better."""
    n = len(dists)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.4), squeeze=False, sharey=False)
    for ax, (name, d) in zip(axes[0], dists.items()):
        lo = float(min(d["genuine"].min(), d["impostor"].min()))
        hi = float(max(d["genuine"].max(), d["impostor"].max()))
        bins = np.linspace(lo, hi, 30)
        ax.hist(d["impostor"], bins=bins, density=True, color="0.6", alpha=0.7, label="impostor")
        ax.hist(d["genuine"], bins=bins, density=True, color=GREEN, alpha=0.7, label="genuine")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("distance", fontsize=8)
        ax.set_yticks([])
    axes[0][0].legend(fontsize=6)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def figure5_plot(df, title: str = "rank-1 against the query's input ratio (simulated partial Market-style set)"):
    """Figure 5: mean rank-1 per method and ratio, with a band from the lowest to the highest seed."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for method, g in df.groupby("method", sort=False):
        agg = g.groupby("ratio")["rank1"].agg(["mean", "min", "max"])
        ax.plot(agg.index, agg["mean"], marker="o", ms=3, label=method)
        ax.fill_between(agg.index, agg["min"], agg["max"], alpha=0.2)
    ax.set_xlabel("query input ratio (visible area)")
    ax.set_ylabel("rank-1 (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def heatmap(table, title: str, fmt: str = ".1f", xlabel: str = "", ylabel: str = "", highlight=None):
    """A seaborn heatmap of a 2-D table (rows x columns), annotated; ``highlight`` = (row, column)
    label of a cell to outline (e.g. the λ cell chosen on validation)."""
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(0.9 * table.shape[1] + 1.6, 0.6 * table.shape[0] + 1.2))
    sns.heatmap(table, annot=True, fmt=fmt, cmap="viridis", cbar=False, ax=ax, annot_kws={"fontsize": 8})
    if highlight is not None:
        r, c = list(table.index).index(highlight[0]), list(table.columns).index(highlight[1])
        ax.add_patch(Rectangle((c, r), 1, 1, fill=False, edgecolor=RED, lw=2.5))
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def correspondence_figure(examples: Sequence[dict], titles: Sequence[str] | None = None, normalized: bool = True):
    """Figures 6 and 7: each partial query (rectified, GLRec's layout in blue) above its true
    match with GLRec's box (blue, blind to the reference) and CRLoc's box (red)."""
    n = len(examples)
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 4.2), squeeze=False)
    for i, ex in enumerate(examples):
        q, g = to_display(ex["query"], normalized), to_display(ex["match"], normalized)
        axes[0, i].imshow(q)
        draw_box(axes[0, i], ex["query_box"], *q.shape[:2], BLUE)
        axes[1, i].imshow(g)
        draw_box(axes[1, i], ex["glrec_box"], *g.shape[:2], BLUE)
        draw_box(axes[1, i], ex["crloc_box"], *g.shape[:2], RED)
        if titles is not None:
            axes[0, i].set_title(titles[i], fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("partial query", fontsize=8)
    axes[1, 0].set_ylabel("true match", fontsize=8)
    fig.tight_layout()
    return fig


def box_distributions(stats, title: str = "where the person stands in the box"):
    """From :func:`ppcl.data.bodies.box_statistics`: the person's height as a share of the frame,
    the top of the head and the horizontal centre offset, and the detection's IoU with the tight
    box, for detector boxes and tight (hand-drawn) boxes."""
    kinds = [k for k in ("detector", "tight") if (stats.box == k).any()]
    cols = (("height", "person height / frame height"), ("top", "top of the head (share of frame)"),
            ("centre_offset", "centre offset (share of width)"), ("box_iou", "IoU with the tight box"))
    fig, axes = plt.subplots(1, len(cols), figsize=(11, 2.4))
    colours = {"detector": RED, "tight": BLUE}
    for ax, (col, name) in zip(axes, cols):
        for k in kinds:
            v = stats.loc[stats.box == k, col].dropna()
            ax.hist(v, bins=30, density=True, alpha=0.55, color=colours[k], label=f"{k} ({len(v)})")
        ax.set_xlabel(name, fontsize=8)
        ax.set_yticks([])
    axes[-1].axvline(0.5, color="0.3", ls="--", lw=1)
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def localisation_plot(loc, title: str = "the localisation ruler: rank-1 by reference region (mean ± std over seeds)"):
    """:func:`ppcl.evaluate.localisation.localisation_summary` as bars: one panel per (dataset,
    direction), one bar per (network, region), the true region hatched (ground truth); each bar
    labelled with the box's IoU with the true region on genuine pairs."""
    settings = list(dict.fromkeys(zip(loc.dataset, loc.direction)))
    cols = min(4, len(settings))
    rows = -(-len(settings) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    for ax, (ds, direction) in zip(axes.flat, settings):
        g = loc[(loc.dataset == ds) & (loc.direction == direction)]
        x = np.arange(len(g))
        colours = [RED if "CRLoc" in r else BLUE if "fixed" in r else GREEN if "true" in r else "0.6" for r in g.region]
        bars = ax.bar(x, g.rank1_mean, yerr=g.rank1_std, color=colours, alpha=0.85, capsize=2)
        for b, truth in zip(bars, g.ground_truth):
            if truth:
                b.set_hatch("//")
        for xi, (r1, iou) in enumerate(zip(g.rank1_mean, g.iou_mean)):
            if iou == iou:  # not NaN
                ax.text(xi, r1 / 2, f"IoU {iou:.2f}", ha="center", va="center", rotation=90, fontsize=6)
        ax.set_xticks(x)
        ax.set_xticklabels([f"{r.split(' (')[0]}\n{n}" for r, n in zip(g.region, g.network)], fontsize=6, rotation=60)
        ax.set_title(f"{ds}, partial {direction}", fontsize=8)
        ax.set_ylabel("rank-1 (%)", fontsize=7)
    for ax in list(axes.flat)[len(settings):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig

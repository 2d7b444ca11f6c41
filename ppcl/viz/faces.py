"""Figures of the face extension (notebook 05): verification ROC curves and partial faces with
GLRec's layout box (blue) and CRLoc's located region (red); the true crop in green."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from .plots import BLUE, GREEN, RED, draw_box, to_display


def roc_curves(curves: dict[str, Sequence], fars: Sequence[float] = (1e-3, 1e-2),
               title: str = "Partial-LFW verification: partial query vs holistic gallery face"):
    """ROC of each method, ``{label: [VerificationResult, ...]}`` (one per seed: the first seed
    drawn solid, the others faint), FAR on a log axis; the dotted lines mark ``fars``. The
    legend gives the AUC as mean over the seeds."""
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    floor = 1.0
    for i, (label, results) in enumerate(curves.items()):
        results = list(results)
        auc = np.mean([r.auc for r in results])
        for j, r in enumerate(results):
            far = np.asarray(r.far, float)
            keep = far > 0
            if keep.any():
                floor = min(floor, float(far[keep].min()))
            ax.plot(far[keep], 100 * np.asarray(r.tar, float)[keep], color=colours[i % len(colours)],
                    lw=1.6 if j == 0 else 0.8, alpha=1.0 if j == 0 else 0.35,
                    label=f"{label} (AUC {auc:.3f}, {len(results)} seeds)" if j == 0 else None)
    for f in fars:
        ax.axvline(f, color="0.6", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlim(min(floor, min(fars)) / 1.5, 1.0)
    ax.set_ylim(0, 100)
    ax.set_xlabel("false accept rate (FAR)")
    ax.set_ylabel("true accept rate (TAR, %)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def located_faces(examples: Sequence[dict], normalized: bool = True):
    """One row per example of :func:`ppcl.pipeline.experiments.faces.located_examples`: the partial face as
    the network receives it; its rectified view x^r with GLRec's layout box (blue) and the true
    crop (green); the holistic gallery face of the same identity with the region CRLoc located
    for this query (red)."""
    n = len(examples)
    fig, axes = plt.subplots(n, 3, figsize=(3 * 1.35, n * 1.45), squeeze=False)
    for row, ex in zip(axes, examples):
        row[0].imshow(to_display(ex["partial"], normalized))
        row[0].set_title(f"partial ({ex['side']})", fontsize=7)
        row[1].imshow(to_display(ex["rectified"], normalized))
        h, w = ex["rectified"].shape[-2:]
        draw_box(row[1], ex["true_box"], h, w, GREEN, lw=1.0)
        draw_box(row[1], ex["glrec_box"], h, w, BLUE, lw=1.6)
        row[1].set_title("x^r, GLRec box", fontsize=7)
        row[2].imshow(to_display(ex["gallery"], normalized))
        h, w = ex["gallery"].shape[-2:]
        draw_box(row[2], ex["crloc_box"], h, w, RED, lw=1.6)
        row[2].set_title(f"gallery, CRLoc (rank {ex['rank']})", fontsize=7)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig

"""The correspondence viewer (notebook 06): browse what PPCL retrieves and which regions it compares.

:class:`CorrespondenceViewer` is an ipywidgets UI over :class:`~ppcl.viz.viewer_data.ViewerData`
(one per partial set), built from explicit ``observe`` callbacks and ``widgets.Image`` PNG
panels, so a plain Python test can drive it (set a control's ``value``; the callbacks run at
once) and read what it shows (:attr:`CorrespondenceViewer.query_index`, ``shown``,
``true_match``, ``first_match_rank``, ``png``, ``drawn``).

**Controls.** The dataset (Partial-REID / Partial-iLIDS); the direction (partial images as
query, Table 2, or as gallery, Table 3); a search box that filters the query picker (file names
containing the text, case-insensitive); the query picker; how many of the top-ranked gallery
items to show; which shown pair the big panel details (``pair``, 1 = the first); boxes and the
heatmap on or off.

**Panels** (``png["query"]``, ``png["results"]``, ``png["pair"]``):

* the query. Partial as query: the partial input and its GLRec rectification x^r with GLRec's
  layout box (blue) and the gate score η. Partial as gallery: the holistic query as the model
  sees it.
* the top-k gallery under PPCL's distance (+R+L, the PPCL model), each titled with its rank,
  its PPCL distance and its +R distance (the +R model); true matches framed green, others grey.
  CRLoc's box (red) always lies on the *holistic* image of a pair, since the partial image is
  always CRLoc's anchor (as in the distance matrix): partial as query, on each gallery image;
  partial as gallery, each result is a column of two: the partial gallery item (rectified, its
  GLRec box blue) above the holistic query with the red box where CRLoc located that item's
  region in it.
* the selected pair, larger: the partial side (rectified, blue box) and the holistic side with
  the heatmap behind CRLoc's red box. The heatmap is Eq. 8's correlation averaged over the query
  patch's cells u, ``mean_u softmax_v(h_x(u) · h_y(v))``: a distribution over the holistic map's
  cells v (it sums to 1), the mass whose centroid CRLoc's box starts from. On the kit's synthetic
  sets the true corresponding region (from the recorded body frames) is drawn dashed green beside
  CRLoc's box, on every holistic side: ground truth the real sets do not have.

Above the panels a line gives the rank of the first true match under +R and under PPCL (the
whole gallery, not just the shown items); the same facts are carried as ``data-*`` attributes of
an element of class ``ppcl-viewer-state`` (for a browser test).

**Your own images** (dataset ``"folder"``, :func:`ppcl.pipeline.viewer.viewer_data_from_images`):
no identities, so no true-match frames or first-match ranks (``data-ground-truth="0"``); no +R
model, so PPCL's distance alone; partial images as queries only. The rest is as for the kit's sets.
"""
from __future__ import annotations

import html
from io import BytesIO

import ipywidgets as widgets
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .plots import BLUE, GREEN, RED, draw_box, to_display
from .viewer_data import DIRECTIONS, ViewerData

DIRECTION_LABELS = {"query": "partial as query", "gallery": "partial as gallery"}
MAX_RANK = 10
GREY = "0.75"
HEAT_CMAP = "inferno"


def figure_png(fig: Figure, dpi: int = 100, palette: bool = True) -> bytes:
    """``fig`` as PNG bytes; the figure is closed. ``palette``: 256 colours (a third of the bytes,
    which keeps a notebook that stores the pictures light)."""
    buf = BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    if not palette:
        return buf.getvalue()
    from PIL import Image

    out = BytesIO()
    Image.open(BytesIO(buf.getvalue())).convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE).save(out, "PNG", optimize=True)
    return out.getvalue()


def png_width(png: bytes) -> int:
    """The pixel width of a PNG (from its header)."""
    return int.from_bytes(png[16:20], "big")


def heat_of(corr: torch.Tensor) -> np.ndarray:
    """Eq. 8's correlation ``(U, h, w)`` of one pair averaged over the query cells u: ``(h, w)``, sums to 1."""
    return corr.float().mean(dim=0).numpy()


def _frame(ax, colour: str, width: float) -> None:
    for s in ax.spines.values():
        s.set(visible=True, edgecolor=colour, linewidth=width)


def _clean(ax) -> None:
    ax.set(xticks=[], yticks=[])


class CorrespondenceViewer:
    """The viewer over ``data_by_dataset`` (``{"partial_reid": ViewerData, "partial_ilids": ...}``,
    or a list of :class:`ViewerData`). Display it in a notebook (or ``viewer.widget``)."""

    def __init__(self, data_by_dataset, max_rank: int = MAX_RANK, dpi: int = 110):
        if not isinstance(data_by_dataset, dict):
            data_by_dataset = {d.dataset: d for d in data_by_dataset}
        if not data_by_dataset:
            raise ValueError("data_by_dataset: expected at least one ViewerData; found none")
        for k, d in data_by_dataset.items():
            if not isinstance(d, ViewerData):
                raise TypeError(f"data_by_dataset[{k!r}]: expected a ViewerData; found {type(d).__name__}")
        self.data = dict(data_by_dataset)
        self.max_rank = max_rank
        self.dpi = dpi
        self._busy = False
        first = next(iter(self.data))
        style = {"description_width": "initial"}
        self.controls = {
            "dataset": widgets.ToggleButtons(options=[(d.label, k) for k, d in self.data.items()], value=first,
                                             description="dataset", style=style),
            "direction": widgets.ToggleButtons(options=[(v, k) for k, v in DIRECTION_LABELS.items()], value="query",
                                               description="direction", style=style),
            "search": widgets.Text(value="", placeholder="part of a file name", description="search", style=style,
                                   continuous_update=True),
            "query": widgets.Dropdown(options=[], description="query", style=style,
                                      layout=widgets.Layout(width="28em")),
            "rank": widgets.IntSlider(value=5, min=1, max=max_rank, description="top-k", style=style,
                                      continuous_update=False),
            "pair": widgets.IntSlider(value=1, min=1, max=5, description="pair", style=style, continuous_update=False),
            "boxes": widgets.Checkbox(value=True, description="boxes (GLRec blue, CRLoc red, true region green dashed)",
                                      style=style, indent=False),
            "heatmap": widgets.Checkbox(value=True, description="heatmap (Eq. 8, mean over query cells)", style=style,
                                        indent=False),
        }
        for name, w in self.controls.items():
            w.add_class(f"ppcl-{name}")
        self.status = widgets.HTML(value="")
        self.status.add_class("ppcl-status")
        self.images = {k: widgets.Image(format="png") for k in ("query", "results", "pair")}
        for k, w in self.images.items():
            w.add_class(f"ppcl-panel-{k}")
        c = self.controls
        self.widget = widgets.VBox([
            widgets.HBox([c["dataset"], c["direction"]]),
            widgets.HBox([c["search"], c["query"]]),
            widgets.HBox([c["rank"], c["pair"], c["boxes"], c["heatmap"]]),
            self.status,
            widgets.HBox([self.images["query"], self.images["pair"]]),
            self.images["results"],
        ])
        self.widget.add_class("ppcl-viewer")
        # what is shown (read by tests)
        self.query_index: int = 0
        self.shown: list[int] = []
        self.true_match: list[bool] = []
        self.first_match_rank: dict[str, int | None] = {}
        self.distances: dict[str, list[float]] = {}
        self.pair_index: int = 0
        self.png: dict[str, bytes] = {}
        self.drawn: dict = {}
        self.boxes = torch.empty(0, 4)
        self.heat: np.ndarray | None = None
        self.message = ""
        c["dataset"].observe(self._on_dataset, names="value")
        c["direction"].observe(self._on_direction, names="value")
        c["search"].observe(self._on_search, names="value")
        c["query"].observe(self._on_query, names="value")
        c["rank"].observe(self._on_rank, names="value")
        for k in ("pair", "boxes", "heatmap"):
            c[k].observe(self._on_redraw, names="value")
        self._reset_queries(keep=None)
        self.refresh()

    # ------------------------------------------------------------------ state

    @property
    def dataset(self) -> str:
        return self.controls["dataset"].value

    @property
    def direction(self) -> str:
        return self.controls["direction"].value

    @property
    def current(self) -> ViewerData:
        return self.data[self.dataset]

    def query_names(self) -> list[str]:
        """The file names of the current queries (partial or holistic images, by direction)."""
        return self.current.names(self.direction)[0]

    def _filtered(self) -> list[tuple[str, int]]:
        text = self.controls["search"].value.strip().lower()
        return [(n, i) for i, n in enumerate(self.query_names()) if text in n.lower()]

    def _reset_queries(self, keep: int | None) -> None:
        """Refill the picker from the search text; keep query ``keep`` if it passes the filter. The
        direction toggle offers the current data's directions (your own images: one)."""
        c = self.controls
        self._busy = True
        try:
            dirs = self.current.directions
            if [v for _, v in c["direction"].options] != list(dirs):
                now = c["direction"].value
                c["direction"].options = [(DIRECTION_LABELS[k], k) for k in dirs]
                c["direction"].value = now if now in dirs else dirs[0]
            opts = self._filtered()
            c["query"].options = opts
            if opts:
                values = [i for _, i in opts]
                c["query"].value = keep if keep in values else values[0]
                self.query_index = c["query"].value
                self.message = ""
            else:
                self.message = f"no file name contains {c['search'].value!r}: still showing the last query"
            n_gallery = len(self.current.names(self.direction)[1])
            c["rank"].max = max(1, min(self.max_rank, n_gallery))
            self._fit_pair()
        finally:
            self._busy = False

    def _fit_pair(self) -> None:
        p = self.controls["pair"]
        k = self.controls["rank"].value
        if p.value > k:
            p.value = k
        p.max = max(1, k)

    def select(self, dataset: str | None = None, direction: str | None = None, query: int | str | None = None,
               rank: int | None = None, pair: int | None = None) -> None:
        """Set several controls at once (one redraw): ``query`` an index into the direction's query
        list or its file name (the search box is cleared when it would hide that query)."""
        c = self.controls
        self._busy = True
        try:
            if dataset is not None:
                c["dataset"].value = dataset
            if direction is not None:
                c["direction"].value = direction
            names = self.query_names()
            qi = self.query_index if query is None else (names.index(query) if isinstance(query, str) else int(query))
            if not 0 <= qi < len(names):
                raise IndexError(f"query: expected an index below {len(names)}; found {qi}")
            if qi not in [i for _, i in self._filtered()]:
                c["search"].value = ""
            if rank is not None:
                c["rank"].value = rank
            if pair is None and qi != self.query_index:
                pair = 1  # the first pair of a new query, as when the picker changes
            if pair is not None:
                c["pair"].max = max(1, c["rank"].value)
                c["pair"].value = pair
        finally:
            self._busy = False
        self._reset_queries(keep=qi)
        self.refresh()

    # ------------------------------------------------------------------ callbacks

    def _on_dataset(self, change) -> None:
        if self._busy:
            return
        self._reset_queries(keep=None)
        self.refresh()

    def _on_direction(self, change) -> None:
        if self._busy:
            return
        self._reset_queries(keep=None)
        self.refresh()

    def _on_search(self, change) -> None:
        if self._busy:
            return
        self._reset_queries(keep=self.query_index)
        self.refresh()

    def _on_query(self, change) -> None:
        if self._busy or change["new"] is None:
            return
        self.query_index = int(change["new"])
        self._busy = True
        try:
            self.controls["pair"].value = 1  # the first pair of a new query
        finally:
            self._busy = False
        self.refresh()

    def _on_rank(self, change) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            self._fit_pair()
        finally:
            self._busy = False
        self.refresh()

    def _on_redraw(self, change) -> None:
        if self._busy:
            return
        self.refresh()

    # ------------------------------------------------------------------ drawing

    def refresh(self) -> None:
        """Recompute what is shown for the current controls and redraw every panel."""
        d, direction, qi = self.current, self.direction, self.query_index
        k = self.controls["rank"].value
        order = d.ranking(qi, direction, "ppcl")
        shown = [int(j) for j in order[:k]]
        true = d.true_matches(qi, direction)
        self.shown = shown
        self.true_match = [bool(true[j]) for j in shown]
        self.first_match_rank = {"PPCL": d.first_match_rank(qi, direction, "ppcl")}
        d_ppcl = d.distances("ppcl", direction)[qi]
        self.distances = {"PPCL": [float(d_ppcl[j]) for j in shown]}
        if d.has("+R"):  # a user's folder comes with the PPCL model only
            self.first_match_rank = {"+R": d.first_match_rank(qi, direction, "+R"), **self.first_match_rank}
            self.distances["+R"] = [float(d.distances("+R", direction)[qi][j]) for j in shown]
        self.pair_index = min(self.controls["pair"].value, len(shown)) - 1
        pairs = d.pairs(qi, shown, direction)
        boxes_on, heat_on = self.controls["boxes"].value, self.controls["heatmap"].value
        self.drawn = {"glrec_boxes": 0, "crloc_boxes": 0, "heatmap": False, "true_frames": 0, "true_regions": 0}
        self.boxes = pairs["boxes"]
        self.heat = heat_of(pairs["corr"][self.pair_index]) if len(shown) else None
        with matplotlib.rc_context({"figure.dpi": self.dpi}):
            self.png = {"query": figure_png(self._query_figure(boxes_on), self.dpi),
                        "results": figure_png(self._results_figure(pairs, boxes_on), self.dpi),
                        "pair": figure_png(self._pair_figure(pairs, boxes_on, heat_on), self.dpi)}
        for k_, w in self.images.items():
            w.width = str(png_width(self.png[k_]))  # drawn at its own size: every panel at one scale
            w.value = self.png[k_]
        self.status.value = self._status_html()

    def _image(self, side: str, index: int) -> dict:
        return self.current.rectified(side, index)

    def _scores(self, c: int, sep: str = "\n") -> str:
        """The shown item ``c``'s distances: PPCL's, and +R's when there is a +R model."""
        text = f"PPCL {self.distances['PPCL'][c]:.3f}"
        return text + (f"{sep}+R {self.distances['+R'][c]:.3f}" if "+R" in self.distances else "")

    def _query_figure(self, boxes_on: bool) -> Figure:
        d, qi = self.current, self.query_index
        qnames = self.query_names()
        if self.direction == "query":
            im = self._image("partial", qi)
            fig, axes = plt.subplots(1, 2, figsize=(3.0, 3.0))
            axes[0].imshow(to_display(im["x"]))
            axes[0].set_title("partial input", fontsize=8)
            axes[1].imshow(to_display(im["x_r"]))
            if boxes_on:
                draw_box(axes[1], im["t"], *im["x_r"].shape[-2:], BLUE)
                self.drawn["glrec_boxes"] += 1
            axes[1].set_title(f"GLRec $x^r$, $\\eta$ = {im['eta']:.2f}", fontsize=8)
            pid = d.partial[qi].pid if d.ground_truth else None
        else:
            im = self._image("holistic", qi)
            fig, axes = plt.subplots(1, 1, figsize=(1.6, 3.0), squeeze=False)
            axes = axes[0]
            axes[0].imshow(to_display(im["x_r"]))
            axes[0].set_title(f"holistic query, $\\eta$ = {im['eta']:.2f}", fontsize=8)
            pid = d.holistic[qi].pid if d.ground_truth else None
        for ax in axes:
            _clean(ax)
        fig.suptitle(f"{qnames[qi]}" + (f" (id {pid})" if pid is not None else ""), fontsize=8)
        fig.tight_layout()
        return fig

    def _results_figure(self, pairs: dict, boxes_on: bool) -> Figure:
        d, direction = self.current, self.direction
        gnames = d.names(direction)[1]
        k = len(self.shown)
        rows = 1 if direction == "query" else 2
        fig, axes = plt.subplots(rows, max(k, 1), figsize=(1.4 * max(k, 1) + 0.3, 3.1 * rows), squeeze=False)
        for c in range(k):
            j = self.shown[c]
            hol = self._image("holistic", pairs["holistic"][c])
            title = f"#{c + 1}{' (pair)' if c == self.pair_index else ''}\n{self._scores(c)}"
            if direction == "query":
                ax = axes[0, c]
                ax.imshow(to_display(hol["x_r"]))
                if boxes_on:
                    draw_box(ax, pairs["boxes"][c], *hol["x_r"].shape[-2:], RED, lw=1.5)
                    self.drawn["crloc_boxes"] += 1
                    if pairs.get("true") is not None:
                        draw_box(ax, pairs["true"][c], *hol["x_r"].shape[-2:], GREEN, lw=1.0, ls="--")
                        self.drawn["true_regions"] += 1
                framed = [ax]
            else:
                part = self._image("partial", pairs["partial"][c])
                ax, axq = axes[0, c], axes[1, c]
                ax.imshow(to_display(part["x_r"]))
                axq.imshow(to_display(hol["x_r"]))
                if boxes_on:
                    draw_box(ax, part["t"], *part["x_r"].shape[-2:], BLUE, lw=1.5)
                    draw_box(axq, pairs["boxes"][c], *hol["x_r"].shape[-2:], RED, lw=1.5)
                    self.drawn["glrec_boxes"] += 1
                    self.drawn["crloc_boxes"] += 1
                framed = [ax]
                axq.set_xlabel("in the query", fontsize=6)
            ax.set_title(title, fontsize=7, fontweight="bold" if c == self.pair_index else "normal")
            ax.set_xlabel(gnames[j].rsplit("/", 1)[-1], fontsize=6)
            for a in framed:
                if self.true_match[c]:
                    _frame(a, GREEN, 4)
                    self.drawn["true_frames"] += 1
                else:
                    _frame(a, GREY, 1)
        for ax in axes.ravel():
            _clean(ax)
        for c in range(k, axes.shape[1]):
            for r in range(rows):
                axes[r, c].axis("off")
        what = ("top-k holistic images under PPCL (CRLoc red)" if direction == "query" else
                "top-k partial images under PPCL (GLRec blue), below: the query with CRLoc's box (red)")
        what += "; green frame: true match" if d.ground_truth else "; no identities, so no true-match marks"
        fig.suptitle(what, fontsize=8)
        fig.tight_layout()
        return fig

    def _pair_figure(self, pairs: dict, boxes_on: bool, heat_on: bool) -> Figure:
        fig, axes = plt.subplots(1, 2, figsize=(3.4, 3.0))
        for ax in axes:
            _clean(ax)
        if not self.shown:
            fig.suptitle("no pair", fontsize=8)
            return fig
        p = self.pair_index
        part = self._image("partial", pairs["partial"][p])
        hol = self._image("holistic", pairs["holistic"][p])
        axes[0].imshow(to_display(part["x_r"]))
        if boxes_on:
            draw_box(axes[0], part["t"], *part["x_r"].shape[-2:], BLUE)
            self.drawn["glrec_boxes"] += 1
        axes[0].set_title("partial (anchor)", fontsize=8)
        h, w = hol["x_r"].shape[-2:]
        axes[1].imshow(to_display(hol["x_r"]))
        if heat_on and self.heat is not None:
            axes[1].imshow(self.heat, cmap=HEAT_CMAP, alpha=0.55, extent=(-0.5, w - 0.5, h - 0.5, -0.5),
                           interpolation="bilinear")
            self.drawn["heatmap"] = True
        if boxes_on:
            draw_box(axes[1], pairs["boxes"][p], h, w, RED)
            self.drawn["crloc_boxes"] += 1
            if pairs.get("true") is not None:  # the synthetic data's ground truth (real data has none)
                draw_box(axes[1], pairs["true"][p], h, w, GREEN, lw=1.5, ls="--")
                self.drawn["true_regions"] += 1
        axes[1].set_title("holistic (reference)", fontsize=8)
        if self.true_match[p]:
            for ax in axes:
                _frame(ax, GREEN, 4)
        fig.suptitle(f"pair #{p + 1}: {self._scores(p, sep=', ')}", fontsize=8)
        fig.tight_layout()
        return fig

    def _status_html(self) -> str:
        d, direction, qi = self.current, self.direction, self.query_index
        name = self.query_names()[qi]
        fm = self.first_match_rank

        rank_text = lambda r: "no true match in the gallery" if r is None else f"rank {r}"  # noqa: E731

        attrs = {"dataset": self.dataset, "direction": direction, "query": qi, "query-name": name,
                 "shown": ",".join(map(str, self.shown)), "true": ",".join("1" if t else "0" for t in self.true_match),
                 "first-match-r": "" if fm.get("+R") is None else fm["+R"],
                 "first-match-ppcl": "" if fm["PPCL"] is None else fm["PPCL"], "pair": self.pair_index + 1,
                 "ground-truth": int(d.ground_truth)}
        attr = " ".join(f'data-{k}="{html.escape(str(v), quote=True)}"' for k, v in attrs.items())
        n_true = sum(self.true_match)
        head = f"<b>{html.escape(d.label)}</b>, {DIRECTION_LABELS[direction]}, query <code>{html.escape(name)}</code>: "
        if d.ground_truth:
            r_part = f", {rank_text(fm['+R'])} under +R" if "+R" in fm else ""
            text = head + (f"first true match at {rank_text(fm['PPCL'])} under PPCL{r_part}; {n_true} of the "
                           f"{len(self.shown)} shown {'is a true match' if n_true == 1 else 'are true matches'}.")
        else:
            text = head + (f"the top {len(self.shown)} of {len(d.names(direction)[1])} gallery images under PPCL "
                           f"({html.escape(d.source)}); no identities, so no true-match marks.")
            text += "".join(f" <i>{html.escape(n)}</i>" for n in d.notes)
        if self.message:
            text += f" <i>{html.escape(self.message)}</i>"
        return f'<div class="ppcl-viewer-state" {attr}>{text}</div>'

    # ------------------------------------------------------------------ display

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def save(self, folder, name: str) -> list:
        """Write the current panels as ``folder/<name>_<panel>.png`` (atomically); return the paths."""
        from pathlib import Path

        from ..io import atomic_write

        return [atomic_write(Path(folder) / f"{name}_{k}.png", lambda tmp, b=b: tmp.write_bytes(b)) for k, b in self.png.items()]


__all__ = ["CorrespondenceViewer", "DIRECTIONS", "ViewerData", "figure_png", "heat_of"]

"""The batch run's report: every table the notebooks wrote, beside the paper's, in one page.

``write_report(run_folder)`` reads what the notebooks saved under ``tables/`` (CSV) and
``figures/`` (PNG) and ``run.json`` (parameters, machine, versions, wall times), and writes
``REPORT.md`` and ``REPORT.html``. Nothing is typed in: every kit number comes from a table a
notebook computed, the paper's numbers from :mod:`ppcl.paper`; a table the run did not produce
is listed as missing rather than left out silently.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

from ..io import write_text


@dataclass(frozen=True)
class Section:
    title: str
    tables: tuple[str, ...]  # names under tables/ (without .csv)
    figures: tuple[str, ...] = ()  # names under figures/ (without .png)
    note: str = ""


SECTIONS: tuple[Section, ...] = (
    Section("Data (notebook 01)", ("01_counts",), ("01_partial_crops",),
            "Counts found beside the published ones; the synthetic sets are small by design."),
    Section("GLRec (notebook 02)", ("02_glrec_summary", "02_glrec_by_side", "02_gate_threshold"), ("02_glrec_examples",),
            "Gate accuracy beside the paper's 94.3% (simulated partial Market-1501); layout IoU on held-out crops; the "
            "gate's threshold candidates on validation crops of training images (the chosen one has the best balanced accuracy)."),
    Section("The partial test sets (notebook 03)", ("03_test_sets",), (),
            "The real-size sets give Tables 2 and 3; the larger draws of other people (synthetic data) give the verdicts."),
    Section("Tables 2 and 3: partial re-ID (notebook 03)", ("03_table2_partial_query", "03_table3_partial_gallery"),
            ("03_locator_agreement",), "Kit rows: rank-1 mean ± std over the profile's seeds on the real-size sets; "
            "paper rows as published."),
    Section("Seed summary and differences (notebook 03)", ("03_seed_summary", "03_differences", "03_differences_real_size"),
            ("03_differences",),
            "Differences in rank-1 points (03_differences: on the larger draws) with 95% intervals that count training "
            "as well as query sampling (ci_low, ci_high: a crossed bootstrap over seeds and queries, widened to the "
            "t-interval over seeds where that is wider); ci_query_low/high resample queries only, conditional on the "
            "trained networks, and decide nothing. An interval containing 0 means the run cannot tell the two apart."),
    Section("The localisation ruler (notebook 03)", ("03_localisation", "03_localisation_differences",
                                                     "03_localisation_validation"), ("03_localisation",),
            "PPCL's region distance with the reference region from CRLoc, GLRec's fixed box, the true corresponding "
            "region (ground_truth: from the synthetic data's body frames, which real data does not have) or the whole "
            "reference; the same on the +R network. IoU with the true region and box area on genuine pairs. "
            "03_localisation_validation: the same IoUs and areas on the validation split (every seed; queries cut as "
            "validation selects models, crops view or frame, and around the body, crops body), with the localisation issue's targets (margin_ok: CRLoc's IoU >= the fixed "
            "box's + 0.05; area_ok: CRLoc's area within 25% of the true region's)."),
    Section("Table 1a: model variations (notebook 04)", ("04_table1a", "04_table1a_steps"), ("04_table1a_steps",),
            "The table on the real-size Partial-REID set; the steps (intervals as above) on the larger draw."),
    Section("Figure 5: rank-1 against the query's input ratio (notebook 04)", ("04_figure5",), ("04_figure5",)),
    Section("Table 1b: partial query × partial gallery (notebook 04)", ("04_table1b", "04_gate"), ("04_table1b",)),
    Section("Table 1c: λ_cyc × λ_tri on validation (notebook 04)", ("04_table1c",), ("04_table1c",)),
    Section("Time analysis (notebook 04)", ("04_time",), ()),
    Section("Holistic check (notebook 04)", ("04_holistic",), ()),
    Section("Table 4: Partial-LFW (notebook 05)", ("05_table4_beside_paper", "05_table4", "05_roc", "05_differences"),
            ("05_roc", "05_located"), "Rank-1 mean ± std over seeds; ROC over every (partial query, gallery face) pair; "
            "TAR at a FAR read at the best point not above it."),
    Section("The correspondence viewer (notebook 06)", ("06_first_match_ranks",), ("06_viewer_partial_reid_query_results", "06_viewer_partial_reid_query_pair")),
)


def _read(tables: Path, name: str):
    import pandas as pd

    path = tables / f"{name}.csv"
    return pd.read_csv(path) if path.is_file() else None


def _run_info(state: dict) -> tuple[list[str], list[str]]:
    p, m = state.get("parameters", {}), state.get("machine", {})
    rows = [("profile", p.get("profile")), ("overrides", json.dumps(p.get("overrides") or {})),
            ("data root", p.get("data_root") or "(synthetic, generated)"), ("started", state.get("started")),
            ("finished", state.get("finished")), ("commit", state.get("commit")), ("CPU", m.get("cpu")),
            ("cores / torch threads / OMP_NUM_THREADS", f"{m.get('cores')} / {m.get('threads')} / {m.get('OMP_NUM_THREADS')}"),
            ("GPU", m.get("gpu") or "none"), ("platform", m.get("platform")),
            ("versions", ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items()))]
    if "preflight_seconds" in state:
        rows.append(("before notebook 01", f"{state['preflight_seconds']:.0f} s (the bounds; the synthetic sets generated on first use)"))
    for nb, s in (state.get("notebooks") or {}).items():
        rows.append((f"notebook {nb}", f"{s.get('status')}" + (f", {s['seconds']:.0f} s" if "seconds" in s else "")))
    total = _wall_minutes(state)
    if total is not None:
        rows.append(("wall time, start to finish", f"{total:.1f} min"))
    md = ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    ht = ["<table>"] + [f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows] + ["</table>"]
    return md, ht


def _wall_minutes(state: dict) -> float | None:
    """Minutes from the run's start to its finish (``run.json``), or None when it has not finished."""
    from datetime import datetime

    try:
        return (datetime.fromisoformat(state["finished"]) - datetime.fromisoformat(state["started"])).total_seconds() / 60
    except (KeyError, TypeError, ValueError):
        return None


def write_report(out: str | Path) -> Path:
    """Write ``REPORT.md`` and ``REPORT.html`` in the run folder ``out``; return the Markdown path."""
    out = Path(out)
    tables, figures = out / "tables", out / "figures"
    state_path = out / "run.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    md = ["# PPCL reproduction kit: report", "",
          "Every kit number below was computed by this run's notebooks and read from `tables/`; the paper's numbers "
          "are labelled `paper`. Trained numbers differ between seeds and between machines (float reduction order): "
          "read each beside its spread and interval.", "", "## Run", ""]
    ht = ["<html><head><meta charset='utf-8'><title>PPCL kit report</title>",
          "<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse;margin:1em 0}"
          "td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}img{max-width:100%}</style></head><body>",
          "<h1>PPCL reproduction kit: report</h1>", "<h2>Run</h2>"]
    info_md, info_ht = _run_info(state)
    md += info_md
    ht += info_ht
    missing = []
    for sec in SECTIONS:
        found = [(name, _read(tables, name)) for name in sec.tables]
        if all(df is None for _, df in found):
            missing.append(sec.title)
            continue
        md += ["", f"## {sec.title}", ""] + ([sec.note, ""] if sec.note else [])
        ht += [f"<h2>{html.escape(sec.title)}</h2>"] + ([f"<p>{html.escape(sec.note)}</p>"] if sec.note else [])
        for name, df in found:
            if df is None:
                md += [f"*`{name}` was not produced by this run.*", ""]
                continue
            md += [f"`tables/{name}.csv`", "", df.to_markdown(index=False, floatfmt=".2f"), ""]
            ht += [f"<p><code>tables/{name}.csv</code></p>", df.to_html(index=False, float_format=lambda v: f"{v:.2f}")]
        for fig in sec.figures:
            if (figures / f"{fig}.png").is_file():
                md += [f"![{fig}](figures/{fig}.png)", ""]
                ht += [f"<p><img src='figures/{fig}.png' alt='{fig}'></p>"]
    if missing:
        md += ["", "## Not produced by this run", ""] + [f"- {t}" for t in missing]
        ht += ["<h2>Not produced by this run</h2><ul>"] + [f"<li>{html.escape(t)}</li>" for t in missing] + ["</ul>"]
    ht.append("</body></html>")
    write_text(out / "REPORT.html", "\n".join(ht) + "\n")
    return write_text(out / "REPORT.md", "\n".join(md) + "\n")

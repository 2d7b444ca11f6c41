"""The verdicts of one run: its declared primary family, read from the difference tables.

A run declares, before it starts, which comparisons form its primary family (the ``primary``
pairs of :func:`ppcl.evaluate.compare.differences`); their rows carry ``family = "primary"``, a
Holm-adjusted interval (``ci_adj_low, ci_adj_high``) and ``p_adj``. This module reads every
difference table a run wrote (:data:`TABLES`; a table without a ``family`` column is all
descriptive) and writes the primary rows with estimate, adjusted interval and verdict (ahead /
behind / no difference shown), then every other row, labelled descriptive, with its unadjusted
interval. The verdicts come from that one run: its seeds are independent replicates, so another
float order is already inside its interval.

With ``--beside RUN2`` (another run of the same design) it adds a consistency check, not a vote:
for each primary row, whether each run's estimate lies inside the other run's unadjusted
interval. ``docs/statistics.md`` explains how to read a row::

    python -m ppcl.pipeline.verdicts runs/synthetic --out verdicts.md
    python -m ppcl.pipeline.verdicts runs/synthetic --beside runs/synthetic-other-machine
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..evaluate.compare import verdict
from ..io import write_text

TABLES = ("03_differences", "03_localisation_differences", "04_table1a_steps", "05_differences")
KEYS = ["table", "dataset", "direction", "method", "versus"]


def read_differences(run: str | Path):
    """Every difference table of a run folder as one DataFrame with a ``table`` column, ``family``
    (``"descriptive"`` where a table has none) and each row's ``verdict`` (see
    :func:`ppcl.evaluate.compare.verdict`)."""
    import pandas as pd

    tables = Path(run) / "tables"
    if not tables.is_dir():
        raise FileNotFoundError(f"{tables}: expected a finished run folder's tables/ (python -m ppcl.pipeline.reproduce --out "
                                f"{run}); found no such folder")
    frames = []
    for name in TABLES:
        path = tables / f"{name}.csv"
        if path.is_file():
            df = pd.read_csv(path)
            for col in ("dataset", "direction"):
                if col not in df:
                    df[col] = ""
            df["family"] = df["family"].fillna("descriptive") if "family" in df else "descriptive"
            frames.append(df.assign(table=name))
    if not frames:
        raise FileNotFoundError(f"{tables}: expected at least one of {[f'{t}.csv' for t in TABLES]}; found none")
    out = pd.concat(frames, ignore_index=True)
    missing = [c for c in ("rank1_diff_mean", "ci_low", "ci_high") if c not in out]
    if missing:
        raise ValueError(f"{tables}: expected difference tables with rank1_diff_mean, ci_low, ci_high; found no {missing}")
    primary = out["family"] == "primary"
    if primary.any() and not {"ci_adj_low", "ci_adj_high"} <= set(out):
        raise ValueError(f"{tables}: primary rows need ci_adj_low, ci_adj_high (the Holm-adjusted interval); found none")
    out["verdict"] = [verdict(r) for r in out.to_dict("records")]
    return out


def _interval(m: float, lo: float, hi: float) -> str:
    return f"{m:+.1f} [{lo:+.1f}, {hi:+.1f}]"


def primary_rows(df):
    """The primary family: ``KEYS``, ``estimate [adjusted interval]``, ``p_adj``, ``verdict``."""
    p = df[df["family"] == "primary"]
    return p[KEYS].assign(**{
        "estimate [adjusted interval]": [_interval(*x) for x in zip(p["rank1_diff_mean"], p["ci_adj_low"], p["ci_adj_high"])],
        "p_adj": p["p_adj"].map(lambda v: f"{v:.3g}") if "p_adj" in p else "", "verdict": p["verdict"]})


def descriptive_rows(df):
    """Every other row: ``KEYS``, ``estimate [interval]`` (unadjusted) and its ``reading``."""
    d = df[df["family"] != "primary"]
    return d[KEYS].assign(**{
        "estimate [interval]": [_interval(*x) for x in zip(d["rank1_diff_mean"], d["ci_low"], d["ci_high"])],
        "reading": d["verdict"]})


def consistency(run, beside):
    """For each primary row of ``run`` (a :func:`read_differences` frame), the same row of
    ``beside``: both estimates with their unadjusted intervals and whether each estimate lies
    inside the other's interval (``"absent"`` where ``beside`` has no such row)."""
    cols = KEYS + ["rank1_diff_mean", "ci_low", "ci_high"]
    both = run.loc[run["family"] == "primary", cols].merge(beside[cols], on=KEYS, how="left", suffixes=("", "_2"))
    present = both["rank1_diff_mean_2"].notna()

    def inside(m, lo, hi):
        return ["absent" if not ok else ("yes" if a <= x <= b else "no") for ok, x, a, b in zip(present, m, lo, hi)]

    return both[KEYS].assign(**{
        "this run": [_interval(*x) for x in zip(both["rank1_diff_mean"], both["ci_low"], both["ci_high"])],
        "beside": [_interval(*x) if ok else "absent" for ok, *x in
                   zip(present, both["rank1_diff_mean_2"], both["ci_low_2"], both["ci_high_2"])],
        "this estimate inside beside's interval": inside(both["rank1_diff_mean"], both["ci_low_2"], both["ci_high_2"]),
        "beside's estimate inside this interval": inside(both["rank1_diff_mean_2"], both["ci_low"], both["ci_high"])})


def describe(run: str | Path) -> str:
    """One line naming a run: its machine, thread count, trainings side by side, date and commit,
    from ``run.json``."""
    state_path = Path(run) / "run.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    m = state.get("machine", {})
    jobs = state.get("train_jobs")
    at_a_time = "trainings at a time not recorded" if jobs is None else f"{jobs} training{'s' if jobs != 1 else ''} at a time"
    return (f"{run}: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('threads', '?')} torch threads, "
            f"{at_a_time}, started {state.get('started', '?')}, commit {state.get('commit', '?')}")


def to_markdown(df, run: str | Path, beside=None, beside_run: str | Path | None = None) -> str:
    """The run's verdicts as Markdown: the primary family, the descriptive rows, and (``beside``:
    another run's :func:`read_differences` frame) the consistency check."""
    prim, desc = primary_rows(df), descriptive_rows(df)
    lines = [f"Run: {describe(run)}", "", "## Primary family (Holm-adjusted 95% intervals; the verdicts)", ""]
    if len(prim):
        sizes = prim.groupby("table", sort=False).size()
        lines += [f"Holm family: {n} rows of {t}." for t, n in sizes.items()]
        lines += ["", prim.to_markdown(index=False)]
    else:
        lines.append("No primary family was declared in this run's tables: every row below is descriptive.")
    lines += ["", "## Descriptive rows (unadjusted 95% intervals; not verdicts)", ""]
    lines.append(desc.to_markdown(index=False) if len(desc) else "None.")
    if beside is not None:
        lines += ["", "## Consistency with a second run (a check, not a vote)", "", f"Beside: {describe(beside_run)}", "",
                  "Each run's estimate against the other run's unadjusted interval; the verdicts above are this run's."]
        check = consistency(df, beside)
        lines += ["", check.to_markdown(index=False) if len(check) else "No primary rows to check."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ppcl.pipeline.verdicts", description=__doc__.split("\n\n")[0])
    ap.add_argument("run", metavar="RUN", help="a finished run folder (its tables/ hold the difference tables)")
    ap.add_argument("--beside", metavar="RUN2", help="another run of the same design: adds a consistency check")
    ap.add_argument("--out", help="write the Markdown here (default: print it)")
    args = ap.parse_args(argv)
    df = read_differences(args.run)
    beside = read_differences(args.beside) if args.beside else None
    text = to_markdown(df, args.run, beside, args.beside)
    if args.out:
        write_text(Path(args.out), text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Verdicts that survive another float order: two or more runs' difference tables, side by side.

Another machine trains other networks (its float reduction order moves every weight, as another
seed does), so a verdict ("PPCL is ahead of +R") is written down only when it holds in full runs
with different float orders (on one machine: ``OMP_NUM_THREADS=1``, or ``--set train_jobs=1``,
one training at a time on every thread, against the default of trainings side by side). This
module reads every difference table the notebooks wrote (:data:`TABLES`) from each run folder
and writes, for each compared pair, each run's estimate, interval and verdict, and the verdict
all of them agree on, or ``not established`` where any differs::

    python -m ppcl.pipeline.verdicts runs/synthetic runs/synthetic-1job [runs/synthetic-1thread ...] --out verdicts.md
    python -m ppcl.pipeline.verdicts runs/synthetic runs/synthetic-1thread --names A,C   # the runs' own names
"""
from __future__ import annotations

import argparse
import json
import string
from pathlib import Path

from ..evaluate.compare import verdict
from ..io import write_text

TABLES = ("03_differences", "03_localisation_differences", "04_table1a_steps", "05_differences")
KEYS = ["table", "dataset", "direction", "method", "versus"]


def read_differences(run: str | Path):
    """Every difference table of a run folder as one DataFrame with a ``table`` column and each
    row's ``verdict`` (read from ``ci_low``/``ci_high``, the interval that counts training)."""
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
            frames.append(df.assign(table=name))
    if not frames:
        raise FileNotFoundError(f"{tables}: expected at least one of {[f'{t}.csv' for t in TABLES]}; found none")
    out = pd.concat(frames, ignore_index=True)
    out["verdict"] = [verdict(r) for r in out.to_dict("records")]
    return out


def run_names(n: int) -> list[str]:
    """``["a", "b", ...]``: the suffixes of the runs' columns, in the order given."""
    if not 2 <= n <= 26:
        raise ValueError(f"runs: expected 2 to 26 run folders; found {n}")
    return list(string.ascii_lowercase[:n])


def run_labels(n: int, names: str | None = None) -> list[str]:
    """The runs' names in the written table: ``names`` (comma-separated, one per run, e.g. ``"A,C"``
    for a default run and its ``OMP_NUM_THREADS=1`` twin), else ``A``, ``B``, ... in order."""
    if names is None:
        return [n.upper() for n in run_names(n)]
    labels = [x.strip() for x in names.split(",")]
    if len(labels) != n or not all(labels) or len(set(labels)) != n:
        raise ValueError(f"--names: expected {n} distinct non-empty comma-separated names, one per RUN; found {names!r}")
    return labels


def agree(*runs):
    """One row per compared pair present in every run: each run's ``rank1_diff_mean``, interval
    and verdict (suffixes ``_a``, ``_b``, ...) and ``verdict``: theirs where all agree, else
    ``not established``."""
    cols = KEYS + ["rank1_diff_mean", "ci_low", "ci_high", "seeds", "verdict"]
    names = run_names(len(runs))
    both = None
    for name, df in zip(names, runs):
        part = df[cols].rename(columns={c: f"{c}_{name}" for c in cols if c not in KEYS})
        both = part if both is None else both.merge(part, on=KEYS, how="inner")
    verdicts = both[[f"verdict_{n}" for n in names]]
    both["verdict"] = [row[0] if len(set(row)) == 1 else "not established" for row in verdicts.itertuples(index=False)]
    return both


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


def to_markdown(both, *runs: str | Path, labels: list[str] | None = None) -> str:
    """The agreed table as Markdown, the runs named above it (``labels``: see :func:`run_labels`)."""
    names = run_names(len(runs))
    labels = run_labels(len(runs)) if labels is None else labels
    view = both.assign(**{
        f"run {lab}": [f"{m:+.1f} [{lo:+.1f}, {hi:+.1f}] {v}" for m, lo, hi, v in
                       zip(both[f"rank1_diff_mean_{n}"], both[f"ci_low_{n}"], both[f"ci_high_{n}"], both[f"verdict_{n}"])]
        for n, lab in zip(names, labels)})
    lines = [f"- run {lab}: {describe(r)}" for lab, r in zip(labels, runs)]
    lines += ["", view[KEYS + [f"run {lab}" for lab in labels] + ["verdict"]].to_markdown(index=False)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ppcl.pipeline.verdicts", description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", metavar="RUN",
                    help="two or more finished run folders (other float orders: OMP_NUM_THREADS=1, --set train_jobs=1, "
                         "another machine)")
    ap.add_argument("--out", help="write the Markdown table here (default: print it)")
    ap.add_argument("--names", help="the runs' names, comma-separated, one per RUN (default: A,B,...)")
    args = ap.parse_args(argv)
    if len(args.runs) < 2:
        ap.error(f"RUN: expected two or more run folders to compare; found {len(args.runs)}")
    try:
        labels = run_labels(len(args.runs), args.names)
    except ValueError as e:
        ap.error(str(e))
    both = agree(*(read_differences(r) for r in args.runs))
    text = to_markdown(both, *args.runs, labels=labels)
    if args.out:
        write_text(Path(args.out), text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

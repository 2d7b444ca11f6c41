"""Verdicts that survive a second float order: two runs' difference tables, side by side.

Another machine trains other networks (its float reduction order moves every weight, as another
seed does), so a verdict ("PPCL is ahead of +R") is written down only when it holds in two full
runs with different float orders (``OMP_NUM_THREADS=1`` gives one on the same machine). This
module reads every difference table the notebooks wrote (:data:`TABLES`) from two run folders
and writes, for each compared pair, each run's estimate, interval and verdict, and the verdict
both agree on, or ``not established`` where they differ::

    python -m ppcl.verdicts runs/synthetic runs/synthetic-1thread --out verdicts.md
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .evaluate.compare import verdict
from .io import write_text

TABLES = ("03_differences", "03_localisation_differences", "04_table1a_steps", "05_differences")
KEYS = ["table", "dataset", "direction", "method", "versus"]


def read_differences(run: str | Path):
    """Every difference table of a run folder as one DataFrame with a ``table`` column and each
    row's ``verdict`` (read from ``ci_low``/``ci_high``, the interval that counts training)."""
    import pandas as pd

    tables = Path(run) / "tables"
    if not tables.is_dir():
        raise FileNotFoundError(f"{tables}: expected a finished run folder's tables/ (python -m ppcl.reproduce --out "
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


def agree(a, b):
    """One row per compared pair present in both runs: each run's ``rank1_diff_mean``, interval and
    verdict (suffixes ``_a``, ``_b``) and ``verdict``: theirs where they agree, else
    ``not established``."""
    cols = KEYS + ["rank1_diff_mean", "ci_low", "ci_high", "seeds", "verdict"]
    both = a[cols].merge(b[cols], on=KEYS, suffixes=("_a", "_b"), how="inner")
    both["verdict"] = [va if va == vb else "not established" for va, vb in zip(both.verdict_a, both.verdict_b)]
    return both


def describe(run: str | Path) -> str:
    """One line naming a run: its machine, thread count, date and commit, from ``run.json``."""
    state_path = Path(run) / "run.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    m = state.get("machine", {})
    return (f"{run}: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('threads', '?')} torch threads, "
            f"started {state.get('started', '?')}, commit {state.get('commit', '?')}")


def to_markdown(both, run_a: str | Path, run_b: str | Path) -> str:
    """The agreed table as Markdown, the two runs named above it."""
    view = both.assign(**{
        "run A": [f"{m:+.1f} [{lo:+.1f}, {hi:+.1f}] {v}" for m, lo, hi, v in
                  zip(both.rank1_diff_mean_a, both.ci_low_a, both.ci_high_a, both.verdict_a)],
        "run B": [f"{m:+.1f} [{lo:+.1f}, {hi:+.1f}] {v}" for m, lo, hi, v in
                  zip(both.rank1_diff_mean_b, both.ci_low_b, both.ci_high_b, both.verdict_b)]})
    lines = [f"- run A: {describe(run_a)}", f"- run B: {describe(run_b)}", "",
             view[KEYS + ["run A", "run B", "verdict"]].to_markdown(index=False)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ppcl.verdicts", description=__doc__.split("\n\n")[0])
    ap.add_argument("run_a", help="a finished run folder")
    ap.add_argument("run_b", help="a second run folder (another float order: OMP_NUM_THREADS=1, another machine)")
    ap.add_argument("--out", help="write the Markdown table here (default: print it)")
    args = ap.parse_args(argv)
    both = agree(read_differences(args.run_a), read_differences(args.run_b))
    text = to_markdown(both, args.run_a, args.run_b)
    if args.out:
        write_text(Path(args.out), text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

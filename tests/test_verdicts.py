"""One run's verdicts (``ppcl.pipeline.verdicts``): the primary family read from its adjusted
intervals, every other row descriptive, and a second run only as a consistency check."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from ppcl.pipeline.verdicts import consistency, main, read_differences

COLS = ["dataset", "direction", "method", "versus", "rank1_diff_mean", "ci_low", "ci_high", "family", "ci_adj_low",
        "ci_adj_high", "p_adj"]
NAN = float("nan")


def _run(tmp_path, name: str, rows: list[tuple], steps: bool = True) -> str:
    """A run folder with ``03_differences.csv`` from ``rows`` (``COLS``) and, when ``steps``, an
    older-style ``04_table1a_steps.csv`` without a ``family`` column."""
    folder = tmp_path / name
    (folder / "tables").mkdir(parents=True)
    pd.DataFrame(rows, columns=COLS).assign(seeds=10).to_csv(folder / "tables" / "03_differences.csv", index=False)
    if steps:
        pd.DataFrame([{"method": "+R", "versus": "Resize", "rank1_diff_mean": 2.0, "ci_low": 0.5, "ci_high": 3.5,
                       "seeds": 10, "dataset": "D", "direction": "query"}]).to_csv(folder / "tables" / "04_table1a_steps.csv",
                                                                                    index=False)
    (folder / "run.json").write_text(json.dumps({"machine": {"cpu": "X", "cores": 2, "threads": 2},
                                                 "started": "2026-12-08", "commit": "abc"}))
    return str(folder)


ROWS = [("D", "query", "PPCL", "+R", 3.0, 1.0, 5.0, "primary", 0.4, 5.6, 0.01),
        ("D", "gallery", "PPCL", "+R", 2.0, 0.1, 3.9, "primary", -0.5, 4.5, 0.08),
        ("D", "query", "PPCL", "Resize", -4.0, -6.0, -2.0, "primary", -6.5, -1.5, 0.002),
        ("D", "query", "+R", "Resize", 1.5, 0.2, 2.8, "descriptive", NAN, NAN, NAN)]


def test_the_primary_family_is_read_from_the_adjusted_intervals(tmp_path):
    df = read_differences(_run(tmp_path, "a", ROWS)).set_index(["table", "direction", "method", "versus"])
    assert df.loc[("03_differences", "query", "PPCL", "+R"), "verdict"] == "ahead"
    assert df.loc[("03_differences", "gallery", "PPCL", "+R"), "verdict"] == "no difference shown"  # unadjusted > 0
    assert df.loc[("03_differences", "query", "PPCL", "Resize"), "verdict"] == "behind"
    assert df.loc[("03_differences", "query", "+R", "Resize"), "verdict"] == "descriptive: interval above 0"
    assert df.loc[("04_table1a_steps", "query", "+R", "Resize"), "family"] == "descriptive"  # no family column
    assert df.loc[("04_table1a_steps", "query", "+R", "Resize"), "verdict"] == "descriptive: interval above 0"


def test_the_markdown_puts_the_verdicts_first_and_labels_the_rest(tmp_path):
    a = _run(tmp_path, "a", ROWS)
    assert main([a, "--out", str(tmp_path / "v.md")]) == 0
    text = (tmp_path / "v.md").read_text()
    prim, desc = text.index("## Primary family"), text.index("## Descriptive rows")
    assert prim < text.index("+3.0 [+0.4, +5.6]") < text.index("no difference shown") < desc
    assert "Holm family: 3 rows of 03_differences." in text
    assert desc < text.index("+1.5 [+0.2, +2.8]") and "descriptive: interval above 0" in text[desc:]
    assert "ahead" not in text[desc:] and "Consistency" not in text and "2 torch threads" in text


def test_a_run_without_a_primary_family_says_so(tmp_path, capsys):
    a = _run(tmp_path, "a", [r[:7] + ("descriptive", NAN, NAN, NAN) for r in ROWS])
    assert main([a]) == 0
    out = capsys.readouterr().out
    assert "No primary family was declared" in out and "ahead" not in out and "behind" not in out


def test_a_second_run_is_a_consistency_check_not_a_vote(tmp_path):
    other = [("D", "query", "PPCL", "+R", 0.5, -1.5, 2.5, "primary", -2.0, 3.0, 0.6),  # a's 3.0 is outside, b's 0.5 too
             ("D", "gallery", "PPCL", "+R", 2.5, 0.5, 4.5, "primary", 0.1, 4.9, 0.04)]  # each inside the other
    a, b = _run(tmp_path, "a", ROWS), _run(tmp_path, "b", other, steps=False)
    check = consistency(read_differences(a), read_differences(b)).set_index(["direction", "versus"])
    assert check.loc[("query", "+R"), "this estimate inside beside's interval"] == "no"
    assert check.loc[("query", "+R"), "beside's estimate inside this interval"] == "no"
    assert check.loc[("gallery", "+R"), "this estimate inside beside's interval"] == "yes"
    assert check.loc[("gallery", "+R"), "beside's estimate inside this interval"] == "yes"
    assert check.loc[("query", "Resize"), "beside"] == "absent"
    assert len(check) == 3  # the primary rows of the first run only
    assert main([a, "--beside", b, "--out", str(tmp_path / "v.md")]) == 0
    text = (tmp_path / "v.md").read_text()
    assert "(a check, not a vote)" in text and "absent" in text
    assert text[: text.index("## Consistency")].count("| ahead") == 1  # the verdicts stay run a's


def test_bad_folders_and_tables_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere/tables: expected a finished run folder's tables/"):
        read_differences(tmp_path / "nowhere")
    (tmp_path / "empty" / "tables").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="expected at least one of .*03_differences.csv"):
        read_differences(tmp_path / "empty")
    bad = _run(tmp_path, "bad", ROWS, steps=False)
    df = pd.read_csv(f"{bad}/tables/03_differences.csv").drop(columns=["ci_adj_low", "ci_adj_high"])
    df.to_csv(f"{bad}/tables/03_differences.csv", index=False)
    with pytest.raises(ValueError, match="primary rows need ci_adj_low, ci_adj_high"):
        read_differences(bad)
    with pytest.raises(SystemExit):
        main([])

"""Two runs' verdicts side by side (``ppcl.pipeline.verdicts``): a verdict is kept only where both agree."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from ppcl.pipeline.verdicts import agree, main, read_differences


def _run(tmp_path, name: str, rows: list[tuple], threads: int) -> str:
    folder = tmp_path / name
    (folder / "tables").mkdir(parents=True)
    df = pd.DataFrame(rows, columns=["dataset", "direction", "method", "versus", "rank1_diff_mean", "ci_low", "ci_high"])
    df.assign(seeds=5).to_csv(folder / "tables" / "03_differences.csv", index=False)
    pd.DataFrame([{"method": "+R", "versus": "Resize", "rank1_diff_mean": 2.0, "ci_low": 0.5, "ci_high": 3.5, "seeds": 5,
                   "dataset": "D", "direction": "query"}]).to_csv(folder / "tables" / "04_table1a_steps.csv", index=False)
    (folder / "run.json").write_text(json.dumps({"machine": {"cpu": "X", "cores": 2, "threads": threads},
                                                 "started": "2026-12-02", "commit": "abc"}))
    return str(folder)


def test_verdicts_agree_or_are_not_established(tmp_path, capsys):
    a = _run(tmp_path, "a", [("D", "query", "PPCL", "+R", 3.0, 1.0, 5.0), ("D", "query", "PPCL", "Resize", -4.0, -6.0, -1.0),
                             ("D", "gallery", "PPCL", "+R", 2.0, 0.1, 4.0)], 2)
    b = _run(tmp_path, "b", [("D", "query", "PPCL", "+R", 2.5, 0.4, 4.6), ("D", "query", "PPCL", "Resize", -3.0, -5.0, -0.5),
                             ("D", "gallery", "PPCL", "+R", 1.0, -0.9, 2.9)], 1)
    both = agree(read_differences(a), read_differences(b)).set_index(["table", "direction", "versus"])
    assert both.loc[("03_differences", "query", "+R"), "verdict"] == "ahead"
    assert both.loc[("03_differences", "query", "Resize"), "verdict"] == "behind"
    assert both.loc[("03_differences", "gallery", "+R"), "verdict"] == "not established"  # ahead in a, not in b
    assert both.loc[("04_table1a_steps", "query", "Resize"), "verdict"] == "ahead"
    assert main([a, b, "--out", str(tmp_path / "v.md")]) == 0
    text = (tmp_path / "v.md").read_text()
    assert "not established" in text and "1 torch threads" in text and "2 torch threads" in text


def test_a_folder_without_tables_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="tables"):
        read_differences(tmp_path / "nowhere")
    (tmp_path / "empty" / "tables").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="03_differences.csv"):
        read_differences(tmp_path / "empty")


def test_a_third_run_that_disagrees_makes_the_verdict_not_established(tmp_path):
    rows = [("D", "query", "PPCL", "+R", 3.0, 1.0, 5.0)]
    a, b = _run(tmp_path, "a", rows, 2), _run(tmp_path, "b", rows, 1)
    c = _run(tmp_path, "c", [("D", "query", "PPCL", "+R", 1.0, -1.0, 3.0)], 2)
    two = agree(read_differences(a), read_differences(b)).set_index(["table", "versus"])
    three = agree(read_differences(a), read_differences(b), read_differences(c)).set_index(["table", "versus"])
    assert two.loc[("03_differences", "+R"), "verdict"] == "ahead"
    assert three.loc[("03_differences", "+R"), "verdict"] == "not established"
    assert three.loc[("03_differences", "+R"), "verdict_c"] == "not distinguishable"
    assert main([a, b, c, "--out", str(tmp_path / "v3.md")]) == 0
    assert "run C" in (tmp_path / "v3.md").read_text()
    with pytest.raises(SystemExit):
        main([a])


def test_the_runs_can_carry_their_own_names_and_a_wrong_count_is_refused(tmp_path, capsys):
    rows = [("D", "query", "PPCL", "+R", 3.0, 1.0, 5.0)]
    a, c = _run(tmp_path, "a", rows, 2), _run(tmp_path, "c", rows, 1)
    assert main([a, c, "--names", "A, C", "--out", str(tmp_path / "v.md")]) == 0
    text = (tmp_path / "v.md").read_text()
    assert "| run A " in text and "| run C " in text and "run B" not in text
    assert f"- run C: {c}" in text  # the second folder carries the second name
    for bad in ("A", "A,B,C", "A,A", "A,"):
        with pytest.raises(SystemExit):
            main([a, c, "--names", bad])
        assert "--names: expected 2 distinct" in capsys.readouterr().err

"""Tables 2 and 3: the kit's rows (from a run) beside the paper's rows (from the paper)."""
from __future__ import annotations

from .. import paper

LABELS = {"pad": "Pad", "resize": "Resize", "+R": "+R", "+R+L": "PPCL (+R+L)", "+R+L+G": "PPCL + global (kit)"}


def partial_table(results: dict[str, dict[str, dict]], direction: str, run_label: str = "kit") -> "pd.DataFrame":
    """``results[dataset][method]`` from :func:`ppcl.evaluate.protocols.evaluate_partial` (datasets
    ``partial_reid`` and ``partial_ilids``) -> Table 2 (``direction="query"``) or 3 (``"gallery"``)."""
    import pandas as pd

    rows = []
    ref = paper.TABLE2 if direction == "query" else paper.TABLE3
    for name, (a1, a3, b1, b3) in ref.items():
        rows.append({"source": "paper", "method": name, "Partial-REID R-1": a1, "Partial-REID R-3": a3,
                     "Partial-iLIDS R-1": b1, "Partial-iLIDS R-3": b3})
    methods = list(next(iter(results.values())))
    for m in methods:
        row = {"source": run_label, "method": LABELS.get(m, m)}
        for ds, col in (("partial_reid", "Partial-REID"), ("partial_ilids", "Partial-iLIDS")):
            r = results.get(ds, {}).get(m)
            row[f"{col} R-1"] = round(100 * r[direction]["rank1"], 1) if r else None
            row[f"{col} R-3"] = round(100 * r[direction]["rank3"], 1) if r else None
        rows.append(row)
    return pd.DataFrame(rows)

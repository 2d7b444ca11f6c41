"""The methods the notebooks compare, written once: each row of a table is an evaluation method of
the engine (:mod:`ppcl.evaluate.engine`) on the model a training variant gave
(:data:`ppcl.pipeline.training.VARIANTS`).

>>> by_label("PPCL")
Method(label='PPCL', variant='ppcl', method='+R+L')
>>> [m.label for m in TABLE1A][-3:]
['+R+L (PP-Triplet only)', '+R+L (PP-Cycle only)', 'PPCL']
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    """A row of the tables: ``label`` computed by the engine's ``method`` on ``variant``'s model."""

    label: str
    variant: str
    method: str


ALL: tuple[Method, ...] = (
    Method("Pad (holistic F, the paper's)", "holistic", "pad"),  # the paper's Resize/Pad baselines as they read:
    Method("Resize (holistic F, the paper's)", "holistic", "resize"),  # F trained on holistic images only
    Method("Pad", "resize", "pad"),  # the kit's: F also trained on resized partial views
    Method("Resize", "resize", "resize"),
    Method("+R", "+R", "+R"),
    Method("+R fixed box", "+R", "+R+box"),  # the reference cut at the query's GLRec box: no locator
    Method("+R+L (PP-Triplet only)", "triplet", "+R+L"),
    Method("+R+L (PP-Cycle only)", "cycle", "+R+L"),
    Method("PPCL", "ppcl", "+R+L"),
    Method("PPCL fixed box", "ppcl", "+R+box"),
    Method("PPCL + global (kit)", "ppcl", "+R+L+G"),  # the kit's option: + w x the +R distance, w on validation
)


def by_label(*labels: str) -> Method | tuple[Method, ...]:
    """The methods named ``labels`` (one method for one label), in the order given."""
    table = {m.label: m for m in ALL}
    unknown = [x for x in labels if x not in table]
    if unknown:
        raise ValueError(f"labels: expected among {list(table)}; found {unknown}")
    found = tuple(table[x] for x in labels)
    return found[0] if len(found) == 1 else found


# Tables 2 and 3 (notebook 03): every method on the models of Resize, +R and PPCL
TABLES23 = by_label("Pad (holistic F, the paper's)", "Resize (holistic F, the paper's)", "Pad", "Resize", "+R",
                    "+R fixed box", "PPCL", "PPCL fixed box", "PPCL + global (kit)")
# Table 1a (notebook 04): the model variations, step by step
TABLE1A = by_label("Pad (holistic F, the paper's)", "Resize (holistic F, the paper's)", "Pad", "Resize", "+R",
                   "+R fixed box", "+R+L (PP-Triplet only)", "+R+L (PP-Cycle only)", "PPCL")
# Figure 5 (notebook 04): rank-1 against the query's visible-area ratio
FIGURE5 = by_label("Resize", "+R+L (PP-Cycle only)", "+R+L (PP-Triplet only)", "PPCL")
# Table 4 (notebook 05): faces
FACES = by_label("Resize", "+R", "PPCL")

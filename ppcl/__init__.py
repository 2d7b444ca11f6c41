"""PPCL: Part-Part Correspondence Learning for partial person re-ID (He et al., CVPR 2021).

The thin package the kit's notebooks import:

* :mod:`ppcl.data` — real-dataset readers, the synthetic generator, partial crops, samplers;
* :mod:`ppcl.geometry` — the one convention for the 4-DoF transform t and boxes;
* :mod:`ppcl.models` — GLRec (R + G + T), the backbone F, CRLoc (L);
* :mod:`ppcl.losses`, :mod:`ppcl.train`, :mod:`ppcl.evaluate`, :mod:`ppcl.viz`;
* ``ppcl.match(query, gallery, checkpoint)`` — a trained PPCL model on your own images
  (:func:`ppcl.evaluate.match.match`; imported on first use, so ``import ppcl`` stays light).
"""
__version__ = "0.1.0"
__all__ = ["__version__", "match"]


def __getattr__(name: str):
    if name == "match":
        from .evaluate.match import match

        return match
    raise AttributeError(f"module 'ppcl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "match"])

"""PPCL: Part-Part Correspondence Learning for partial person re-ID (He et al., CVPR 2021).

The thin package the kit's notebooks import:

* :mod:`ppcl.data` — real-dataset readers, the synthetic generator, partial crops, samplers;
* :mod:`ppcl.geometry` — the one convention for the 4-DoF transform t and boxes;
* :mod:`ppcl.models` — GLRec (R + G + T), the backbone F, CRLoc (L);
* :mod:`ppcl.losses`, :mod:`ppcl.train`, :mod:`ppcl.evaluate`, :mod:`ppcl.viz`.
"""
__version__ = "0.1.0"

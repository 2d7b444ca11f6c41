"""Evaluation: ranking metrics, verification ROC, GLRec layout metrics, the PPCL engine, protocols.

Anyone's model on the same protocols: :mod:`ppcl.evaluate.features` (a feature file per seed,
``save_features``, ``evaluate_features``) and the command ``python -m ppcl.evaluate partial ...``
or ``python -m ppcl.evaluate market1501 ...`` (``docs/evaluate-your-model.md``). They are not
imported here, so ``import ppcl.evaluate`` stays light.
"""
from .rank import rank
from .verification import VerificationResult, tar_at_far, verification

__all__ = ["VerificationResult", "rank", "tar_at_far", "verification"]

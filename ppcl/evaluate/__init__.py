"""Evaluation: ranking metrics, GLRec layout metrics, the PPCL feature/pairwise engine."""
from .rank import rank

__all__ = ["rank"]

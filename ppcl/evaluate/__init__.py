"""Evaluation: ranking metrics, verification ROC, GLRec layout metrics, the PPCL engine, protocols."""
from .rank import rank
from .verification import VerificationResult, tar_at_far, verification

__all__ = ["VerificationResult", "rank", "tar_at_far", "verification"]

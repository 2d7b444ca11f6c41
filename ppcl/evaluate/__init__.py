"""Evaluation: GLRec layout metrics, and (with the PPCL engine) ranking metrics."""

"""GLRec (R + G + T), the backbone F, CRLoc (L), and PPCL putting them together."""
from __future__ import annotations

from .backbone import BackboneConfig, ReIDBackbone
from .crloc import CRLoc, CRLocConfig
from .glrec import GLRec, GLRecConfig
from .ppcl import PPCL


def build_ppcl(glrec: dict, backbone: dict, crloc: dict, glrec_model: GLRec | None = None) -> PPCL:
    """A PPCL model from plain config dicts (as notebooks' parameters hold them).

    Tuples may arrive as lists (from JSON / papermill); they are converted.
    """
    def fix(d: dict) -> dict:
        return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}

    g = glrec_model if glrec_model is not None else GLRec(GLRecConfig(**fix(glrec)))
    return PPCL(g, ReIDBackbone(BackboneConfig(**fix(backbone))), CRLoc(CRLocConfig(**fix(crloc))))


__all__ = ["BackboneConfig", "CRLoc", "CRLocConfig", "GLRec", "GLRecConfig", "PPCL", "ReIDBackbone", "build_ppcl"]

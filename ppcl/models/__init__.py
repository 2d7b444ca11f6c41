"""GLRec (R + G + T), the backbone F (re-ID or face), CRLoc (L), and PPCL putting them together."""
from __future__ import annotations

from .backbone import Backbone, BackboneConfig, ReIDBackbone
from .crloc import CRLoc, CRLocConfig
from .face import FaceBackbone, FaceBackboneConfig
from .glrec import GLRec, GLRecConfig
from .ppcl import PPCL


def _fix(d: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def build_backbone(backbone: dict) -> ReIDBackbone | FaceBackbone:
    """F from a plain config dict: a :class:`FaceBackbone` when ``backbone["model"] ==
    "FaceBackbone"`` (as its ``arch()`` says), else a :class:`ReIDBackbone`."""
    kind = backbone.get("model", "ReIDBackbone")
    fields = _fix({k: v for k, v in backbone.items() if k != "model"})
    if kind == "FaceBackbone":
        return FaceBackbone(FaceBackboneConfig(**fields))
    if kind == "ReIDBackbone":
        return ReIDBackbone(BackboneConfig(**fields))
    raise ValueError(f"backbone model: expected 'ReIDBackbone' or 'FaceBackbone'; found {kind!r}")


def build_ppcl(glrec: dict, backbone: dict, crloc: dict, glrec_model: GLRec | None = None) -> PPCL:
    """A PPCL model from plain config dicts (as notebooks' parameters hold them).

    Tuples may arrive as lists (from JSON / papermill); they are converted. ``backbone`` builds
    the re-ID backbone, or the face one when it carries ``"model": "FaceBackbone"``.
    """
    g = glrec_model if glrec_model is not None else GLRec(GLRecConfig(**_fix(glrec)))
    return PPCL(g, build_backbone(backbone), CRLoc(CRLocConfig(**_fix(crloc))))


def ppcl_from_checkpoint(path) -> PPCL:
    """The PPCL model a checkpoint was saved from (its ``arch``), weights loaded, without pickle."""
    from ..io import read_checkpoint

    ckpt = read_checkpoint(path)
    arch = ckpt["arch"]
    if not isinstance(arch, dict) or arch.get("model") != "PPCL":
        raise ValueError(f"{path}: expected a PPCL checkpoint; found one of {arch.get('model') if isinstance(arch, dict) else arch!r}")
    part = lambda d: {k: v for k, v in d.items() if k != "model"}  # noqa: E731
    model = build_ppcl(part(arch["glrec"]), arch["backbone"], part(arch["crloc"]))
    model.load_state_dict(ckpt["model"])
    return model.eval()


__all__ = ["Backbone", "BackboneConfig", "CRLoc", "CRLocConfig", "FaceBackbone", "FaceBackboneConfig", "GLRec", "GLRecConfig", "PPCL",
           "ReIDBackbone", "build_backbone", "build_ppcl", "ppcl_from_checkpoint"]

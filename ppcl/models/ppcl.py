"""The PPCL model (Fig. 2): GLRec (R, G, T), the backbone F and CRLoc (L) in one module.

GLRec comes pretrained (notebook 02) and is kept fixed while F and L train (its forward
pass only, so a training step costs two backbone passes plus GLRec's inference); set
``train_glrec=True`` in :func:`ppcl.algorithm.ppcl_step` to go on optimising L_R as in Eq. 6.

F is either backbone of the kit, the re-ID ResNet (:class:`~ppcl.models.backbone.ReIDBackbone`)
or the face VGG with its GDC head (:class:`~ppcl.models.face.FaceBackbone`, §5): both give
the interface of :class:`~ppcl.models.backbone.Backbone`, which is all that Algorithm 1 and
the evaluation engine use.
"""
from __future__ import annotations

from torch import nn

from .backbone import Backbone
from .crloc import CRLoc
from .glrec import GLRec


class PPCL(nn.Module):
    def __init__(self, glrec: GLRec, backbone: Backbone, crloc: CRLoc):
        super().__init__()
        self.glrec, self.backbone, self.crloc = glrec, backbone, crloc

    def arch(self) -> dict:
        return {"model": "PPCL", "glrec": self.glrec.arch(), "backbone": self.backbone.arch(), "crloc": self.crloc.arch()}

    @property
    def input_size(self) -> tuple[int, int]:
        return tuple(self.backbone.cfg.input_size)

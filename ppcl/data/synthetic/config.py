"""What determines a synthetic dataset: :class:`SyntheticConfig`, its presets, and the folder names.

A config's :meth:`~SyntheticConfig.key` (a hash of its fields and :data:`GENERATOR_VERSION`)
names the dataset's folder; change the version whenever the files a config gives change.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

GENERATOR_VERSION = 4  # 2: detector boxes, body frames in the meta; 3: the larger test draws; 4: partial crops of the body
META_NAME = "synthetic_meta.json"
SOURCES_DIR = "partial_sources"
MARKET_DIR = "Market-1501-v15.09.15"
PREID_DIR = "Partial-REID_Dataset"
ILIDS_DIR = "Partial_iLIDS"
LARGE_DIR = "large"  # the larger Partial-REID / Partial-iLIDS draws, each in its real layout below it
LFW_DIR = "lfw"
LFW_PAIRS = "pairs.txt"
CASIA_DIR = "CASIA-WebFace"
PARTIAL_SIDES = ("top", "bottom", "left", "right", "free")  # as ppcl.data.partial.SIDES
DETECTION_MODES = ("aligned", "detector")
PARTIAL_CROPS = ("body", "frame")


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that determines a synthetic dataset; :meth:`key` names its folder.

    Sizes are ``(height, width)``; ranges ``(lo, hi)`` are inclusive integer ranges drawn per id.
    The defaults are the ``synthetic`` profile; :data:`SMOKE` is a handful of ids.

    **Detection boxes.** ``detection="aligned"`` frames every labelled person as a hand-drawn box
    does: the person's head-to-feet height N(0.9, 0.035) of the frame (times the identity's
    height, 0.9-1.05), centred within N(0, 0.04) across and N(0, 0.03) down (generator version
    1's images, byte for byte). ``detection="detector"`` keeps that framing as the *tight box* P
    and frames the image by a detection box D drawn around it, as Market-1501's DPM boxes were
    (kept as "good" when their IoU with the hand-drawn box exceeds 0.5). In units of P's size:

    * height ``exp(N(*box_log_scale_h))``, width ``exp(N(*box_log_scale_w))`` (independent:
      loose boxes with background, tight ones cutting the head or the feet, stretched people);
    * centre ``P's centre + (N(0, box_shift[0]), N(0, box_shift[1]))``;
    * redrawn while ``IoU(D, P) < min_box_iou`` (Market's "good" rule: 0.5).

    **Partial crops.** The real sets' partial images are cut around the visible part of the
    *person*: Partial-REID's "cropped randomly with a small fraction (such as the left or the upper
    part of the body)", Partial-iLIDS' "cropping the un-occluded part of the same person image"
    (the paper, §4.1). With ``partial_crop="body"`` a fraction ``partial_area`` of the person's
    tight box is kept on the drawn side (top, bottom, left, right, free), with ``partial_margin``
    of the box around it (:func:`ppcl.data.partial.sample_body_crop_t`); ``"frame"`` (generator
    version 3) cuts a region of the frame instead, which on loose detections leaves thin strips of
    background with a sliver of the person.

    **Larger test draws.** Besides the real-size Partial-REID (60 ids) and Partial-iLIDS (119)
    sets, ``n_partial_reid_ids_large`` and ``n_ilids_ids_large`` other people are drawn the same
    way into ``large/`` in the same layouts: the real-size sets give the paper-style Tables 2 and
    3, the larger ones the kit's verdicts. The defaults give both verdict sets about 600 partial
    images: Partial-REID 2x its people (120 x 5 images), Partial-iLIDS 5x (595 x 1), so each
    setting's paired interval has about the same query-sampling part (it shrinks as one over the
    square root of the queries). They are scored in folds of the real-size set's people
    (:func:`ppcl.data.sources.identity_folds`), so a larger draw adds queries to the same task
    rather than enlarging the gallery. The pools are drawn in order, so a larger draw
    keeps a smaller one's people and images and adds others; every other set is unchanged.
    ``verdict_seed`` (0: the set's own ``seed``) draws the larger sets' people and images from a
    seed of their own, still other people than every other set's (their signatures never repeat
    one): a **confirmation draw** no earlier run has seen, on which the verdicts are read; the
    draw of the set's own seed, on which the kit's readings were explored, stays one setting away.
    Every pairwise CRLoc distance is scored, so the evaluation grows with the square of the size.

    The image is D resized to ``person_size``. With the defaults IoU(D, P) spreads over
    [0.5, 1] (5 / 50 / 95 % quantiles 0.61 / 0.75 / 0.88, a quarter below 0.7), the person's
    height is 0.70 / 0.85 / 1.03 of the frame, its centre within +-0.13 of the middle (90%),
    and about a fifth of the boxes cut the head, a fifth the feet (a ninth each by more than 3%
    of the frame). Market training and gallery images, Partial-REID whole-body
    images, Partial-iLIDS gallery images and the holistic renderings partial probes are cut
    from get detection boxes; Market queries (hand-drawn in Market), Partial-REID occluded
    images, distractors and junk keep their own framing. The box has its own random stream
    (:func:`.streams.box_rng`): every other draw of an image is the same in both modes.
    """

    seed: int = 0
    # Market-1501 style train / query / gallery
    n_train_ids: int = 300
    images_per_train_id: tuple[int, int] = (8, 16)
    n_test_ids: int = 100
    n_query_per_id: int = 2
    n_gallery_per_id: tuple[int, int] = (4, 8)
    n_distractors: int = 40
    n_junk: int = 20
    person_size: tuple[int, int] = (128, 64)
    occluder_prob: float = 0.15
    # Detection boxes (see the class docstring)
    detection: str = "detector"
    box_log_scale_h: tuple[float, float] = (0.03, 0.1)  # (mean, sigma) of log(D height / P height)
    box_log_scale_w: tuple[float, float] = (0.08, 0.15)  # (mean, sigma) of log(D width / P width)
    box_shift: tuple[float, float] = (0.07, 0.06)  # sigmas of D's centre offset, in P widths / heights
    min_box_iou: float = 0.5
    # Partial-REID and Partial-iLIDS style test sets
    n_partial_reid_ids: int = 60
    partial_reid_images_per_id: int = 5
    n_ilids_ids: int = 119
    partial_area: tuple[float, float] = (0.3, 0.8)
    partial_crop: str = "body"  # "body": cut around the visible part of the body; "frame": a region of the frame
    partial_margin: float = 0.05  # "body" crops: the margin around the kept part, in body-box sizes
    partial_reid_sides: tuple[str, ...] = ("top", "bottom", "left", "right", "free")
    ilids_sides: tuple[str, ...] = ("top", "top", "top", "left", "right", "free")
    # Larger draws of the same two test sets, other people (the kit's verdicts are read on them)
    n_partial_reid_ids_large: int = 120
    n_ilids_ids_large: int = 595
    verdict_seed: int = 0  # the larger draws' people and images from this seed (0: the set's own seed)
    # Faces: CASIA-WebFace style training ids, LFW style test ids
    n_face_train_ids: int = 300
    face_images_per_train_id: tuple[int, int] = (6, 14)
    n_lfw_ids: int = 250
    lfw_max_images_per_id: int = 30
    lfw_folds: int = 10
    lfw_pairs_per_fold: int = 30
    face_size: tuple[int, int] = (64, 64)
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        for name in ("person_size", "face_size"):
            h, w = getattr(self, name)
            if h < 16 or w < 8:
                raise ValueError(f"{name} must be at least (16, 8); got {(h, w)}")
        for name in ("images_per_train_id", "n_gallery_per_id", "face_images_per_train_id"):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                raise ValueError(f"{name} must be a range 1 <= lo <= hi; got {(lo, hi)}")
        if self.n_gallery_per_id[0] < 2:
            raise ValueError("n_gallery_per_id must start at 2 or more (gallery spans two cameras)")
        if not 1 <= self.n_query_per_id <= 6:
            raise ValueError(f"n_query_per_id must be 1..6 (one per camera); got {self.n_query_per_id}")
        for name in ("partial_reid_sides", "ilids_sides"):
            sides = getattr(self, name)
            if not sides or set(sides) - set(PARTIAL_SIDES):
                raise ValueError(f"{name} must be a non-empty tuple of {PARTIAL_SIDES}; got {sides}")
        if self.partial_crop not in PARTIAL_CROPS:
            raise ValueError(f"partial_crop must be one of {PARTIAL_CROPS}; got {self.partial_crop!r}")
        if not 0 <= self.partial_margin <= 0.5:
            raise ValueError(f"partial_margin must be in [0, 0.5]; got {self.partial_margin}")
        if self.detection not in DETECTION_MODES:
            raise ValueError(f"detection must be one of {DETECTION_MODES}; got {self.detection!r}")
        pairs = (self.box_log_scale_h, self.box_log_scale_w, self.box_shift)
        if any(len(p) != 2 for p in pairs) or min(self.box_log_scale_h[1], self.box_log_scale_w[1], *self.box_shift) < 0:
            raise ValueError("box_log_scale_h and box_log_scale_w are (mean, sigma), box_shift (sigma_x, sigma_y); "
                             f"sigmas >= 0; got {pairs}")
        if not 0 <= self.min_box_iou <= 0.95:
            raise ValueError(f"min_box_iou must be in [0, 0.95]; got {self.min_box_iou}")
        lo, hi = self.partial_area
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"partial_area must satisfy 0 < lo <= hi <= 1; got {self.partial_area}")
        if max(self.n_partial_reid_ids, self.n_ilids_ids, self.n_partial_reid_ids_large, self.n_ilids_ids_large) > 999:
            raise ValueError("Partial-REID / Partial-iLIDS ids are 3-digit: at most 999")
        if self.n_train_ids + self.n_test_ids > 9999:
            raise ValueError("Market-1501 ids are 4-digit: n_train_ids + n_test_ids must be <= 9999")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SyntheticConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown SyntheticConfig fields: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def key(self) -> str:
        """Short stable hash of the config and the generator version (names the folder; a
        ``verdict_seed`` of 0 is left out, so the sets of earlier configs keep their folders)."""
        d = {k: v for k, v in self.to_dict().items() if not (k == "verdict_seed" and v == 0)}
        blob = json.dumps({"version": GENERATOR_VERSION, **d}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:10]


#: A handful of ids: generates in about a second (tests, nbval).
SMOKE = SyntheticConfig(
    n_train_ids=12,
    images_per_train_id=(4, 6),
    n_test_ids=6,
    n_query_per_id=1,
    n_gallery_per_id=(2, 3),
    n_distractors=3,
    n_junk=2,
    n_partial_reid_ids=6,
    partial_reid_images_per_id=2,
    n_ilids_ids=6,
    n_partial_reid_ids_large=8,
    n_ilids_ids_large=10,
    n_face_train_ids=8,
    face_images_per_train_id=(3, 4),
    n_lfw_ids=12,
    lfw_max_images_per_id=6,
    lfw_folds=2,
    lfw_pairs_per_fold=3,
)
#: The ``synthetic`` profile (the defaults).
SYNTHETIC = SyntheticConfig()
PRESETS: dict[str, SyntheticConfig] = {"smoke": SMOKE, "synthetic": SYNTHETIC}

"""Deterministic synthetic pedestrians and faces: the kit's embedded default dataset.

The generator renders small images with numpy (PIL only encodes them) and writes them in the
*same* on-disk layouts as the real datasets, so the kit's real readers load them unchanged::

    synthetic-<key>/
        Market-1501-v15.09.15/{bounding_box_train,query,bounding_box_test}/PPPP_cCsS_FFFFFF_NN.jpg
        Partial-REID_Dataset/{partial_body_images,whole_body_images,occluded_body_images}/PPP_NNN.jpg
        Partial_iLIDS/{Probe,Gallery}/PPP.jpg + Probe.txt + Gallery.txt
        lfw/<First_Last>/<First_Last>_NNNN.jpg + pairs.txt
        CASIA-WebFace/<7-digit id>/NNN.jpg
        partial_sources/...png    the holistic renderings the partial images were cut from
        synthetic_meta.json       config, identities, every partial image's exact t and side, and
                                  every pedestrian image's body frame ("bodies", see ppcl.data.bodies)

**Identity model.** A pedestrian is drawn from *parts* (head: skin, hair colour and style or a
cap; top: colour, pattern, sleeves; bottom: kind, colour, pattern; shoes; bag) picked from small
shared palettes. About half of a dataset's identities are *siblings* of an earlier one in the same
dataset (one or two of head / top / bottom / shoes / bag re-drawn), so a crop showing one part is
genuinely ambiguous while the whole person is unique: no two identities agree in every part.
Faces (:mod:`.faces`) follow the same model.

**Image model.** Each image varies what a re-ID camera varies: the camera (its own white balance,
colour cast, brightness, contrast, saturation, gamma, blur, noise, resolution and background
scene), the box (see below), the pose (view front / back / side, leg stride, arm swing), a
left-right flip, background clutter, occluders (poles, boxes, bushes, other people) on a
fraction of images, and JPEG at quality 90.

**Boxes.** Every labelled person is first framed by a hand-drawn-like *tight box* (head to
feet about 90% of the frame, small jitter). With ``SyntheticConfig.detection="detector"`` (the
default) the training and gallery images are then framed by a *detection box* drawn around it,
as Market-1501's DPM boxes were (IoU with the hand-drawn box from 0.5 to 1: shifted, loose or
tight, cutting heads and feet, people stretched), while Market queries stay hand-drawn; see
:class:`SyntheticConfig` for the distribution and which images get which box.
``detection="aligned"`` gives every labelled image the tight box (generator version 1's images).
Each image's body frame (where the person stands in it) is in ``synthetic_meta.json``.

**Determinism.** Every image draws from ``np.random.default_rng([seed, split, id, index])`` (see
:func:`image_rng`; its detection box from a stream of its own, :func:`box_rng`), identities and
cameras likewise, so one seed gives byte-identical files in any order and with any number of
worker processes.

Partial images (Partial-REID ``partial_body_images``, Partial-iLIDS ``Probe``) are exact pixel
crops (:func:`ppcl.data.partial.crop_pixels`) of a holistic rendering of the same identity from
another view, saved at their own pixel size; their realised t (the convention of
:mod:`ppcl.geometry`) and side are in ``synthetic_meta.json``, and the holistic rendering itself is
saved losslessly under ``partial_sources/`` so GLRec can be scored and drawn on them.

**Modules**, from the bottom layer up; each imports only modules listed before it:

* :mod:`.streams` (random streams), :mod:`.raster` (rasteriser, shapes, noise, contact sheets);
* :mod:`.palettes` (colours, part vocabularies, ``pick``), :mod:`.identities` (pedestrian
  identities, sibling-sharing pools);
* :mod:`.camera` (cameras, scenes, camera response), :mod:`.pose` (pose, skeleton);
* :mod:`.pedestrian` (the body drawn part by part), :mod:`.detection` (occluders, one
  pedestrian box), :mod:`.faces` (face identities and images), :mod:`.lfw_layout` (names,
  counts, pairs);
* :mod:`.config` (config, presets, folder names), :mod:`.plans` (context and job records),
  :mod:`.writers` (one writer per dataset), :mod:`.dataset` (generate, meta, cache).

Usage::

    from ppcl.data.synthetic import SMOKE, SYNTHETIC, ensure_synthetic
    from ppcl.data.readers import load

    root = ensure_synthetic("~/.cache/ppcl", SYNTHETIC)   # generated once (~30 s on 2 cores)
    market = load("market1501", root)                      # the real reader, unchanged

``generate`` uses worker processes for large configs; call it from a notebook or under an
``if __name__ == "__main__":`` guard on platforms that spawn (macOS, Windows).
"""
from __future__ import annotations

from .camera import SCENES, Camera, apply_camera, cameras, render_background, sample_camera
from .config import (
    DETECTION_MODES,
    GENERATOR_VERSION,
    ILIDS_DIR,
    LARGE_DIR,
    MARKET_DIR,
    META_NAME,
    PARTIAL_SIDES,
    PREID_DIR,
    PRESETS,
    SMOKE,
    SOURCES_DIR,
    SYNTHETIC,
    SyntheticConfig,
)
from .dataset import dataset_dir, default_cache_dir, ensure_synthetic, generate, is_complete, load_meta
from .detection import OCCLUDERS, Placement, draw_occluder, render_detection, render_person, sample_detection_box
from .faces import FaceIdentity, draw_face, face_pools, render_face, sample_face_identity
from .identities import PersonIdentity, identity_pools, mix_identities, person_pools, sample_identity
from .lfw_layout import lfw_image_counts, lfw_pairs, person_names
from .pedestrian import draw_person
from .plans import (
    CasiaJob,
    Context,
    LfwJob,
    MarketExtraJob,
    MarketIdJob,
    PartialIlidsJob,
    PartialReidJob,
    build_context,
    make_jobs,
)
from .pose import VIEWS, Pose, Skeleton, sample_pose, skeleton
from .raster import Raster, contact_sheet
from .streams import SPLIT_CODES, box_rng, image_rng
from .writers import run_job

__all__ = [
    "DETECTION_MODES", "GENERATOR_VERSION", "ILIDS_DIR", "LARGE_DIR", "MARKET_DIR", "META_NAME", "OCCLUDERS", "PARTIAL_SIDES", "PREID_DIR",
    "PRESETS", "SCENES", "SMOKE", "SOURCES_DIR", "SPLIT_CODES", "SYNTHETIC", "VIEWS",
    "Camera", "CasiaJob", "Context", "FaceIdentity", "LfwJob", "MarketExtraJob", "MarketIdJob", "PartialIlidsJob",
    "PartialReidJob", "PersonIdentity", "Placement", "Pose", "Raster", "Skeleton", "SyntheticConfig",
    "apply_camera", "box_rng", "build_context", "cameras", "contact_sheet", "dataset_dir", "default_cache_dir", "draw_face",
    "draw_occluder", "draw_person", "ensure_synthetic", "face_pools", "generate", "identity_pools", "image_rng",
    "is_complete", "lfw_image_counts", "lfw_pairs", "load_meta", "make_jobs", "mix_identities", "person_names",
    "person_pools", "render_background", "render_detection", "render_face", "render_person", "run_job",
    "sample_camera", "sample_detection_box",
    "sample_face_identity", "sample_identity", "sample_pose", "skeleton",
]

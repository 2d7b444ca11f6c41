"""Face detection and alignment (§5.1), run once over a dataset before training or testing.

The paper follows SphereFace: "MTCNN [61] to perform similarity transformation", images resized
to 224x224. Here:

* **Detector**: MTCNN from ``facenet-pytorch`` (its P/R/O-Net weights ship inside the wheel, so
  nothing is downloaded at run time). Its metadata pins an old torch, so it is installed with
  ``pip install --no-deps facenet-pytorch==2.6.0``; it runs on the kit's torch. Imported lazily:
  only :func:`load_detector` needs it.
* **Which face**: the largest box (by area) among MTCNN's detections. Images whose shorter side
  is below ``detect_min_side`` are upscaled by an integer factor (bicubic) for *detection only*
  (MTCNN misses small faces; the kit's 64x64 synthetic faces are found more often at 3x); boxes
  and landmarks are mapped back to the original pixels.
* **Alignment**: the least-squares similarity (rotation, uniform scale, translation; no
  reflection; Umeyama 1991) taking MTCNN's five landmarks (eyes, nose, mouth corners) onto the
  standard 5-point template of ArcFace's 112x112 crops, scaled to ``size``; ``margin`` widens the
  crop by that fraction of the face template's side on every side (0: the standard tight crop).
  The original image is warped once (bicubic; black outside it).
* **No face found**: the centre square of the image, resized to ``size``, recorded as
  ``"fallback": "center"`` (so the image is kept and counted, never silently dropped).

:func:`align_tree` walks a dataset in LFW (``<Name>/<Name>_0001.jpg``) or CASIA-WebFace
(``<7-digit id>/001.jpg``) layout with the kit's readers, writes the same layout under a new
root (each file to a temporary name, then renamed), logs one record per image to
``align_manifest.jsonl`` as it goes (so an interrupted run resumes where it stopped, skipping
images already written), and ends with ``align_manifest.json``: the configuration, the counts
and every image's record. One run at a time per output root.

**Where aligned faces live**: ``DATA/aligned/<the download's folder name>``, which every face
reader given ``DATA`` reads instead of the raw download (:mod:`ppcl.data.aligned`). :func:`align_tree`
reads its source raw, never through that rule.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from .aligned import MANIFEST, PROGRESS_LOG
from .casia_webface import FOLDER as CASIA_FOLDER
from .casia_webface import ID_RE, load_casia_webface
from .common import DatasetError, FaceData, read_image, require_dir
from .lfw import FOLDERS as LFW_FOLDERS
from .lfw import load_lfw

FACENET_REQUIREMENT = "facenet-pytorch==2.6.0"
INSTALL_COMMAND = f"pip install --no-deps {FACENET_REQUIREMENT}"
LAYOUTS = ("auto", "lfw", "casia_webface")

# ArcFace's 5-point template in a 112x112 crop: left eye, right eye, nose tip, left and right
# mouth corners (x, y) in pixels, the order MTCNN gives its landmarks in.
TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)


@dataclass(frozen=True)
class AlignConfig:
    size: int = 224  # output side (paper: 224x224)
    margin: float = 0.0  # extra context around the face template, a fraction of its side per side
    detect_min_side: int = 160  # upscale images with a shorter side below this before detecting
    min_face_size: int = 20  # MTCNN's smallest face (pixels, in the image it detects on)
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)  # MTCNN's P/R/O-Net thresholds
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or self.size < 8:
            raise ValueError(f"size must be an integer side of at least 8 pixels; got {self.size!r}")
        if not 0.0 <= self.margin <= 2.0:
            raise ValueError(f"margin must be a fraction in [0, 2] of the face template's side; got {self.margin!r}")
        if self.detect_min_side < 1 or self.min_face_size < 1:
            raise ValueError(
                f"detect_min_side and min_face_size must be positive; got {self.detect_min_side} and {self.min_face_size}"
            )


# ---------------------------------------------------------------------------------- geometry


def template(size: int, margin: float = 0.0) -> np.ndarray:
    """``(5, 2)`` landmark positions in a ``size x size`` output: ArcFace's 112 template, shrunk
    towards the centre by ``1 / (1 + 2 margin)`` when a margin is asked for."""
    unit = TEMPLATE_112 / 112.0
    return (unit + margin) / (1.0 + 2.0 * margin) * size


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The least-squares similarity ``M`` ``(2, 3)`` with ``dst ~ src @ M[:, :2].T + M[:, 2]``
    for points ``(n, 2)``: rotation, uniform scale and translation, never a reflection
    (Umeyama 1991)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    if src.ndim != 2 or src.shape[1] != 2 or src.shape != dst.shape or len(src) < 2:
        raise ValueError(f"src and dst must be matching (n >= 2, 2) point arrays; got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    var_s = (s0**2).sum() / len(src)
    if var_s <= 1e-12:
        raise ValueError("src points must not all coincide (a similarity needs a spread)")
    u, sig, vt = np.linalg.svd(d0.T @ s0 / len(src))
    d = np.diag([1.0, 1.0 if np.linalg.det(u) * np.linalg.det(vt) >= 0 else -1.0])
    rot = u @ d @ vt
    scale = float(np.trace(np.diag(sig) @ d) / var_s)
    return np.hstack([scale * rot, (mu_d - scale * rot @ mu_s)[:, None]])


def warp(image: Image.Image, out_to_in: np.ndarray, size: int) -> Image.Image:
    """The ``size x size`` image whose pixel ``(x, y)`` is ``image`` at ``out_to_in @ (x, y, 1)``."""
    return image.transform(
        (size, size), Image.Transform.AFFINE, data=tuple(np.asarray(out_to_in, np.float64).ravel()),
        resample=Image.Resampling.BICUBIC,
    )


def center_crop(image: Image.Image, size: int) -> Image.Image:
    """The centre square of ``image`` (side = its shorter side) resized to ``size x size``."""
    w, h = image.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return image.crop((left, top, left + s, top + s)).resize((size, size), Image.Resampling.BICUBIC)


# ---------------------------------------------------------------------------------- detection


def load_detector(cfg: AlignConfig = AlignConfig(), device: str = "cpu") -> Any:
    """facenet-pytorch's MTCNN (weights from its wheel), set up for :func:`detect_largest`."""
    try:
        from facenet_pytorch import MTCNN
    except ImportError as e:
        raise ImportError(
            f"face alignment needs the package facenet-pytorch (its MTCNN detector, weights inside the wheel), "
            f"which is not importable ({e}). Install it with: {INSTALL_COMMAND}  "
            "(--no-deps: its metadata pins an old torch, but it runs on the kit's)"
        ) from e
    return MTCNN(keep_all=True, min_face_size=cfg.min_face_size, thresholds=list(cfg.thresholds), device=device)


def upscale_factor(width: int, height: int, detect_min_side: int) -> int:
    """The integer factor that brings the shorter side to at least ``detect_min_side`` (1 if it is)."""
    return max(1, math.ceil(detect_min_side / max(1, min(width, height))))


def detect_largest(detector: Any, image: Image.Image, detect_min_side: int = 160) -> dict | None:
    """The largest face MTCNN finds in ``image``, in its pixels: ``{"box": [x1, y1, x2, y2],
    "landmarks": (5, 2) array, "score", "faces": how many were found, "upscale"}``; None if none."""
    k = upscale_factor(*image.size, detect_min_side)
    probe = image if k == 1 else image.resize((image.width * k, image.height * k), Image.Resampling.BICUBIC)
    boxes, scores, landmarks = detector.detect(probe, landmarks=True)
    if boxes is None or len(boxes) == 0:
        return None
    boxes, landmarks = np.asarray(boxes, np.float64) / k, np.asarray(landmarks, np.float64) / k
    i = int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))
    return {"box": boxes[i], "landmarks": landmarks[i], "score": float(scores[i]), "faces": len(boxes), "upscale": k}


def align_face(image: Image.Image, detector: Any, cfg: AlignConfig = AlignConfig()) -> tuple[Image.Image, dict]:
    """One image -> (the aligned ``size x size`` face, its record for the manifest).

    The record holds the detection (``box``, ``landmarks``, ``score``, ``faces``, ``upscale``) and
    ``transform``, the ``(2, 3)`` map from output pixels to source pixels; or, when no face is
    found, ``"fallback": "center"`` and the centre crop is returned.
    """
    image = image.convert("RGB")
    det = detect_largest(detector, image, cfg.detect_min_side)
    if det is None:
        k = upscale_factor(*image.size, cfg.detect_min_side)
        return center_crop(image, cfg.size), {"fallback": "center", "faces": 0, "upscale": k}
    m = similarity_transform(template(cfg.size, cfg.margin), det["landmarks"])  # output -> source
    record = {
        "box": [round(float(v), 2) for v in det["box"]],
        "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in det["landmarks"]],
        "score": round(det["score"], 6),
        "faces": det["faces"],
        "upscale": det["upscale"],
        "transform": [[round(float(v), 6) for v in row] for row in m],
    }
    return warp(image, m, cfg.size), record


# ---------------------------------------------------------------------------------- datasets


def load_face_dataset(src_root: str | Path, layout: str = "auto") -> FaceData:
    """A face dataset in LFW or CASIA-WebFace layout, read by the kit's reader. ``auto`` picks
    CASIA-WebFace when ``src_root`` holds 7-digit id folders or ``CASIA-WebFace/``, else LFW, and
    refuses a folder holding both ``CASIA-WebFace/`` and an LFW folder. The raw tree is read: an
    ``aligned/`` inside ``src_root`` is not looked at (see :mod:`ppcl.data.aligned`)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}")
    src = require_dir(Path(src_root).expanduser(), "a face dataset folder in LFW or CASIA-WebFace layout")
    if layout == "auto":
        dirs = [e.name for e in os.scandir(src) if e.is_dir()]
        casia = CASIA_FOLDER in dirs or any(ID_RE.fullmatch(d) for d in dirs)
        lfw = src.name in LFW_FOLDERS or any(d in LFW_FOLDERS for d in dirs)
        if casia and lfw:
            raise DatasetError(
                src, "one face dataset (or layout='lfw' / 'casia_webface' to choose)",
                f"both {CASIA_FOLDER}/ and an LFW folder ({', '.join(d for d in dirs if d in LFW_FOLDERS) or src.name})",
            )
        layout = "casia_webface" if casia else "lfw"
    return load_casia_webface(src, aligned=False) if layout == "casia_webface" else load_lfw(src, aligned=False)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _save_image(image: Image.Image, path: Path, quality: int) -> None:
    """Write ``image`` to a temporary name beside ``path``, then rename it (never a half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix.lower() in (".jpg", ".jpeg"):
        image.save(tmp, format="JPEG", quality=quality)
    else:
        image.save(tmp, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))
    os.replace(tmp, path)


def _read_log(path: Path) -> tuple[dict | None, dict[str, dict]]:
    """The header and the last record per source of a progress log; a line cut off by an
    interrupted run is dropped (and the log rewritten without it)."""
    if not path.exists():
        return None, {}
    lines = path.read_text().splitlines(keepends=True)
    good: list[str] = []
    for i, line in enumerate(lines):
        try:
            json.loads(line)
            if not line.endswith("\n"):
                raise ValueError("unterminated line")
            good.append(line)
        except ValueError:
            if i != len(lines) - 1:
                raise DatasetError(path, "a progress log of one JSON object a line", f"a bad line {i + 1}") from None
    if len(good) != len(lines):
        _atomic_write_bytes(path, "".join(good).encode())
    if not good:
        return None, {}
    header = json.loads(good[0])
    records: dict[str, dict] = {}
    for line in good[1:]:
        rec = json.loads(line)
        records[rec["source"]] = rec
    return header, records


def align_tree(
    src_root: str | Path,
    dst_root: str | Path,
    cfg: AlignConfig = AlignConfig(),
    layout: str = "auto",
    detector: Any = None,
    device: str = "cpu",
    progress: bool = False,
    load: Callable[[AlignConfig, str], Any] = load_detector,
) -> dict:
    """Align every image of the dataset at ``src_root`` into the same layout under ``dst_root``.

    Resumable: images whose output and record both exist are skipped, so a rerun of a finished
    run writes nothing. The detector is loaded (``load(cfg, device)``) only if there is work.
    Returns ``{"images", "written", "skipped", "detected", "fallback_center", "manifest", "layout"}``
    (``layout``: the reader's name, ``"lfw"`` or ``"casia_webface"``).
    """
    src = Path(src_root).expanduser()
    dst = Path(dst_root).expanduser()
    if dst.resolve() == src.resolve() or src.resolve() in dst.resolve().parents:
        raise ValueError(f"dst_root must lie outside src_root; got {dst} inside {src}")
    data = load_face_dataset(src, layout)
    made = [p / MANIFEST for p in dict.fromkeys((src, Path(data.root), Path(data.root).parent)) if (p / MANIFEST).is_file()]
    if made:
        raise DatasetError(made[0].parent, "a raw face download to align",
                           f"an aligned tree ({made[0].name}): give the raw download")
    dst.mkdir(parents=True, exist_ok=True)
    log_path = dst / PROGRESS_LOG
    header = {"config": json.loads(json.dumps(asdict(cfg))), "layout": data.name}
    old_header, records = _read_log(log_path)
    if old_header is not None and old_header != header:
        raise ValueError(
            f"{dst} holds a run with {old_header} but this run asks for {header}; use another dst_root "
            "or the same settings"
        )
    rels = [os.path.relpath(r.path, src) for r in data.records]
    todo = [rel for rel in rels if not (rel in records and (dst / rel).is_file())]
    if todo:
        detector = detector if detector is not None else load(cfg, device)
        if old_header is None:
            _atomic_write_bytes(log_path, (json.dumps(header) + "\n").encode())
        with log_path.open("a") as log:
            for rel in tqdm(todo, desc="align", disable=not progress):
                aligned, rec = align_face(read_image(src / rel), detector, cfg)
                _save_image(aligned, dst / rel, cfg.jpeg_quality)
                rec = {"source": rel, **rec}
                log.write(json.dumps(rec) + "\n")
                log.flush()
                records[rel] = rec
    pairs = data.info.get("pairs_path")  # LFW's pairs.txt: to the same place, or into the images' folder
    if pairs:
        rel = os.path.relpath(pairs, src)
        if rel.startswith(".."):  # beside src_root: the reader also looks inside the image folder
            rel = os.path.join(os.path.relpath(data.info["folder"], src), Path(pairs).name)
        if not (dst / rel).exists():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            _atomic_write_bytes(dst / rel, Path(pairs).read_bytes())
    entries = [records[rel] for rel in rels]
    fallback = sum(1 for e in entries if e.get("fallback") == "center")
    counts = {"images": len(entries), "detected": len(entries) - fallback, "fallback_center": fallback}
    top = {**header, "detector": f"MTCNN ({FACENET_REQUIREMENT})", "source_root": str(src.resolve()), "counts": counts}
    lines = [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in top.items()]  # one image a line: greppable
    text = "\n".join(["{", *lines, ' "images": [', ",\n".join(json.dumps(e) for e in entries), "]}", ""]).encode()
    man_path = dst / MANIFEST
    if not man_path.is_file() or man_path.read_bytes() != text:
        _atomic_write_bytes(man_path, text)
    return {**counts, "written": len(todo), "skipped": len(rels) - len(todo), "manifest": str(man_path), "layout": data.name}

"""Detect and align the faces of an LFW or CASIA-WebFace download (MTCNN + similarity transform).

    python data_prep/align_faces.py SRC_ROOT DST_ROOT [--size 224] [--margin 0.0]
    python data_prep/align_faces.py DATA/CASIA-WebFace DATA/aligned/CASIA-WebFace
    python data_prep/align_faces.py DATA/lfw DATA/aligned/lfw

Writes the same layout under DST_ROOT (LFW's pairs.txt copied along), each image a --size
square; DST_ROOT/align_manifest.json records every image's box, landmarks and score, or
"fallback": "center" when no face was found (a centre crop is written then). Interrupted runs
resume: rerun the same command. Needs facenet-pytorch (pip install --no-deps
facenet-pytorch==2.6.0). Exit 2 with the offending path on a bad layout or a missing SRC_ROOT.
See ppcl/data/align.py for the method.

Where the output goes: DATA/aligned/<the download's folder name>. Every face reader given DATA
reads its set from DATA/aligned/ when that folder exists (and refuses an aligned tree that
lacks the set or differs from the raw download; ppcl/data/aligned.py). With DST_ROOT in DATA/aligned/ the script
ends by reading DATA as a run would and checks that it reads the faces just written (exit 2
naming the folders if not); with a DST_ROOT elsewhere it says that no data root will read it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import ppcl  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ppcl.data.align import LAYOUTS, AlignConfig, align_tree  # noqa: E402
from ppcl.data.aligned import ALIGNED_DIR  # noqa: E402
from ppcl.data.common import DatasetError  # noqa: E402
from ppcl.data.readers import load  # noqa: E402


def check_readable(dst: Path, layout: str) -> str:
    """Read the data root above ``dst`` (``DATA`` for ``DATA/aligned/<name>``) as a run reads it
    and check that the face set comes from ``dst``: the line to print, or a :class:`DatasetError`."""
    dst = dst.expanduser().resolve()
    if dst.parent.name != ALIGNED_DIR:
        return (f"note: {dst} is not in a folder named {ALIGNED_DIR}/, so no data root reads it; the readers read "
                f"DATA/{ALIGNED_DIR}/<name> (e.g. DATA/{ALIGNED_DIR}/CASIA-WebFace)")
    root = dst.parent.parent
    data = load(layout, root)
    folder = Path(data.root).resolve()
    if folder != dst and dst not in folder.parents:
        raise DatasetError(root, f"a data root whose {layout} is read from {dst}", f"it is read from {folder}")
    return f"--data-root {root} reads these faces ({len(data.records)} images in {folder})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src_root", help="LFW folder (or its parent) or CASIA-WebFace folder (or its parent)")
    ap.add_argument("dst_root", help="output root: the same layout, aligned")
    ap.add_argument("--size", type=int, default=224, help="output side in pixels (paper: 224)")
    ap.add_argument("--margin", type=float, default=0.0,
                    help="extra context per side, a fraction of the face template's side (0: ArcFace's tight crop)")
    ap.add_argument("--detect-min-side", type=int, default=160,
                    help="upscale smaller images by an integer factor before detecting")
    ap.add_argument("--layout", choices=LAYOUTS, default="auto")
    ap.add_argument("--device", default="cpu", help="torch device for MTCNN (cpu, cuda)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    try:
        cfg = AlignConfig(size=args.size, margin=args.margin, detect_min_side=args.detect_min_side)
        s = align_tree(args.src_root, args.dst_root, cfg, layout=args.layout, device=args.device, progress=not args.quiet)
        print(f"aligned {s['images']} images ({s['written']} written, {s['skipped']} already there): "
              f"{s['detected']} faces detected, {s['fallback_center']} centre crops -> {s['manifest']}")
        print(check_readable(Path(args.dst_root), s["layout"]))
    except (DatasetError, ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

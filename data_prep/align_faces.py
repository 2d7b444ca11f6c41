"""Detect and align the faces of an LFW or CASIA-WebFace download (MTCNN + similarity transform).

    python data_prep/align_faces.py SRC_ROOT DST_ROOT [--size 224] [--margin 0.0]

Writes the same layout under DST_ROOT (LFW's pairs.txt copied along), each image a --size
square; DST_ROOT/align_manifest.json records every image's box, landmarks and score, or
"fallback": "center" when no face was found (a centre crop is written then). Interrupted runs
resume: rerun the same command. Needs facenet-pytorch (pip install --no-deps
facenet-pytorch==2.6.0). Exit 2 with the offending path on a bad layout or a missing SRC_ROOT.
See ppcl/data/align.py for the method.
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
from ppcl.data.common import DatasetError  # noqa: E402


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
    except (DatasetError, ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"aligned {s['images']} images ({s['written']} written, {s['skipped']} already there): "
          f"{s['detected']} faces detected, {s['fallback_center']} centre crops -> {s['manifest']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build the Partial-LFW protocol from an LFW download.

    python data_prep/partial_lfw.py LFW_ROOT OUT.json [--ids 1000] [--area 0.3 0.8] [--seed 0]

Writes a JSON manifest (gallery: one holistic image per identity; query: every other image
with the crop t that makes it partial), with its seed and area range. Exit 2 with the
offending path on a bad layout.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import ppcl  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ppcl.data.common import DatasetError
from ppcl.data.lfw import load_lfw
from ppcl.data.partial_lfw import build_partial_lfw, write_manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", help="LFW folder (lfw/, lfw_funneled/, lfw-deepfunneled/) or its parent")
    ap.add_argument("out", help="manifest path (.json)")
    ap.add_argument("--ids", type=int, default=1000, help="identities with the most images (paper: 1000)")
    ap.add_argument("--area", type=float, nargs=2, default=(0.3, 0.8), metavar=("LO", "HI"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        m = build_partial_lfw(load_lfw(args.root), args.ids, tuple(args.area), seed=args.seed, setting="--ids")
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    path = write_manifest(m, args.out)
    print(f"Partial-LFW: {len(m['gallery'])} gallery ids, {len(m['query'])} partial queries, "
          f"area {args.area[0]}-{args.area[1]}, seed {args.seed} -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

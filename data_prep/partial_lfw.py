"""Build the Partial-LFW protocol from an LFW download, as the file notebook 05 reads.

    python data_prep/partial_lfw.py DATA DATA/partial_lfw.json [--ids 1000] [--area 0.3 0.8] [--sides ...] [--seed 1000]

Writes a JSON manifest (gallery: one holistic image per identity; query: every other image
with the crop t that makes it partial), with its settings and seed. LFW is read as every run
reads it: from DATA/aligned/ when DATA holds it (ppcl/data/aligned.py). The defaults are the paper
profile's (faces.partial_lfw: n_ids, area, sides; seed = the profile's seed + seed_offset);
``--ids 0`` takes every identity with two or more images. Written to DATA/partial_lfw.json, the
file IS the test set of a run with ``--data-root DATA``, which first checks it was built with
the run's settings and refuses it otherwise, naming the setting. Exit 2 with the offending path
on a bad layout or a dataset too small for --ids.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import ppcl  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ppcl.data.common import DatasetError  # noqa: E402
from ppcl.data.lfw import load_lfw  # noqa: E402
from ppcl.data.partial import SIDES  # noqa: E402
from ppcl.data.partial_lfw import PROTOCOL_FILE, build_partial_lfw, write_manifest  # noqa: E402


def paper_defaults() -> dict:
    """The paper profile's Partial-LFW settings: what a run with ``--profile paper`` checks the file against."""
    from ppcl.pipeline.profiles import load_profile

    p = load_profile("paper")
    c = p.faces.partial_lfw
    return {"ids": c.n_ids, "area": list(c.area), "sides": list(c.sides), "seed": p.seed + c.seed_offset}


def main(argv: list[str] | None = None) -> int:
    d = paper_defaults()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", help="the data root (or the LFW folder lfw/, lfw_funneled/, lfw-deepfunneled/, or its parent)")
    ap.add_argument("out", help=f"manifest path (.json); notebook 05 reads DATA/{PROTOCOL_FILE}")
    ap.add_argument("--ids", type=int, default=d["ids"],
                    help=f"identities with the most images (paper: 1000; 0: all with two or more); default {d['ids']}")
    ap.add_argument("--area", type=float, nargs=2, default=d["area"], metavar=("LO", "HI"))
    ap.add_argument("--sides", nargs="+", choices=SIDES, default=d["sides"])
    ap.add_argument("--seed", type=int, default=d["seed"],
                    help=f"the crops' seed: the profile's seed + faces.partial_lfw.seed_offset (default {d['seed']})")
    args = ap.parse_args(argv)
    if args.ids < 0:
        ap.error(f"--ids: expected 0 (every identity with two or more images) or more; found {args.ids}")
    try:
        lfw = load_lfw(args.root)
        m = build_partial_lfw(lfw, args.ids, tuple(args.area), tuple(args.sides), seed=args.seed, setting="--ids")
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    path = write_manifest(m, args.out)
    print(f"Partial-LFW from {lfw.root}: {len(m['gallery'])} gallery ids, {len(m['query'])} partial queries, "
          f"area {args.area[0]}-{args.area[1]}, seed {args.seed} -> {path}")
    if Path(args.out).name != PROTOCOL_FILE:
        print(f"note: a run reads the protocol from <data root>/{PROTOCOL_FILE}; {args.out} is not that file",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

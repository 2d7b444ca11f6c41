"""``python -m ppcl.evaluate``: score your own model's features on the kit's protocols.

::

    python -m ppcl.evaluate partial --dataset partial_reid --root DATA/Partial-REID_Dataset \\
        --features s0.npz s1.npz [--versus b0.npz b1.npz] [--json out.json]
    python -m ppcl.evaluate market1501 --root DATA/Market-1501-v15.09.15 --features s0.npz [...]

``partial`` scores Partial-REID or Partial-iLIDS in both directions with no camera filtering;
``market1501`` scores query -> gallery with Market-1501's camera rule. The feature files are
described in :mod:`ppcl.evaluate.features` and ``docs/evaluate-your-model.md``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..data.common import DatasetError
from .features import PARTIAL_SETS, check_covers, evaluate_protocol, load_protocol, read_feature_files, \
    report_markdown, write_result


def _level(text: str) -> float:
    v = float(text)
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"expected a confidence level in (0, 1); found {text}")
    return v


def _count(text: str) -> int:
    v = int(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a count >= 0; found {text}")
    return v


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The command's parser and its subcommands' parsers (by name)."""
    ap = argparse.ArgumentParser(prog="python -m ppcl.evaluate",
                                 description="Score feature files (one .npz per seed) on the kit's re-ID protocols.")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="{partial,market1501}")
    p = sub.add_parser("partial", help="Partial-REID or Partial-iLIDS, both directions, no camera filtering",
                       description="Partial as query (Table 2) and partial as gallery (Table 3); no camera ids.")
    p.add_argument("--dataset", required=True, metavar="{partial_reid,partial_ilids}",
                   help="which partial set (market1501 has its own subcommand)")
    m = sub.add_parser("market1501", help="Market-1501 query -> gallery with its camera rule",
                       description="query/ against bounding_box_test/, same-camera matches and junk removed.")
    for s in (p, m):
        s.add_argument("--root", required=True, type=Path, help="the dataset folder as distributed, or a parent")
        s.add_argument("--features", required=True, nargs="+", type=Path, metavar="FILE",
                       help="feature files of your model, one per seed")
        s.add_argument("--versus", nargs="+", type=Path, metavar="FILE",
                       help="feature files of a second model, one per seed: the rank-1 difference and its interval")
        s.add_argument("--label", default="features", help="name of the --features model in the tables")
        s.add_argument("--versus-label", default="versus", help="name of the --versus model in the tables")
        s.add_argument("--json", type=Path, metavar="OUT", help="also write every number to OUT (JSON)")
        s.add_argument("--n-boot", type=_count, default=5000,
                       help="bootstrap replicates of the queries-only interval shown beside the main one (0: none)")
        s.add_argument("--boot-seed", type=int, default=0, help="seed of that bootstrap")
        s.add_argument("--level", type=_level, default=0.95, help="confidence level of the interval")
        s.add_argument("--no-progress", action="store_true", help="no progress bar")
    return ap, {"partial": p, "market1501": m}


def main(argv: list[str] | None = None) -> int:
    ap, subs = build_parser()
    args = ap.parse_args(argv)
    sp = subs[args.cmd]  # errors print the subcommand's own usage
    dataset = "market1501" if args.cmd == "market1501" else args.dataset
    if args.cmd == "partial" and dataset not in PARTIAL_SETS:
        hint = ("; market1501 has cameras and one direction: score it with `python -m ppcl.evaluate market1501`"
                if dataset == "market1501" else "")
        sp.error(f"argument --dataset: expected one of {', '.join(PARTIAL_SETS)}; found {dataset!r}{hint}")
    if args.versus and args.label == args.versus_label:
        sp.error(f"argument --versus-label: expected a name other than --label's; found {args.label!r} for both")
    try:
        proto = load_protocol(dataset, args.root)
    except (DatasetError, ValueError) as e:
        sp.error(f"argument --root: {e}")
    models = {}
    for flag, paths in (("--features", args.features), ("--versus", args.versus or [])):
        try:
            models[flag] = read_feature_files(paths, f"argument {flag}") if paths else []
            for ff in models[flag]:
                check_covers(proto, ff)
        except (OSError, ValueError) as e:
            msg = str(e)
            sp.error(msg if msg.startswith("argument") else f"argument {flag}: {msg}")
    try:
        result = evaluate_protocol(proto, models["--features"], models["--versus"] or None,
                                   labels=(args.label, args.versus_label), n_boot=args.n_boot, seed=args.boot_seed,
                                   level=args.level, progress=not args.no_progress)
    except ValueError as e:
        sp.error(str(e))
    print(report_markdown(result))
    if args.json:
        print(f"wrote {write_result(args.json, result)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

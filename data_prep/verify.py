"""Check a downloaded dataset: load it with the kit's reader and print its counts beside the
published ones.

    python data_prep/verify.py market1501 /data/Market-1501-v15.09.15
    python data_prep/verify.py lfw /data --json --check-images

Exit status 0 when the dataset loads (counts that differ from the published ones are
reported, not fatal: a cleaned copy or a subset is allowed); 2 when the layout is wrong, with
the reader's error, which names the path, on stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

try:
    import ppcl  # noqa: F401
except ImportError:  # run as a script from a checkout: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ppcl.data.common import DatasetError, FaceData, ReIDData, check_images  # noqa: E402
from ppcl.data.readers import PUBLISHED_COUNTS, READERS, load, observed_counts  # noqa: E402


def _records(data: ReIDData | FaceData) -> list:
    if isinstance(data, FaceData):
        return data.records
    return [*data.train, *data.query, *data.gallery]


def _scalar_info(info: dict) -> dict:
    """The info entries small enough to print (drops e.g. the 751-entry train pid map)."""
    return {k: v for k, v in info.items() if isinstance(v, (str, int, float, bool)) or v is None}


def report(name: str, data: ReIDData | FaceData, checked: int | None) -> dict:
    counts = observed_counts(data)
    out: dict = {"dataset": name, "root": str(data.root), **counts, "published": PUBLISHED_COUNTS[name]}
    if isinstance(data, ReIDData):
        out["has_cameras"] = data.has_cameras
    out["images_checked"] = checked
    out["info"] = _scalar_info(data.info)
    return out


def format_table(rep: dict) -> str:
    published = rep["published"]
    keys = [k for k in rep if isinstance(rep[k], int) and not isinstance(rep[k], bool) and k != "images_checked"]
    keys += [k for k in published if k not in keys]
    rows = [("count", "found", "published", "")]
    for k in keys:
        found, pub = rep.get(k), published.get(k)
        mark = "" if pub is None or found is None else ("ok" if found == pub else "DIFFERS")
        rows.append((k, "-" if found is None else f"{found:,}", "-" if pub is None else f"{pub:,}", mark))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"{rep['dataset']} at {rep['root']}"]
    for r in rows:
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
    if rep["images_checked"] is not None:
        lines.append(f"opened {rep['images_checked']:,} images: all readable")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=sorted(READERS))
    parser.add_argument("root", type=Path)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--check-images", action="store_true", help="open every image (slow on big sets)")
    args = parser.parse_args(argv)
    try:
        data = load(args.dataset, args.root)
        checked = check_images(_records(data)) if args.check_images else None
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rep = report(args.dataset, data, checked)
    print(json.dumps(rep, indent=2) if args.json else format_table(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())

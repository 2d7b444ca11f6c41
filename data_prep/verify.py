"""Check a downloaded dataset: load it with the kit's reader, print its counts beside the
published ones, and decode every image the kit will read.

    python data_prep/verify.py market1501 /data/Market-1501-v15.09.15
    python data_prep/verify.py lfw /data --json
    python data_prep/verify.py casia_webface /data/CASIA-WebFace --quick   # counts only, no decoding
    python data_prep/verify.py casia_webface /data   # /data/aligned/CASIA-WebFace, checked against the raw one

A face dataset is read as every run reads it: given a folder that holds ``aligned/``
(``data_prep/align_faces.py``'s output), from there, after checking it against the raw download
beside it (see ppcl/data/aligned.py); the report then says so (``info.aligned_from``).

Every image of the loaded dataset is decoded in full, in parallel (``--workers`` threads), with a
progress bar on stderr: a truncated or corrupt file fails the check, and every such file is
listed with its reason (on stderr, and under ``unreadable`` in the JSON). ``--quick`` skips the
decoding (``images_checked`` and ``unreadable`` are then null).

Exit status 0 when the dataset loads and every image decodes (counts that differ from the
published ones are reported, not fatal: a cleaned copy or a subset is allowed); 2 when the
layout is wrong (the reader's error, which names the path, on stderr; nothing on stdout) or when
any image does not decode (the report on stdout, the unreadable files on stderr).
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

from ppcl.data.common import DatasetError, FaceData, ReIDData, unreadable_images  # noqa: E402
from ppcl.data.readers import PUBLISHED_COUNTS, READERS, load, observed_counts  # noqa: E402


def _records(data: ReIDData | FaceData) -> list:
    if isinstance(data, FaceData):
        return data.records
    return [*data.train, *data.query, *data.gallery]


def _scalar_info(info: dict) -> dict:
    """The info entries small enough to print (drops e.g. the 751-entry train pid map)."""
    return {k: v for k, v in info.items() if isinstance(v, (str, int, float, bool)) or v is None}


def report(name: str, data: ReIDData | FaceData, unreadable: list[tuple[str, str]] | None) -> dict:
    """The JSON report: counts, published counts, and (unless ``--quick``) the decoding result."""
    counts = observed_counts(data)
    out: dict = {"dataset": name, "root": str(data.root), **counts, "published": PUBLISHED_COUNTS[name]}
    if isinstance(data, ReIDData):
        out["has_cameras"] = data.has_cameras
    out["images_checked"] = None if unreadable is None else len(_records(data))
    out["unreadable"] = None if unreadable is None else [{"path": p, "reason": r} for p, r in unreadable]
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
    if rep["info"].get("aligned_root"):
        raw = rep["info"].get("aligned_from")
        same = f"the same identities and images as the raw download {raw}" if raw else "no raw download beside them to compare"
        lines.append(f"(the aligned faces; {same})")
    for r in rows:
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
    if rep["images_checked"] is None:
        lines.append("images not decoded (--quick)")
    elif not rep["unreadable"]:
        lines.append(f"decoded {rep['images_checked']:,} images: all readable")
    else:
        lines.append(f"decoded {rep['images_checked']:,} images: {len(rep['unreadable']):,} UNREADABLE")
        lines += [f"  {u['path']}: {u['reason']}" for u in rep["unreadable"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=sorted(READERS))
    parser.add_argument("root", type=Path)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--quick", action="store_true", help="counts only: do not decode the images")
    parser.add_argument("--workers", type=int, default=None, help="decoding threads (default: twice the cores, at most 32)")
    parser.add_argument("--check-images", action="store_true", help=argparse.SUPPRESS)  # the old flag: decoding is the default now
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers: expected 1 or more threads; found {args.workers}")
    try:
        data = load(args.dataset, args.root)
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    paths = [r.path for r in _records(data)]
    bad = None if args.quick else unreadable_images(paths, args.workers, progress=True)
    rep = report(args.dataset, data, bad)
    print(json.dumps(rep, indent=2) if args.json else format_table(rep))
    if bad:
        print(f"error: {len(bad)} of {len(paths)} images under {data.root} do not decode:", file=sys.stderr)
        for path, reason in bad:
            print(f"  {path}: {reason}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Market-1501 (Zheng et al., ICCV 2015), read exactly as the archive extracts.

Layout (``Market-1501-v15.09.15/``)::

    bounding_box_train/  12,936 images, 751 ids            -> train
    query/                3,368 images, 750 ids            -> query
    bounding_box_test/   19,732 files: 3,819 junk (pid -1) -> gallery (15,913 images,
                         dropped, 2,793 distractors (pid 0) kept      751 ids counting 0)
    gt_bbox/, gt_query/, readme.txt, Thumbs.db              -> ignored

File names are ``PPPP_cCsS_FFFFFF_NN.jpg``: person id (4 digits, or ``-1`` for junk),
camera ``C`` (1-6), sequence ``S``, frame, box index. Only the file *name* is parsed, never
the path, so digits in a parent folder cannot leak into ids or cameras.

``camid`` is the camera number exactly as written in the name (1..6); torchreid stores it
0-based, the kit does not. Train ids are relabelled 0..N-1 in sorted order of the original
id (``info["train_pid_map"]``: original -> label); query and gallery keep the original ids.
"""
from __future__ import annotations

import re
from pathlib import Path

from .common import (
    DatasetError,
    Record,
    ReIDData,
    list_images,
    require_nonempty,
    resolve_root,
)

FOLDER = "Market-1501-v15.09.15"
SPLITS = ("bounding_box_train", "query", "bounding_box_test")
# The extracted folder itself, fast-reid's <root>/Market-1501-v15.09.15, torchreid's
# <root>/market1501/Market-1501-v15.09.15 and its older <root>/market1501 with the splits inside.
CANDIDATES = ("", FOLDER, f"market1501/{FOLDER}", "market1501")
NAME_RE = re.compile(r"^(-1|\d{4})_c([1-6])s(\d+)_(\d{6})_(\d{2})\.jpg$")
JUNK_PID = -1
DISTRACTOR_PID = 0


def parse_name(path: Path) -> tuple[int, int]:
    """``(pid, camid)`` from a Market-1501 file name; raise naming the file if it does not parse."""
    m = NAME_RE.match(path.name)
    if m is None:
        raise DatasetError(
            path, "a Market-1501 file name PPPP_cCsS_FFFFFF_NN.jpg (PPPP = -1 or 4 digits, C = 1-6)",
            f"the name {path.name!r}",
        )
    return int(m.group(1)), int(m.group(2))


def _read_split(folder: Path) -> tuple[list[Record], int, int]:
    """Records of one split folder with junk dropped; also (files seen, junk dropped)."""
    files = list_images(folder)
    records, junk = [], 0
    for f in files:
        pid, cam = parse_name(f)
        if pid == JUNK_PID:
            junk += 1
            continue
        records.append(Record(str(f), pid, cam))
    return records, len(files), junk


def _refuse_distractors(records: list[Record], folder: Path) -> None:
    bad = [r.path for r in records if r.pid == DISTRACTOR_PID]
    if bad:
        raise DatasetError(
            bad[0], "distractors (pid 0000) only in bounding_box_test/", f"{len(bad)} in {folder.name}/"
        )


def load_market1501(root: str | Path) -> ReIDData:
    """Load Market-1501 from the extracted folder or a parent (see :data:`CANDIDATES`)."""
    folder, _ = resolve_root(root, CANDIDATES, [SPLITS], "Market-1501")
    train_dir, query_dir, test_dir = (folder / s for s in SPLITS)

    train_raw, _, junk_train = _read_split(train_dir)
    query, _, junk_query = _read_split(query_dir)
    gallery, test_files, junk_test = _read_split(test_dir)
    require_nonempty(train_raw, train_dir, "training images (PPPP_cCsS_FFFFFF_NN.jpg, pid != -1)")
    require_nonempty(query, query_dir, "query images (PPPP_cCsS_FFFFFF_NN.jpg, pid != -1)")
    require_nonempty(gallery, test_dir, "gallery images (PPPP_cCsS_FFFFFF_NN.jpg, pid != -1)")
    _refuse_distractors(train_raw, train_dir)
    _refuse_distractors(query, query_dir)

    pid_map = {pid: i for i, pid in enumerate(sorted({r.pid for r in train_raw}))}
    train = [Record(r.path, pid_map[r.pid], r.camid) for r in train_raw]
    info = {
        "folder": str(folder),
        "camid": "camera number as in the file name, 1..6",
        "train_pid_map": pid_map,
        "bounding_box_test_files": test_files,
        "junk": junk_test,
        "junk_dropped": {"train": junk_train, "query": junk_query, "gallery": junk_test},
        "distractors": sum(1 for r in gallery if r.pid == DISTRACTOR_PID),
    }
    return ReIDData("market1501", folder, train, query, gallery, has_cameras=True, info=info)

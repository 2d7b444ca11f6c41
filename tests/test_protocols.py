"""Partial-REID / Partial-iLIDS protocols: no camera filtering can ever remove a true match."""
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from ppcl.data.partial_ilids import load_partial_ilids
from ppcl.data.partial_reid import load_partial_reid
from ppcl.evaluate import rank
from ppcl.evaluate.protocols import evaluate_partial, partial_rank, require_no_cameras
from tests.fixtures import build_partial_ilids, build_partial_reid
from tests.test_ppcl import tiny_ppcl


def _perfect(data):
    q = np.array([r.pid for r in data.query])
    g = np.array([r.pid for r in data.gallery])
    return torch.from_numpy((q[:, None] != g[None, :]).astype(np.float32))


@pytest.mark.parametrize("build,load", [(build_partial_reid, load_partial_reid), (build_partial_ilids, load_partial_ilids)])
def test_a_perfect_distance_scores_100_in_both_directions(tmp_path, build, load):
    data = load(build(tmp_path).root)
    assert not data.has_cameras and all(r.camid is None for r in (*data.query, *data.gallery))
    d = _perfect(data)
    for direction in ("query", "gallery"):
        out = partial_rank(d, data.query, data.gallery, direction)
        assert out["rank1"] == 1.0 and out["mAP"] == 1.0
        n = len(data.query) if direction == "query" else len(data.gallery)
        assert out["num_valid_queries"] == out["num_queries"] == n


def test_the_peers_camera_bugs_would_lose_matches_and_are_refused(tmp_path):
    data = load_partial_reid(build_partial_reid(tmp_path).root)
    index = lambda r: int(re.match(r"\d+_(\d+)", Path(r.path).name).group(1))  # noqa: E731
    qp, gp = [r.pid for r in data.query], [r.pid for r in data.gallery]
    qc, gc = [index(r) for r in data.query], [index(r) for r in data.gallery]
    # Each partial image is nearest to the whole-body image with its own index.
    d = torch.full((len(qp), len(gp)), 0.25)  # other identities
    for i, (p, c) in enumerate(zip(qp, qc)):
        for j, (p2, c2) in enumerate(zip(gp, gc)):
            if p == p2:
                d[i, j] = 0.0 if c == c2 else 0.5
    ours = partial_rank(d, data.query, data.gallery, "query")
    assert ours["rank1"] == 1.0
    # fast-reid's reading (image index as camera) filters exactly those true matches away ...
    assert rank(d, qp, gp, qc, gc)["rank1"] == 0.0
    # ... and one shared camera for everything filters every true match away.
    with pytest.raises(ValueError, match="no query has a valid true match"):
        rank(d, qp, gp, [0] * len(qp), [0] * len(gp))
    # The kit's protocol refuses records that carry any camera id.
    tainted = dataclasses.replace(data, query=[dataclasses.replace(r, camid=c) for r, c in zip(data.query, qc)])
    with pytest.raises(ValueError, match="without a camera id"):
        require_no_cameras(tainted)
    with pytest.raises(ValueError, match="without a camera id"):
        evaluate_partial(tiny_ppcl(), tainted, methods=("resize",))


def test_evaluate_partial_runs_every_method_in_both_directions(tmp_path):
    data = load_partial_reid(build_partial_reid(tmp_path).root)
    out = evaluate_partial(tiny_ppcl(), data, fuse=0.5)
    assert set(out) == {"pad", "resize", "+R", "+R+box", "+R+L", "+R+L+G"}
    region, d0 = out["+R+L"]["distmat"], out["+R"]["distmat"]
    assert torch.allclose(out["+R+L+G"]["distmat"], region + 0.5 * d0)  # CRLoc's distances reused, + w * d0
    for m, res in out.items():
        assert res["distmat"].shape == (len(data.query), len(data.gallery))
        assert res["query"]["num_valid_queries"] == len(data.query)
        assert res["gallery"]["num_valid_queries"] == len(data.gallery)


def test_the_fused_method_needs_a_weight(tmp_path):
    data = load_partial_reid(build_partial_reid(tmp_path).root)
    with pytest.raises(ValueError, match="fusion weight"):
        evaluate_partial(tiny_ppcl(), data, methods=("+R+L+G",))

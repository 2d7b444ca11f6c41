"""The correspondence viewer's models and data, loaded by the pipeline (notebook 06, ``make viewer``).

:class:`ppcl.viz.viewer_data.ViewerData` is given its models and images; this module finds them:

* :func:`viewer_data` — a run's +R and PPCL models of one seed, from the model store (trained
  there by notebook 03; loaded, or trained now if missing), on one of the run's partial sets;
* :func:`viewer_data_from_folder` — the same from a finished run folder's ``checkpoints/``
  (``python -m ppcl.pipeline.reproduce ... --out FOLDER``), never training anything;
* :func:`viewer_data_from_images` — your own images: a folder of holistic images as the gallery,
  a partial query image (or a folder of them) and one trained PPCL checkpoint; no kit data, no
  identities, no training (notebook 06's ``gallery_folder``, ``query_image``, ``checkpoint``).

The encodings of the kit's sets are cached under the run folder's ``features/``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..data.bodies import load_bodies
from ..models import ppcl_from_checkpoint
from ..viz.viewer_data import FOLDER, MODELS, ViewerData, _check_dataset
from .run import Run, _default_out, setup
from .training import train_variant


def _build(run: Run, dataset: str, seed: int, models: dict, keys: dict, source: str) -> ViewerData:
    data = run.data(dataset)[dataset]
    return ViewerData.build(dataset, seed, models, keys, data.query, data.gallery,
                            cache=run.out / "features" / f"{dataset}-s{seed}.pt", topk=run.profile.ppcl.topk or None,
                            device=run.device, bodies=load_bodies(run.root), source=source)


def viewer_data(run: Run, dataset: str = "partial_reid", seed: int | None = None, progress: bool = False) -> ViewerData:
    """The +R and PPCL models of ``seed`` (default: the profile's seed) through
    :func:`ppcl.pipeline.training.train_variant` (loaded from the model store when they exist), the
    dataset through ``run.data``, the encodings cached under ``run.out / "features"``."""
    _check_dataset(dataset, folder=False)
    seed = run.profile.seed if seed is None else int(seed)
    memo = ("viewer_models", seed)  # both partial sets share the models: loaded once per run
    if memo not in run.memo:
        models, keys = {}, {}
        for m in MODELS:
            models[m], _ = train_variant(run, m, seed, progress=progress)
            keys[m] = _index_key(run.checkpoints / "models.json", f"{m}-s{seed}")
        run.memo[memo] = (models, keys)
    models, keys = run.memo[memo]
    return _build(run, dataset, seed, models, keys, source=f"model store {run.models}")


def viewer_data_from_folder(path: str | Path, dataset: str = "partial_reid", seed: int | None = None) -> ViewerData:
    """A finished run folder (``python -m ppcl.pipeline.reproduce ... --out PATH``): its ``run.json``
    names the profile, overrides, data root and cache; the +R and PPCL models of ``seed``
    (default: the profile's seed) are read from ``PATH/checkpoints/`` with
    :func:`ppcl.models.ppcl_from_checkpoint` (no pickle, never trained); the encodings are
    cached under ``PATH/features``."""
    _check_dataset(dataset, folder=False)
    path = Path(path).expanduser().resolve()
    state_path = path / "run.json"
    if not state_path.is_file():
        raise FileNotFoundError(f"{state_path}: expected a finished run folder's run.json "
                                "(written by `python -m ppcl.pipeline.reproduce --out FOLDER`); found no such file")
    try:
        params = json.loads(state_path.read_text())["parameters"]
        profile, overrides = params["profile"], params.get("overrides") or {}
        data_root, cache_dir = params.get("data_root", ""), params.get("cache_dir", "")
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{state_path}: expected JSON with \"parameters\": {{\"profile\", \"overrides\", \"data_root\", "
                         f"\"cache_dir\"}}; found an unreadable or incomplete file ({type(e).__name__}: {e})") from None
    run = setup(profile, overrides, data_root=data_root, cache_dir=cache_dir, out_dir=path, progress=False, style=False)
    seed = run.profile.seed if seed is None else int(seed)
    index = path / "checkpoints" / "models.json"
    models, keys = {}, {}
    for m in MODELS:
        name = f"{m}-s{seed}"
        keys[m] = _index_key(index, name)
        ckpt = path / "checkpoints" / f"{name}.pt"
        if not ckpt.is_file():
            raise FileNotFoundError(f"{ckpt}: expected the {m} model of seed {seed} in the run folder "
                                    "(notebook 03 writes it); found no such file")
        models[m] = ppcl_from_checkpoint(ckpt)
    return _build(run, dataset, seed, models, keys, source=f"run folder {path}")


def viewer_data_from_images(gallery_folder: str | Path, query_image: str | Path, checkpoint: str | Path,
                            device=None, topk: int | None = None) -> ViewerData:
    """Your own images in the viewer: the holistic images of ``gallery_folder`` (its image files,
    :func:`ppcl.evaluate.match.gallery_paths`) as the gallery, ``query_image`` (an image, or a
    folder of partial images) as the queries, the PPCL model of ``checkpoint`` (read with
    :func:`ppcl.models.ppcl_from_checkpoint`, never unpickled). Every image is checked first
    (an unreadable file or one without pixels is refused, naming it); images of another size than
    the model's input are resized, which ``notes`` says. No identities: the true-match marks are
    off. Nothing is cached or trained."""
    from ..data.common import Record
    from ..evaluate.match import gallery_paths, load_model, open_image, resized_note
    from ..train import default_device

    for value, what in ((gallery_folder, "gallery_folder"), (query_image, "query_image"), (checkpoint, "checkpoint")):
        if not str(value or "").strip():
            raise ValueError(f"{what}: expected a path (your own images need gallery_folder, query_image and "
                             f"checkpoint, or $PPCL_GALLERY_FOLDER, $PPCL_QUERY_IMAGE, $PPCL_CHECKPOINT); found none")
    model, ckpt = load_model(checkpoint)
    gallery = gallery_paths(gallery_folder)
    q = Path(query_image).expanduser()
    queries = gallery_paths(q, "query") if q.is_dir() else [q]
    sizes = {what: [(str(p), open_image(p, what)[0].size) for p in paths]
             for what, paths in (("query", queries), ("gallery", gallery))}
    notes = [n for what in ("query", "gallery") if (n := resized_note(what, sizes[what], model.input_size))]
    folder = Path(gallery_folder).expanduser().resolve()
    return ViewerData.build(FOLDER, 0, {"ppcl": model}, {"ppcl": ckpt}, [Record(str(p), -1) for p in queries],
                            [Record(str(p), -1) for p in gallery], cache=None, topk=topk,
                            device=device or default_device(), source=f"checkpoint {ckpt}", ground_truth=False,
                            name=f"your images ({folder.name})", notes=notes)


def folder_out(out_dir: str | Path = "") -> Path:
    """Where notebook 06 saves the static view of your own images: ``out_dir``, else ``$PPCL_OUT``,
    else ``runs/your-images`` beside the notebooks."""
    return Path(out_dir or os.environ.get("PPCL_OUT") or _default_out("your-images")).expanduser().resolve()


def _index_key(index: Path, name: str) -> str:
    """The store key of ``name`` in a run folder's ``checkpoints/models.json``."""
    if not index.is_file():
        raise FileNotFoundError(f"{index}: expected the run's model index (written when its models were trained or "
                                "loaded, notebook 03); found no such file")
    try:
        return str(json.loads(index.read_text())[name]["key"])
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{index}: expected an entry {name!r} with its store key (notebook 03 trains it); "
                         "found none") from None



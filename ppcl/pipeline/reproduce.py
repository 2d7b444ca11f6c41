"""Run the kit's notebooks headless, in order, under one profile (the README's main command).

    python -m ppcl.pipeline.reproduce --profile synthetic [--out runs/synthetic] [--data-root DIR] [--only 01,02]
                             [--set seed=1 --set ppcl.epochs=20 ...] [--resume]
    python -m ppcl.pipeline.reproduce --profile paper --data-root DATA --plan [--gpu H100]

Before the first notebook every data-dependent bound of the profile is checked on the data
(:mod:`ppcl.pipeline.plan`: batches, validation splits, PK identities, Partial-LFW, disk): a value
the data cannot satisfy stops the run in seconds, naming the setting and a ``--set`` that works.
``--plan`` prints the models, each notebook's device hours on a GPU (an estimate), memory and disk.

Each notebook is executed by papermill with the profile's name and the run's folders as
parameters (``--set`` entries become the notebooks' ``overrides``, validated against the
schema before anything runs); the executed copies go to ``<out>/notebooks/``, figures to
``<out>/figures/`` and tables to ``<out>/tables/``, and the run ends by writing
``<out>/REPORT.md`` (and ``REPORT.html``) from those tables. The run stops at the first failing
notebook, naming it and its cell. ``<out>/run.json`` records the parameters, the machine, the
library versions and each finished notebook (written atomically as each one ends), so
``--resume`` skips the notebooks that finished and starts at the first unfinished one.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import tomllib
from datetime import datetime, timezone
from pathlib import Path

from ..io import write_json
from .profiles import PROFILE_NAMES, load_profile

KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR"]  # no "running over TCP without encryption" per notebook


def notebooks_folder(folder: str | Path | None = None) -> Path:
    """The numbered notebooks: ``folder``, else ``./notebooks``, else the checkout's ``notebooks/``."""
    candidates = [Path(folder)] if folder else [Path.cwd() / "notebooks", Path(__file__).resolve().parent.parent / "notebooks"]
    for c in candidates:
        if c.is_dir() and any(c.glob("[0-9][0-9]_*.ipynb")):
            return c.resolve()
    raise FileNotFoundError(f"{candidates[0]}: expected the kit's numbered notebooks (01_*.ipynb ...); found none "
                            "(run from the kit's checkout or pass --notebooks DIR)")


def notebooks(only: list[str] | None = None, folder: Path | None = None) -> list[Path]:
    folder = notebooks_folder(folder)
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        unknown = sorted(set(only) - {p.name[:2] for p in found})
        if unknown:
            raise ValueError(f"--only: expected notebook numbers among {[p.name[:2] for p in found]}; found {unknown}")
        found = [p for p in found if p.name[:2] in only]
    return found


def parse_overrides(items: list[str]) -> dict:
    """``["seed=1", "ppcl.epochs=20", "ppcl.area=[0.2, 0.9]"]`` -> nested overrides; values are
    TOML values (numbers, booleans, lists, quoted strings)."""
    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r}: expected KEY=VALUE (e.g. seed=1 or ppcl.epochs=20)")
        try:
            parsed = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"--set {item!r}: expected a TOML value after '=' (quote strings); found {value!r} ({e})") from None
        *parents, leaf = key.strip().split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"--set {item!r}: {p!r} was already given a value")
        node[leaf] = parsed
    return out


def machine() -> dict:
    """What the run ran on: CPU, cores, GPU, and the library versions."""
    import numpy
    import torch
    import torchvision

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        cores = os.cpu_count()
    return {"cpu": cpu, "cores": cores, "gpu": gpu, "platform": platform.platform(),
            "threads": torch.get_num_threads(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "torchvision": torchvision.__version__, "numpy": numpy.__version__}}


def kit_commit() -> str | None:
    """The kit checkout's commit (``+dirty`` with uncommitted changes), or None outside a git checkout."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty else "")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run(profile: str, out: Path, data_root: str = "", cache_dir: str = "", only: list[str] | None = None,
        overrides: dict | None = None, resume: bool = False, notebooks_dir: str | Path | None = None,
        report: bool = True) -> int:
    import papermill as pm

    overrides = overrides or {}
    prof = load_profile(profile, overrides)  # refuse a bad override before anything runs
    out = out.resolve()
    started, t_pre = _now(), time.time()
    problems = preflight(prof, data_root, cache_dir, out)  # every data-dependent bound (the synthetic sets made first)
    preflight_s = round(time.time() - t_pre, 1)
    if problems:
        print(f"[{profile}] the data cannot satisfy the profile; nothing was run:\n" + "\n".join(f"- {p}" for p in problems)
              + "\n  (python -m ppcl.pipeline.reproduce --plan shows the whole plan)", file=sys.stderr)
        return 2
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    state_path = out / "run.json"
    params = {"profile": profile, "overrides": overrides, "data_root": str(data_root), "cache_dir": str(cache_dir)}
    state = json.loads(state_path.read_text()) if resume and state_path.is_file() else {}
    if state and state.get("parameters") != params:
        raise ValueError(f"{state_path}: --resume expected the run's parameters {state.get('parameters')}; "
                         f"found {params} (use another --out, or drop --resume to start over)")
    if not state:
        state = {"parameters": params, "started": started, "notebooks": {}}
    state["preflight_seconds"] = preflight_s  # the bounds, and generating the synthetic sets on first use
    state["machine"] = machine()
    state["train_jobs"] = prof.train_jobs  # trainings side by side (their float order: one thread each on 2 cores)
    state["commit"] = kit_commit()
    write_json(state_path, state)
    nb_params = {"profile": profile, "out_dir": str(out), "data_root": str(data_root), "cache_dir": str(cache_dir),
                 "overrides": overrides}
    for nb in notebooks(only, notebooks_dir):
        target = out / "notebooks" / nb.name
        if state["notebooks"].get(nb.name, {}).get("status") == "done":
            print(f"[{profile}] {nb.name} finished earlier: kept ({target})", flush=True)
            continue
        print(f"[{profile}] {nb.name} ...", flush=True)
        t0 = time.time()
        try:
            pm.execute_notebook(str(nb), str(target), parameters=nb_params, cwd=str(nb.parent), progress_bar=False,
                                kernel_name="python3", extra_arguments=KERNEL_ARGS)
        except pm.PapermillExecutionError as e:
            state["notebooks"][nb.name] = {"status": "failed", "cell": e.exec_count, "error": f"{e.ename}: {e.evalue}"}
            write_json(state_path, state)
            print(f"FAILED: {nb.name}, cell [{e.exec_count}] of the executed copy: {e.ename}: {e.evalue}\n"
                  f"  executed copy: {target}\n"
                  f"  after fixing it: python -m ppcl.pipeline.reproduce --profile {profile} --out {out} --resume", file=sys.stderr)
            return 1
        seconds = time.time() - t0
        state["notebooks"][nb.name] = {"status": "done", "seconds": round(seconds, 1), "finished": _now()}
        write_json(state_path, state)
        print(f"[{profile}] {nb.name} done in {seconds:.0f} s -> {target}", flush=True)
    state["finished"] = _now()
    write_json(state_path, state)
    lines = [f"\nOutputs of the {profile!r} run:", f"  notebooks  {out / 'notebooks'}", f"  figures    {out / 'figures'}",
             f"  tables     {out / 'tables'}"]
    if report:
        from .report import write_report

        md = write_report(out)
        lines.append(f"  report     {md}")
    print("\n".join(lines))
    return 0


def preflight(prof, data_root: str, cache_dir: str, out: Path) -> list[str]:
    """:func:`ppcl.pipeline.plan.preflight` on the run's data (the synthetic sets are generated first if
    they are not in the cache yet): the problems, each naming a setting and a ``--set`` that works."""
    from ..data.sources import dataset_root, verdict_sets
    from .plan import preflight as check
    from .run import default_cache_dir

    cache = Path(cache_dir or default_cache_dir()).expanduser().resolve()
    root = dataset_root(prof.source, data_root, cache, prof.synthetic)
    large = [v for v in dict.fromkeys(verdict_sets(prof.source).values()) if v.endswith("_large")]
    return check(prof, root, out, cache / "models", large)[1]


def plan(profile: str, overrides: dict, data_root: str, cache_dir: str, out: Path, gpu: str) -> int:
    """Print the run's plan (:mod:`ppcl.pipeline.plan`): the bounds, the models, each notebook's device
    hours on ``gpu`` (an estimate), memory and disk. Without a data root for real data, the published
    counts stand in for the data. Returns 0 when every bound holds."""
    from ..data.sources import dataset_root, verdict_sets
    from .plan import bill, check_bounds, format_plan, published_summary, summarize
    from .run import default_cache_dir

    prof = load_profile(profile, overrides)
    if prof.source == "real" and not data_root:
        data, problems = published_summary(), []
    else:
        cache = Path(cache_dir or default_cache_dir()).expanduser().resolve()
        root = dataset_root(prof.source, data_root, cache, prof.synthetic)
        large = [v for v in dict.fromkeys(verdict_sets(prof.source).values()) if v.endswith("_large")]
        data = summarize(root, large)
        problems = check_bounds(prof, data)
    print(format_plan(profile, bill(prof, data, gpu), data, problems))
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="synthetic", choices=PROFILE_NAMES)
    ap.add_argument("--out", type=Path, help="run folder (default runs/<profile>)")
    ap.add_argument("--data-root", default="", help="the real datasets (paper profile)")
    ap.add_argument("--cache-dir", default="", help="generated data and trained models (default $PPCL_CACHE or ~/.cache/ppcl)")
    ap.add_argument("--only", help="comma-separated notebook numbers, e.g. 01,02")
    ap.add_argument("--notebooks", help="the folder of numbered notebooks (default: the kit's)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a profile parameter (dotted keys, TOML values), e.g. --set seed=1")
    ap.add_argument("--resume", action="store_true", help="skip the notebooks this run folder finished")
    ap.add_argument("--no-report", action="store_true", help="do not write REPORT.md at the end")
    ap.add_argument("--plan", action="store_true", help="print the plan (bounds, models, device hours, memory, disk) and stop")
    ap.add_argument("--gpu", default="H100", help="the GPU the plan's device hours are estimated for (H100, H200, A100)")
    args = ap.parse_args(argv)
    out = args.out or Path("runs") / args.profile
    only = args.only.split(",") if args.only else None
    try:
        overrides = parse_overrides(args.overrides)
        load_profile(args.profile, overrides)
    except ValueError as e:
        ap.error(str(e))
    if args.plan:
        from .plan import GPUS

        if args.gpu not in GPUS:
            ap.error(f"--gpu: expected one of {list(GPUS)}; found {args.gpu!r}")
        return plan(args.profile, overrides, args.data_root, args.cache_dir, out, args.gpu)
    return run(args.profile, out, args.data_root, args.cache_dir, only, overrides, args.resume, args.notebooks,
               report=not args.no_report)


if __name__ == "__main__":
    sys.exit(main())

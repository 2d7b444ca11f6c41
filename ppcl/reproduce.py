"""Run the kit's notebooks headless, in order, under one profile (the README's main command).

    python -m ppcl.reproduce --profile synthetic [--out runs/synthetic] [--data-root DIR] [--only 01,02]
                             [--set seed=1 --set ppcl.epochs=20 ...]

Each notebook is executed by papermill with the profile's name and the run's folders as
parameters (``--set`` entries become the notebooks' ``overrides``, merged into the profile);
the executed copies go to ``<out>/notebooks/``, figures to ``<out>/figures/`` and
tables to ``<out>/tables/``. The run stops at the first failing notebook, naming it.
"""
from __future__ import annotations

import argparse
import sys
import time
import tomllib
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def notebooks(only: list[str] | None = None, folder: Path = NOTEBOOKS) -> list[Path]:
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [p for p in found if p.name[:2] in only]
    if not found:
        raise FileNotFoundError(f"{folder}: expected numbered notebooks (01_*.ipynb ...); found none matching {only or 'all'}")
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


def check_overrides(profile: dict, overrides: dict, where: str = "") -> None:
    """Refuse an override whose key the profile does not have (a typo would otherwise be ignored)."""
    for key, value in overrides.items():
        name = f"{where}{key}"
        if key not in profile:
            raise ValueError(f"--set {name}: expected one of the profile's keys {sorted(profile)}"
                             f"{' under ' + where[:-1] if where else ''}; found no {key!r}")
        if isinstance(value, dict) and isinstance(profile[key], dict):
            check_overrides(profile[key], value, f"{name}.")


def run(profile: str, out: Path, data_root: str = "", cache_dir: str = "", only: list[str] | None = None,
        overrides: dict | None = None) -> int:
    import papermill as pm

    out = out.resolve()
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    params = {"profile": profile, "out_dir": str(out), "data_root": data_root}
    if overrides:
        params["overrides"] = overrides
    if cache_dir:
        params["cache_dir"] = str(Path(cache_dir).resolve())
    for nb in notebooks(only):
        target = out / "notebooks" / nb.name
        print(f"[{profile}] {nb.name} ...", flush=True)
        t0 = time.time()
        try:
            pm.execute_notebook(str(nb), str(target), parameters=params, cwd=str(nb.parent), progress_bar=False,
                                kernel_name="python3")
        except pm.PapermillExecutionError as e:
            print(f"FAILED: {nb.name}, cell {e.exec_count}: {e.ename}: {e.evalue}\n  executed copy: {target}", file=sys.stderr)
            return 1
        print(f"[{profile}] {nb.name} done in {time.time() - t0:.0f} s -> {target}", flush=True)
    print(f"\nOutputs of the {profile!r} run:\n  notebooks  {out / 'notebooks'}\n  figures    {out / 'figures'}\n"
          f"  tables     {out / 'tables'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="synthetic", choices=["smoke", "synthetic", "paper"])
    ap.add_argument("--out", type=Path, help="run folder (default runs/<profile>)")
    ap.add_argument("--data-root", default="", help="the real datasets (paper profile)")
    ap.add_argument("--cache-dir", default="", help="where synthetic sets are generated (default data/)")
    ap.add_argument("--only", help="comma-separated notebook numbers, e.g. 01,02")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a profile parameter (dotted keys, TOML values), e.g. --set seed=1")
    args = ap.parse_args(argv)
    out = args.out or Path("runs") / args.profile
    only = args.only.split(",") if args.only else None
    try:
        overrides = parse_overrides(args.overrides)
        from .profiles import load_profile

        check_overrides(load_profile(args.profile), overrides)
    except ValueError as e:
        ap.error(str(e))
    return run(args.profile, out, args.data_root, args.cache_dir, only, overrides)


if __name__ == "__main__":
    sys.exit(main())

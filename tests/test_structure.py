"""The package's shape: no import circle (function-level imports included), no module a newcomer
cannot read in one sitting, a docstring on every module."""
import ast
import graphlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "ppcl"


def _modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = f.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
            target = ".".join(base + ([node.module] if node.module else [])) if node.level else (node.module or "")
            for cand in (target, *(f"{target}.{a.name}" for a in node.names)):
                if cand in known and cand != name:
                    found.add(cand)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known and a.name != name}
    return found


def test_no_import_circle_in_the_package():
    mods = _modules()
    graph = {m: _imports(m, p, set(mods)) for m, p in mods.items()}
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as e:
        raise AssertionError(f"import circle: {' -> '.join(e.args[1])}") from None


def test_every_module_is_short_and_says_what_it_holds():
    for name, path in _modules().items():
        text = path.read_text()
        assert len(text.splitlines()) <= 500, f"{path}: {len(text.splitlines())} lines (keep modules under about 500)"
        if text.strip():
            assert ast.get_docstring(ast.parse(text)), f"{path}: no module docstring"


def test_nothing_below_the_pipeline_imports_it():
    """The layers show: the method (geometry, models, losses, Algorithm 1, training, data, metrics, plots)
    never imports the pipeline that runs notebooks (ppcl.pipeline), function-level imports included."""
    mods = _modules()
    known = set(mods)
    upward = sorted((m, d) for m, p in mods.items() if not m.startswith("ppcl.pipeline")
                    for d in _imports(m, p, known) if d.startswith("ppcl.pipeline"))
    assert not upward, f"modules below the pipeline that import it: {upward}"
    assert any(m.startswith("ppcl.pipeline.") for m in mods), "the pipeline layer is missing"


def test_the_check_sees_an_upward_import(tmp_path):
    """The layer check can fail: a method module that imports the pipeline is found."""
    f = tmp_path / "losses.py"
    f.write_text('"""x"""\ndef f():\n    from .pipeline.run import setup\n')
    assert "ppcl.pipeline.run" in _imports("ppcl.losses", f, {"ppcl.pipeline.run", "ppcl.losses"})

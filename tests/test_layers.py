"""The import rule: a lower layer never imports a higher one (docs/architecture.md).

Every module under ``src/soundloc`` is parsed (``ast``, nothing is imported) and each of its
``import`` statements -- at the top, inside functions, under ``TYPE_CHECKING`` -- is checked
against :data:`LAYERS`, the one table of the layers. A new top-level module or package must be
added to the table (the test says so), which keeps the picture in the docs true.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "soundloc"

LAYERS: tuple[tuple[str, ...], ...] = (
    # 0: foundations: no soundloc imports beyond this layer
    ("__init__", "geometry", "audio", "fileio", "device", "spectral", "dataformat", "ambisonics", "configs"),
    ("corpus",),  # 1: source-clip collections
    ("scenes",),  # 2: simulation: rooms, RIRs, mixing, labels, dataset writer
    ("data",),  # 3: reading datasets: targets, layouts, torch dataset, summaries
    ("features",),  # 4: the STFT and the spatial features
    ("doa", "augment", "models", "losses"),  # 5: localizers, augmentation, models, losses
    ("train", "ssl", "av"),  # 6: training, self-supervision, audio-visual
    ("metrics", "plots"),  # 7: scoring and figures
    ("cli", "__main__"),  # 8: the command line (`python -m soundloc` runs it)
)
"""Top-level modules / packages of ``soundloc``, lowest layer first. A module may import its own
layer and the layers below it."""

INDEPENDENT: tuple[tuple[str, str], ...] = (("scenes", "data"),)
"""Pairs that never import each other (both go through :mod:`soundloc.dataformat`)."""

LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}


def _top(module: str) -> str | None:
    """``soundloc.doa.base`` -> ``doa``; ``soundloc`` -> ``__init__``; other packages -> None."""
    parts = module.split(".")
    if parts[0] != "soundloc":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod == "soundloc":  # `from soundloc import x`: x may be a module
                out += [(node.lineno, f"soundloc.{a.name}") if f"{a.name}" in LAYER_OF else (node.lineno, mod)
                        for a in node.names]
            else:
                out.append((node.lineno, mod))
    return out


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_every_top_level_module_is_in_the_layer_table() -> None:
    tops = {p.relative_to(SRC).parts[0].removesuffix(".py") for p in _modules()}
    missing = sorted(tops - set(LAYER_OF))
    assert not missing, f"add {missing} to LAYERS in tests/test_layers.py (and the picture in docs/architecture.md)"


def _violation(me: str, module: str) -> str | None:
    """Why top-level module ``me`` may not import ``module`` (``None``: it may)."""
    other = _top(module)
    if other is None or other not in LAYER_OF or me not in LAYER_OF:
        return None
    if LAYER_OF[other] > LAYER_OF[me]:
        return f"{me} (layer {LAYER_OF[me]}) imports {module} (layer {LAYER_OF[other]})"
    if (me, other) in INDEPENDENT or (other, me) in INDEPENDENT:
        return f"{me} imports {module}; they must not import each other"
    return None


def test_lower_layers_never_import_higher_ones() -> None:
    bad = []
    for path in _modules():
        me = path.relative_to(SRC).parts[0].removesuffix(".py")
        for line, mod in _imports(path):
            why = _violation(me, mod)
            if why:
                bad.append(f"{path.relative_to(SRC.parent)}:{line}: {why}")
    assert not bad, "import rule broken:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "source, me, expect_bad",
    [
        ("from soundloc.cli import main", "geometry", True),
        ("import soundloc.doa.base", "scenes", True),
        ("from soundloc.data.dcase import DcaseLabels", "scenes", True),
        ("from soundloc.scenes.writer import disk_usage", "data", True),
        ("from soundloc import plots", "doa", True),
        ("from soundloc import __version__", "scenes", False),
        ("from soundloc.geometry import MicArray", "doa", False),
        ("import numpy", "geometry", False),
    ],
)
def test_the_checker_sees_violations(tmp_path: Path, source: str, me: str, expect_bad: bool) -> None:
    """The checker itself: upward and sibling imports are flagged (also inside functions),
    downward and third-party ones are not."""
    f = tmp_path / "m.py"
    f.write_text("def f():\n    " + source + "\n")
    found = _imports(f)
    assert len(found) == 1
    assert (_violation(me, found[0][1]) is not None) == expect_bad

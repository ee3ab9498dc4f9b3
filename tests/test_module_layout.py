"""The module layout the pipeline relies on: no import cycle between plain and DP training,
one definition of the label-ignore index, and engines that declare what they can do."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "runner" / "safe_synthesizer"


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-local imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_dp_training_and_plain_training_do_not_import_each_other():
    assert not {m for m in _imported_modules(PACKAGE / "privacy" / "dp.py") if m.endswith("training")}
    assert not {m for m in _imported_modules(PACKAGE / "training.py") if "privacy" in m}


def test_the_ignore_index_is_defined_once():
    defining = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "IGNORE_INDEX" for t in node.targets)
            for node in ast.parse(path.read_text(encoding="utf-8")).body
        )
    ]
    assert defining == ["batching.py"]


def test_both_engines_implement_the_whole_engine_protocol():
    from safe_synthesizer.generation.engine import GenerationEngine
    from safe_synthesizer.generation.transformers_engine import TransformersEngine
    from safe_synthesizer.generation.vllm_engine import VllmEngine

    declared = {n for n in vars(GenerationEngine) if not n.startswith("_")} | {"name"}
    for engine in (TransformersEngine, VllmEngine):
        missing = {n for n in declared if not hasattr(engine, n)}
        assert not missing, f"{engine.__name__} lacks {sorted(missing)}"


def test_the_pipeline_does_not_probe_engines():
    source = (PACKAGE / "pipeline.py").read_text(encoding="utf-8")
    assert "hasattr(engine" not in source and "getattr(engine" not in source

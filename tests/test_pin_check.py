"""scripts/pin_check.py: the completeness check behind ``make gpu-deps-check`` (no network here)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("pin_check", ROOT / "scripts" / "pin_check.py")
pin_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pin_check)


def _report(tmp_path: Path, packages: dict[str, str]) -> Path:
    path = tmp_path / "report.json"
    items = [{"metadata": {"name": n, "version": v}} for n, v in packages.items()]
    path.write_text(json.dumps({"install": items}))
    return path


def _constraints(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "constraints.txt"
    path.write_text(text)
    return path


def test_complete_pins_pass(tmp_path, capsys):
    report = _report(tmp_path, {"safe-synthesizer": "0.1.0", "Torch": "2.14.0", "huggingface_hub": "2.4.0"})
    constraints = _constraints(tmp_path, "# comment\ntorch==2.14.0\nhuggingface-hub==2.4.0  # why\n")
    assert pin_check.main(["check", str(report), str(constraints), "--require", "torch"]) == 0
    assert "2 packages resolved, all pinned" in capsys.readouterr().out


def test_unpinned_wrong_and_missing_fail(tmp_path, capsys):
    report = _report(tmp_path, {"torch": "2.15.0", "numpy": "2.3.5", "setuptools": "84.2.1"})
    constraints = _constraints(tmp_path, "torch==2.14.0\n")
    assert pin_check.main(["check", str(report), str(constraints), "--require", "vllm"]) == 1
    err = capsys.readouterr().err
    assert "torch resolved at 2.15.0, pinned at 2.14.0" in err
    assert "numpy==2.3.5 is resolved but not pinned" in err
    assert "vllm is required but not resolved" in err
    assert "setuptools" not in err  # pip freeze leaves it out; only checked when pinned


def test_freeze_round_trips(tmp_path, capsys):
    report = _report(tmp_path, {"safe-synthesizer": "0.1.0", "b_pkg": "1.0", "a.pkg": "2.0"})
    assert pin_check.main(["freeze", str(report)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["a-pkg==2.0", "b-pkg==1.0"]
    constraints = _constraints(tmp_path, "\n".join(lines) + "\n")
    assert pin_check.main(["check", str(report), str(constraints)]) == 0


def test_repo_constraint_sets_disagree_only_where_vllm_needs_it():
    """The GPU set is the image's: vLLM, bitsandbytes, torch 2.14 / transformers <5.21 (vLLM 0.33.0)."""
    cpu = pin_check.pins(ROOT / "constraints.txt")
    gpu = pin_check.pins(ROOT / "constraints-gpu.txt")
    assert "vllm" not in cpu and "bitsandbytes" not in cpu
    assert gpu["vllm"] == "0.33.0" and "bitsandbytes" in gpu
    assert gpu["torch"] == "2.14.0"
    major, minor = (int(x) for x in re.match(r"(\d+)\.(\d+)", gpu["transformers"]).groups())
    assert (5, 16) <= (major, minor) < (5, 21)
    # the project's own training stack stays at the CPU venv's versions
    for name in ("peft", "accelerate", "opacus", "xgrammar", "pandas", "pydantic"):
        assert gpu[name] == cpu[name], name

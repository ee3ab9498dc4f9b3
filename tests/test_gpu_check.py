"""scripts/gpu_check.py (``make gpu-check``): its CPU dry run in the default suite, so it cannot rot.

The smoke run must print every section's figure line (QLoRA: a 'skipped' line without CUDA), no
FAILED section and the closing JSON with every figure; an injected failure in one section must be
reported while the sections after it still print their figures. The full run is ``gpu``-marked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.py"
NUMBER = r"[0-9][0-9,]*(?:\.[0-9]+)?"
FIGURE_LINES = {
    "lora-bf16": rf"^lora-bf16: {NUMBER} tokens/s  {NUMBER} records/s .* MFU {NUMBER} % of 790 TFLOP/s",
    "dp-sgd": rf"^dp-sgd: DP/plain time per record {NUMBER}x  \(plain {NUMBER} records/s, DP-SGD {NUMBER} records/s",
    "field-train": rf"^field-train: {NUMBER} records/s  {NUMBER} tokens/s .* MFU {NUMBER} %",
    "field-generate": rf"^field-generate: {NUMBER} records/s  \({NUMBER} records in",
    "hf-generate": rf"^hf-generate: {NUMBER} records/s  {NUMBER} tokens/s .* MFU {NUMBER} %",
}
QLORA_CPU = r"^qlora-4bit: skipped \(4-bit NF4 needs a CUDA GPU\)"


def _run(*args: str, timeout: float = 600) -> tuple[int, str]:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _summary(output: str) -> dict:
    lines = [line for line in output.splitlines() if line.startswith("gpu-check-json: ")]
    assert len(lines) == 1, output[-3000:]
    return json.loads(lines[0].removeprefix("gpu-check-json: "))


@pytest.mark.slow
def test_smoke_prints_every_figure(tmp_path):
    rc, out = _run("--smoke", "--device", "cpu", "--json", str(tmp_path / "figures.json"))
    assert rc == 0, out[-4000:]
    assert "FAILED" not in out, out[-4000:]
    for section, pattern in FIGURE_LINES.items():
        assert re.search(pattern, out, re.MULTILINE), f"no {section} figure line:\n{out[-4000:]}"
    assert re.search(QLORA_CPU, out, re.MULTILINE), out[-4000:]
    summary = _summary(out)
    assert summary["failed"] == [] and summary["smoke"] is True
    sections = summary["sections"]
    for section in FIGURE_LINES:
        rate = sections[section].get("records_per_s", sections[section].get("dp_records_per_s"))
        assert rate and rate > 0, (section, sections[section])
    assert sections["lora-bf16"]["tokens_per_s"] > 0 and sections["lora-bf16"]["mfu_percent"] > 0
    assert sections["dp-sgd"]["ratio"] > 0
    assert sections["field-generate"]["records"] > 0
    assert json.loads((tmp_path / "figures.json").read_text()) == summary


@pytest.mark.slow
def test_one_failing_section_does_not_stop_the_others():
    rc, out = _run(
        "--smoke", "--device", "cpu", "--sections", "lora-bf16,hf-generate", "--inject-failure", "lora-bf16"
    )
    assert rc == 1, out[-4000:]
    assert re.search(r"^lora-bf16: FAILED RuntimeError: injected failure", out, re.MULTILINE), out[-4000:]
    assert re.search(FIGURE_LINES["hf-generate"], out, re.MULTILINE), out[-4000:]
    summary = _summary(out)
    assert summary["failed"] == ["lora-bf16"]
    assert "error" in summary["sections"]["lora-bf16"] and "dp-sgd" not in summary["sections"]


def test_spent_budget_skips_sections_instead_of_running_over():
    rc, out = _run("--smoke", "--device", "cpu", "--budget-s", "0.001", "--sections", "lora-bf16,field-train")
    assert rc == 0, out[-4000:]
    assert re.search(r"^lora-bf16: skipped \(budget of 0 s spent\)", out, re.MULTILINE), out[-4000:]
    assert re.search(r"^field-train: skipped \(budget", out, re.MULTILINE), out[-4000:]


@pytest.mark.gpu
def test_full_check_on_a_gpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=540, cwd=ROOT
    )
    out = proc.stdout + proc.stderr
    for section, pattern in FIGURE_LINES.items():
        assert re.search(pattern, out, re.MULTILINE), f"no {section} figure line:\n{out[-4000:]}"
    summary = _summary(out)
    assert summary["seconds"] < 480, summary["seconds"]
    assert summary["sections"]["lora-bf16"]["mfu_percent"] > 1.0  # a real GPU, not a CPU fallback

"""The Argo CD health check (charts/safe-synthesizer/argocd/health.lua) against sample statuses.

Runs the script with a real Lua interpreter (Debian ``lua5.4`` / ``lua5.3`` / ``lua5.1`` / ``lua``,
or the PyPI package ``lupa``), as Argo CD does: ``obj`` is a global, the chunk returns
``{status, message}``. The cases are Argo CD's ``health_test.yaml`` layout. Skipped only when no
interpreter exists and ``$CI`` is unset (``make system-deps`` installs lua5.4).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

ARGOCD = Path(__file__).resolve().parents[2] / "charts" / "safe-synthesizer" / "argocd"
HEALTH = ARGOCD / "health.lua"
CASES = yaml.safe_load((ARGOCD / "health_test.yaml").read_text())["tests"]


def lua_literal(value: Any) -> str:
    """A Lua 5.1-compatible literal for a YAML value (non-ASCII as decimal byte escapes)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        out = []
        for byte in value.encode():
            char = chr(byte)
            if char in '\\"':
                out.append("\\" + char)
            elif 32 <= byte < 127:
                out.append(char)
            else:
                out.append(f"\\{byte}")
        return '"' + "".join(out) + '"'
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua_literal(str(k))}] = {lua_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def _interpreter() -> str | None:
    for name in ("lua5.4", "lua5.3", "lua5.1", "lua"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run_health(obj: dict[str, Any], tmp_path: Path) -> tuple[str, str]:
    """(status, message) from health.lua for ``obj``."""
    interpreter = _interpreter()
    if interpreter:
        driver = tmp_path / "driver.lua"
        driver.write_text(
            f"obj = {lua_literal(obj)}\n"
            f"local hs = dofile({lua_literal(str(HEALTH))})\n"
            'io.write(hs.status, "\\n", hs.message or "")\n'
        )
        result = subprocess.run(
            [interpreter, str(driver)], capture_output=True, text=True, timeout=30, check=True
        )
        status, _, message = result.stdout.partition("\n")
        return status, message
    try:
        import lupa  # type: ignore[import-not-found]
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("no Lua interpreter (lua5.4 or lupa) on CI: run `make system-deps`")
        pytest.skip("no Lua interpreter: install lua5.4 (`make system-deps`) or `pip install lupa`")
    runtime = lupa.LuaRuntime()
    hs = runtime.execute(f"obj = {lua_literal(obj)}\n" + HEALTH.read_text())
    return str(hs["status"]), str(hs["message"] or "")


@pytest.mark.parametrize("case", CASES, ids=[Path(c["inputPath"]).stem for c in CASES])
def test_health_of_sample_status(case: dict[str, Any], tmp_path: Path) -> None:
    obj = yaml.safe_load((ARGOCD / case["inputPath"]).read_text())
    status, message = run_health(obj, tmp_path)
    assert (status, message) == (case["healthStatus"]["status"], case["healthStatus"]["message"])


def test_every_argo_health_status_is_covered() -> None:
    statuses = {c["healthStatus"]["status"] for c in CASES}
    assert {"Healthy", "Progressing", "Degraded", "Suspended"} <= statuses


def test_readme_snippet_is_the_script() -> None:
    readme = (ARGOCD.parent / "README.md").read_text()
    marker = "resource.customizations.health.safesynthesizer.io_SafeSynthesizerJob: |\n"
    assert marker in readme
    block = readme.split(marker, 1)[1].split("```", 1)[0]
    assert textwrap.dedent(block).strip() == HEALTH.read_text().strip()

"""The Argo CD health check (charts/safe-synthesizer/argocd/health.lua) against sample statuses.

Runs the script with every real Lua interpreter there is: the PyPI package ``lupa`` (in the dev
extra; its Lua 5.1 runtime, the dialect Argo CD's gopher-lua speaks) and the first Debian ``lua5.4``
/ ``lua5.3`` / ``lua5.1`` / ``lua`` binary on PATH (``make system-deps`` installs lua5.4), as Argo CD
does: ``obj`` is a global, the chunk returns ``{status, message}``. The cases are Argo CD's
``health_test.yaml`` layout. With no interpreter at all the tests fail; they never skip.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
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


def _lupa_runtime() -> Any | None:
    """A lupa Lua 5.1 runtime (lupa >= 2 bundles several Lua versions), or None without lupa."""
    try:
        from lupa import lua51  # type: ignore[import-not-found]
    except ImportError:
        try:
            import lupa as lua51  # type: ignore[import-not-found,no-redef]
        except ImportError:
            return None
    return lua51.LuaRuntime()


def run_with_binary(interpreter: str, obj: dict[str, Any], tmp_path: Path) -> tuple[str, str]:
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


def run_with_lupa(runtime: Any, obj: dict[str, Any]) -> tuple[str, str]:
    hs = runtime.execute(f"obj = {lua_literal(obj)}\n" + HEALTH.read_text())
    return str(hs["status"]), str(hs["message"] or "")


def run_health(obj: dict[str, Any], tmp_path: Path) -> dict[str, tuple[str, str]]:
    """(status, message) from health.lua for ``obj``, per interpreter; fails when there is none."""
    results: dict[str, tuple[str, str]] = {}
    interpreter = _interpreter()
    if interpreter:
        results[Path(interpreter).name] = run_with_binary(interpreter, obj, tmp_path)
    runtime = _lupa_runtime()
    if runtime is not None:
        results["lupa " + str(runtime.eval("_VERSION"))] = run_with_lupa(runtime, obj)
    if not results:
        pytest.fail(
            "no Lua interpreter: `pip install -e '.[dev]' -c constraints.txt` (lupa) "
            "or `make system-deps` (lua5.4)"
        )
    return results


@pytest.mark.parametrize("case", CASES, ids=[Path(c["inputPath"]).stem for c in CASES])
def test_health_of_sample_status(case: dict[str, Any], tmp_path: Path) -> None:
    obj = yaml.safe_load((ARGOCD / case["inputPath"]).read_text())
    expected = (case["healthStatus"]["status"], case["healthStatus"]["message"])
    for interpreter, result in run_health(obj, tmp_path).items():
        assert result == expected, interpreter


def test_no_interpreter_fails_instead_of_skipping(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "lupa", None)  # import lupa / from lupa import ... raise ImportError
    monkeypatch.setitem(sys.modules, "lupa.lua51", None)
    with pytest.raises(pytest.fail.Exception, match="no Lua interpreter"):
        run_health({}, tmp_path)


def test_lupa_runs_lua_5_1_like_argo_cd() -> None:
    """lupa is in the dev extra: the health check runs under Lua 5.1 even without a Lua binary."""
    runtime = _lupa_runtime()
    assert runtime is not None, "lupa missing: pip install -e '.[dev]' -c constraints.txt"
    assert runtime.eval("_VERSION") == "Lua 5.1"


def test_every_argo_health_status_is_covered() -> None:
    statuses = {c["healthStatus"]["status"] for c in CASES}
    assert {"Healthy", "Progressing", "Degraded", "Suspended"} <= statuses


def test_readme_snippet_is_the_script() -> None:
    readme = (ARGOCD.parent / "README.md").read_text()
    marker = "resource.customizations.health.safesynthesizer.io_SafeSynthesizerJob: |\n"
    assert marker in readme
    block = readme.split(marker, 1)[1].split("```", 1)[0]
    assert textwrap.dedent(block).strip() == HEALTH.read_text().strip()

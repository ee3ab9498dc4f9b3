"""Check (or write) a constraints file against a ``pip install --dry-run --report`` resolution.

``make gpu-deps-check`` resolves the CPU set (``.[all,dev]`` with constraints.txt) and the runner
image's GPU set (``.[all,gpu]`` with constraints-gpu.txt) without installing anything, then runs:

    python scripts/pin_check.py check REPORT.json CONSTRAINTS [--require vllm ...]

which fails when the resolution installs a package the constraints file does not pin, or at another
version than pinned (a constraints set that leaves a package floating is not a pin set), or when a
``--require``d package is not in the resolution (an extra that silently went missing). ``freeze REPORT.json`` prints the resolved set as pins
(how constraints-gpu.txt's body was written). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

# The project itself (a local path) is part of every report; it has no pin.
PROJECT = "safe-synthesizer"
# What `pip freeze` leaves out (constraints.txt is a freeze): checked when pinned, never required to be.
TOOLING = {"pip", "setuptools", "wheel", "distribute"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def resolved(report_path: Path) -> dict[str, str]:
    """``{canonical name: version}`` of what the report would install."""
    report = json.loads(Path(report_path).read_text())
    return {
        canonical(item["metadata"]["name"]): item["metadata"]["version"] for item in report.get("install", [])
    }


def pins(constraints_path: Path) -> dict[str, str]:
    """``{canonical name: version}`` of the ``name==version`` lines of a constraints file."""
    out: dict[str, str] = {}
    for raw in Path(constraints_path).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;]+)", line)
        if match is None:
            raise SystemExit(f"{constraints_path}: not a name==version pin: {raw!r}")
        out[canonical(match.group(1))] = match.group(2)
    return out


def problems(report: dict[str, str], pinned: dict[str, str], require: list[str]) -> list[str]:
    found = []
    for name, version in sorted(report.items()):
        if name == PROJECT:
            continue
        if name not in pinned:
            if name in TOOLING:
                continue
            found.append(f"{name}=={version} is resolved but not pinned")
        elif pinned[name] != version:
            found.append(f"{name} resolved at {version}, pinned at {pinned[name]}")
    for name in require:
        if canonical(name) not in report:
            found.append(f"{name} is required but not resolved")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="fail unless every resolved package is pinned at its version")
    check.add_argument("report", type=Path)
    check.add_argument("constraints", type=Path)
    check.add_argument("--require", action="append", default=[], help="a package that must be resolved")
    freeze = sub.add_parser("freeze", help="print the resolved set as name==version lines")
    freeze.add_argument("report", type=Path)
    args = parser.parse_args(argv)

    report = resolved(args.report)
    if args.command == "freeze":
        for name, version in sorted(report.items()):
            if name != PROJECT:
                print(f"{name}=={version}")
        return 0
    found = problems(report, pins(args.constraints), args.require)
    for line in found:
        print(f"pin-check: {args.constraints}: {line}", file=sys.stderr)
    if found:
        return 1
    print(f"pin-check: {args.constraints}: {len(report) - (PROJECT in report)} packages resolved, all pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main())

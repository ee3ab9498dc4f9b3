"""The ``safe-synthesizer`` command line.

* ``validate FILE...``: check manifests (multi-document YAML) or bare configs; exit 1 on any error.
* ``config schema`` / ``config defaults``: the JSON schema and the full default config.
* ``run``: the pipeline (``run train`` and ``run generate`` for the two halves).

Exit codes (table in :mod:`safe_synthesizer.errors`): 0 success, 1 invalid input or config, 2 usage,
3 a transient infrastructure failure (the only one worth a retry), 4 a run that failed the way a
retry would too (no valid record, internal error).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import yaml

from .config import ConfigError, SafeSynthesizerJob, SafeSynthesizerParameters, parse_document, read_documents
from .errors import EXIT_OK, EXIT_USAGE
from .errors import EXIT_USER_INPUT as EXIT_INVALID


def cmd_validate(paths: Sequence[str]) -> int:
    """Validate every document of every file; print OK or every error with its path."""
    failed = False
    for path in paths:
        try:
            documents = read_documents(path)
        except (OSError, yaml.YAMLError, json.JSONDecodeError) as exc:
            print(f"{path}: cannot read: {exc}")
            failed = True
            continue
        if not documents:
            print(f"{path}: no document found")
            failed = True
        for label, doc in documents:
            try:
                parsed = parse_document(doc, label)
            except ConfigError as exc:
                failed = True
                print(f"{label}: INVALID ({len(exc.errors)} error(s))")
                for error in exc.errors:
                    print(f"  {error}")
                continue
            if isinstance(parsed, SafeSynthesizerJob):
                name = parsed.metadata.name or "<unnamed>"
                print(f"{label}: OK (SafeSynthesizerJob {name})")
            else:
                print(f"{label}: OK (config)")
    return EXIT_INVALID if failed else EXIT_OK


def cmd_config_schema() -> int:
    """Print the JSON schema of the job config."""
    print(json.dumps(SafeSynthesizerParameters.model_json_schema(), indent=2))
    return EXIT_OK


def cmd_config_defaults(fmt: str) -> int:
    """Print the full default config."""
    defaults = SafeSynthesizerParameters().model_dump(mode="json")
    if fmt == "json":
        print(json.dumps(defaults, indent=2))
    else:
        sys.stdout.write(yaml.safe_dump(defaults, sort_keys=False))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(prog="safe-synthesizer", description="Private synthetic tabular data.")
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="validate SafeSynthesizerJob manifests or bare configs")
    validate.add_argument("files", nargs="+", help="YAML (multi-document) or JSON files")

    config = sub.add_parser("config", help="config schema and defaults")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    config_sub.add_parser("schema", help="print the JSON schema of the config")
    defaults = config_sub.add_parser("defaults", help="print the full default config")
    defaults.add_argument("--format", choices=["yaml", "json"], default="yaml")

    from .run_cli import add_run_parser

    add_run_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``safe-synthesizer``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "validate":
        return cmd_validate(args.files)
    if args.command == "config":
        if args.config_command == "schema":
            return cmd_config_schema()
        return cmd_config_defaults(args.format)
    if args.command == "run":
        from .run_cli import cmd_run

        return cmd_run(args)
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m safe_synthesizer_operator``: run the operator (kopf, standalone, with a liveness endpoint).

Options override the ``SSO_*`` settings where both exist::

    python -m safe_synthesizer_operator [--liveness URL] [-n NAMESPACE ...] [--log-format json] [-v]

Without ``-n`` (and with ``SSO_NAMESPACES`` empty) every namespace is watched. The liveness endpoint
(default ``http://0.0.0.0:8080/healthz``, or ``$SSO_LIVENESS``) is kopf's: 200 while the operator's
loops run. ``SIGTERM`` stops it gracefully.
"""

from __future__ import annotations

import argparse
import os
import sys

import kopf

from .settings import OperatorSettings, SettingsError

DEFAULT_LIVENESS = "http://0.0.0.0:8080/healthz"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m safe_synthesizer_operator", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--liveness",
        default=os.environ.get("SSO_LIVENESS", DEFAULT_LIVENESS),
        help="kopf liveness endpoint URL ('' disables)",
    )
    parser.add_argument(
        "-n", "--namespace", action="append", default=[], help="namespace to watch (repeatable)"
    )
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace")
    parser.add_argument(
        "--log-format", choices=["plain", "full", "json"], default=os.environ.get("SSO_LOG_FORMAT", "full")
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Validate the settings, then run kopf until stopped."""
    args = parse_args(argv)
    try:
        settings = OperatorSettings.from_env()
    except SettingsError as exc:
        print(f"invalid operator setting: {exc}", file=sys.stderr)
        return 2
    namespaces = [] if args.all_namespaces else (args.namespace or list(settings.namespaces))
    os.environ["SSO_NAMESPACES"] = ",".join(namespaces)  # the effective list, for the startup handler
    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat[args.log_format.upper()], log_refkey="k8s")
    from . import handlers  # noqa: F401 - registers the handlers

    kopf.run(
        standalone=True,
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=args.liveness or None,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

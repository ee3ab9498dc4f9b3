"""``python -m safe_synthesizer.console``: the console on 127.0.0.1 for one person (``make console``).

It uses your kubeconfig (``SSC_AUTH=kubeconfig``, the default outside a pod): everyone who can
reach the port acts as you, so it listens on loopback unless told otherwise. In a cluster the
chart runs it under gunicorn with ``SSC_AUTH=token`` instead.
"""

from __future__ import annotations

import argparse
import logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m safe_synthesizer.console", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8090, help="port (default 8090)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from werkzeug.serving import run_simple

    from . import create_app
    from .settings import ConsoleSettings

    settings = ConsoleSettings.from_env()
    app = create_app(settings)
    where = f"http://{args.host}:{args.port}{settings.url_prefix}/"
    print(
        f"Safe Synthesizer console ({settings.auth} sign-in, namespace {settings.namespace}): {where}",
        flush=True,
    )
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

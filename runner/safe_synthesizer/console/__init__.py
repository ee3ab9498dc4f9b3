"""The Safe Synthesizer web console (torch-free; the ``console`` extra: Flask, Flask-WTF, gunicorn).

    SSC_UPLOAD_PREFIX=s3://bucket/uploads/ python -m safe_synthesizer.console      # local, your kubeconfig
    gunicorn 'safe_synthesizer.console:create_app()'                               # in a pod (the chart)

See :mod:`safe_synthesizer.console.app` for the pages and :mod:`.settings` for whose permissions
are used and every ``SSC_*`` variable.
"""

from .app import create_app
from .settings import ConsoleSettings

__all__ = ["ConsoleSettings", "create_app"]

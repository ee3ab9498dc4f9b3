"""Shared pytest fixtures. Keep this file small; subsystem fixtures live beside their tests.

Helpers in ``tests/`` (e.g. ``s3_server.py``) import as top-level modules: pytest puts this folder on
``sys.path`` for the conftest (rootdir-style, no ``__init__.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

_AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[object]:
    """One moto S3 server on 127.0.0.1 for the whole session (see ``tests/s3_server.py``)."""
    from s3_server import S3TestServer

    server = S3TestServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_server, monkeypatch, tmp_path):
    """Empty the S3 server and point the standard AWS env vars at it; returns the server.

    Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY as in the runner pod; no
    ~/.aws file is read.
    """
    from s3_server import REGION, TEST_ACCESS_KEY, TEST_SECRET_KEY

    for name in _AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("SAFE_SYNTH_CACHE", str(tmp_path / "cache"))
    s3_server.reset()
    return s3_server


@pytest.fixture(scope="session", autouse=True)
def no_staging_folder_left() -> Iterator[None]:
    """After the session: no run left a temporary staging folder (``$TMPDIR/safe-synth-*``) behind."""
    yield
    from safe_synthesizer.staging import leftover_staging_dirs

    left = leftover_staging_dirs()
    assert not left, f"runs left staging folders behind: {', '.join(map(str, left))}"

"""A real S3 HTTP endpoint on loopback for tests: moto's ``ThreadedMotoServer``.

It speaks the S3 REST protocol (SigV4, multipart uploads, HEAD/GET/PUT/LIST, S3 error codes), keeps
everything in memory and runs in a thread of the test process. IAM authentication is off by
default (any credentials work); :meth:`S3TestServer.iam_auth` switches it on through moto's
``/moto-api/reset-auth`` endpoint, so that unknown keys, wrong secrets and missing permissions get
the real 403 answers (InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied).
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
TEST_ACCESS_KEY = "testing"
TEST_SECRET_KEY = "testing"


class S3TestServer:
    """A moto server on 127.0.0.1 with an OS-chosen port."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint_url = ""

    def start(self) -> S3TestServer:
        """Start serving; sets :attr:`endpoint_url`."""
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        """Shut the server down."""
        self._server.stop()

    def _post(self, path: str, body: bytes = b"") -> None:
        # text/plain: with urllib's default form content type the server would see an empty body.
        request = urllib.request.Request(
            f"{self.endpoint_url}{path}", data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def reset(self) -> None:
        """Forget every bucket, object, IAM user and key."""
        self._post("/moto-api/reset")

    @contextmanager
    def iam_auth(self) -> Iterator[None]:
        """Inside the block every request must be signed by a known IAM key with permission."""
        self._post("/moto-api/reset-auth", b"0")
        try:
            yield
        finally:
            self._post("/moto-api/reset-auth", b"inf")

    def client(self, service: str = "s3", **credentials: Any) -> Any:
        """A boto3 client for ``service`` against this server (test credentials unless given)."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=credentials.get("aws_access_key_id", TEST_ACCESS_KEY),
            aws_secret_access_key=credentials.get("aws_secret_access_key", TEST_SECRET_KEY),
            config=Config(
                signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}
            ),
        )

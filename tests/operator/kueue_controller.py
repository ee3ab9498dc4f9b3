"""The REAL Kueue controller manager on the test cluster (``sigs.k8s.io/kueue/cmd/kueue``).

TEST HARNESS ONLY. ``make kueue-bin`` builds the binary from Kueue's Go module (the wrapper module
``tests/cluster/go/kueue``) into the cluster-bins folder, with Kueue's CRDs and webhook manifests
from the same module in ``kueue-config/``. ``KueueController`` runs it as a local process against
the test kube-apiserver, as the admin:

* Kueue's CRDs (``config/components/crd/bases``) are applied server-side;
* ``internalCertManagement`` is off: the webhook server's certificate is issued here by the test
  cluster's CA for ``127.0.0.1``;
* Kueue's webhooks for batch/v1 Jobs and for its own kinds are registered **by URL**
  (``https://127.0.0.1:<port>/<path>``, the cluster CA as ``caBundle``): the test cluster has no
  Service network. Webhooks of integrations that are not enabled (pods, deployments, ...) are left
  out (Kueue serves no handler for them);
* Kueue v0.17 reads its metrics serving certificate from the fixed path
  ``/etc/kueue/metrics/certs`` when ``internalCertManagement`` is off. So that the test does not
  write into the host's ``/etc``, the manager runs in a private mount namespace
  (``unshare --user --map-root-user --mount``) with a tmpfs on ``/etc`` holding only that folder.
* Configuration: integrations ``batch/job`` only, ``manageJobsWithoutQueueName: false``, no leader
  election, the visibility API server off (``VisibilityOnDemand=false``: it would need an APIService).
"""

from __future__ import annotations

import base64
import copy
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from cluster_pki import issue_serving_cert
from e2e_support import Cluster, free_port, wait_for
from harness import Component, default_bin_dir, read_versions

NAMESPACE = "kueue-system"
WEBHOOK_NAMES = {
    "MutatingWebhookConfiguration": "kueue-mutating-webhook-configuration",
    "ValidatingWebhookConfiguration": "kueue-validating-webhook-configuration",
}


def kueue_missing(bin_dir: Path | None = None) -> str | None:
    """Why the real Kueue cannot run here (binary not built or stale, no mount namespaces), or None."""
    bin_dir = bin_dir or default_bin_dir()
    versions = read_versions()
    wanted = f"{versions['KUEUE_VERSION']}-r{versions.get('BUILD_REV', '1')}"
    binary, stamp = bin_dir / "kueue", bin_dir / "kueue.version"
    if not binary.is_file() or not (bin_dir / "kueue-config" / "webhooks.yaml").is_file():
        return f"the Kueue controller is not built in {bin_dir}: run `make kueue-bin`"
    if not stamp.is_file() or stamp.read_text().strip() != wanted:
        return f"{binary} is stale (not {wanted}): run `make kueue-bin`"
    if shutil.which("unshare") is None:
        return "`unshare` (util-linux) is missing: the Kueue controller runs in a private mount namespace"
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"no private mount namespace here (`unshare --user --map-root-user --mount`: {probe.stderr.strip()})"
    return None


def _is_served(path: str) -> bool:
    """Webhook paths Kueue serves with only the batch/job integration: Jobs and Kueue's own kinds."""
    return path.endswith("-batch-v1-job") or "-kueue-x-k8s-io-" in path


class KueueController:
    """Kueue's controller manager as a child process; ``start()``/``stop()`` or a context manager."""

    def __init__(self, cluster: Cluster, workdir: Path, bin_dir: Path | None = None):
        self.cluster = cluster
        self.workdir = workdir
        self.bin_dir = bin_dir or default_bin_dir()
        self.config_dir = self.bin_dir / "kueue-config"
        self.health_port = self.metrics_port = self.webhook_port = 0
        self.component: Component | None = None
        self.webhook_paths: list[str] = []

    @property
    def log(self) -> Path:
        """The manager's log (kept with the cluster logs)."""
        return self.cluster.plane.logs_dir / "kueue.log"

    def __enter__(self) -> KueueController:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- set-up ----------------------------------------------------------------------------------
    def apply_crds(self) -> list[str]:
        """Apply Kueue's CRDs (server-side: the Workload CRD is too big for the last-applied annotation)."""
        crds = sorted((self.config_dir / "crds").glob("*.yaml"))
        args = ["apply", "--server-side", "--force-conflicts"]
        for crd in crds:
            args += ["-f", str(crd)]
        self.cluster.kubectl(*args, timeout=120)
        names = [yaml.safe_load(crd.read_text())["metadata"]["name"] for crd in crds]
        self.cluster.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{n}" for n in names], timeout=90
        )
        return names

    def _certificates(self) -> tuple[Path, Path]:
        pki = self.cluster.plane.state_dir / "pki"
        certs = self.workdir / "certs"
        issue_serving_cert(
            pki / "ca.crt",
            pki / "ca.key",
            certs / "tls.crt",
            certs / "tls.key",
            "kueue-webhook",
            ["127.0.0.1"],
        )
        return certs, pki / "ca.crt"

    def _configuration(self, cert_dir: Path) -> Path:
        config = {
            "apiVersion": "config.kueue.x-k8s.io/v1beta2",
            "kind": "Configuration",
            "namespace": NAMESPACE,
            "health": {"healthProbeBindAddress": f"127.0.0.1:{self.health_port}"},
            "metrics": {"bindAddress": f"127.0.0.1:{self.metrics_port}"},
            "webhook": {"port": self.webhook_port, "host": "127.0.0.1", "certDir": str(cert_dir)},
            "leaderElection": {"leaderElect": False},
            "internalCertManagement": {"enable": False},
            "manageJobsWithoutQueueName": False,
            "integrations": {"frameworks": ["batch/job"]},
        }
        path = self.workdir / "kueue-config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def _webhook_configurations(self, ca_bundle: bytes) -> list[dict[str, Any]]:
        """Kueue's webhook manifests, served ones only, pointed at ``https://127.0.0.1:<port>``."""
        result = []
        self.webhook_paths = []
        for doc in yaml.safe_load_all((self.config_dir / "webhooks.yaml").read_text()):
            if not doc:
                continue
            body = copy.deepcopy(doc)
            body["metadata"] = {"name": WEBHOOK_NAMES[doc["kind"]]}
            hooks = []
            for hook in doc.get("webhooks") or []:
                path = hook["clientConfig"]["service"]["path"]
                if not _is_served(path):
                    continue
                hook = copy.deepcopy(hook)
                hook["clientConfig"] = {
                    "url": f"https://127.0.0.1:{self.webhook_port}{path}",
                    "caBundle": base64.b64encode(ca_bundle).decode(),
                }
                hooks.append(hook)
                self.webhook_paths.append(path)
            body["webhooks"] = hooks
            result.append(body)
        return result

    def start(self, timeout: float = 90) -> KueueController:
        """Apply the CRDs, start the manager, wait for /readyz, register the webhooks."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.apply_crds()
        self.cluster.kubectl("create", "namespace", NAMESPACE, check=False)
        self.health_port, self.metrics_port, self.webhook_port = free_port(), free_port(), free_port()
        cert_dir, ca = self._certificates()
        config = self._configuration(cert_dir)
        # Private mount namespace: /etc/kueue/metrics/certs (a fixed path in v0.17) without touching /etc.
        script = (
            'mount -t tmpfs -o size=1m tmpfs /etc && mkdir -p /etc/kueue/metrics && cp -r "$1" '
            '/etc/kueue/metrics/certs && shift && exec "$@"'
        )
        args = [
            "unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "kueue-mounts", str(cert_dir),
            str(self.bin_dir / "kueue"),
            f"--config={config}",
            f"--kubeconfig={self.cluster.kubeconfig}",
            "--feature-gates=VisibilityOnDemand=false",
            f"--visibility-server-port={free_port()}",
            "--zap-log-level=2",
        ]  # fmt: skip
        self.component = Component("kueue", args, self.log)
        self.component.start()
        wait_for(lambda: self.ready() or not self.component.alive(), timeout, "Kueue's /readyz")  # type: ignore[union-attr]
        if not self.component.alive():
            raise AssertionError(f"the Kueue controller exited: see {self.log}\n{self.log_tail()}")
        for body in self._webhook_configurations(ca.read_bytes()):
            self.cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(body))
        return self

    def ready(self) -> bool:
        """Whether Kueue's /readyz answers 200."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/readyz", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, lines: int = 40) -> str:
        """The end of the manager's log."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Unregister the webhooks (before the server goes: their failurePolicy is Fail), then stop."""
        for kind, name in WEBHOOK_NAMES.items():
            self.cluster.kubectl("delete", kind.lower(), name, "--ignore-not-found", check=False)
        if self.component is not None:
            self.component.stop()

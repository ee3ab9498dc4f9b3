"""A real Kubernetes control plane for tests: etcd + kube-apiserver + kube-controller-manager.

TEST HARNESS ONLY. The binaries are the ones built from Go modules by ``make cluster-bins`` into
``~/.cache/safe-synthesizer/kube/v<KUBE_VERSION>/`` (see ``tests/cluster/versions.env`` and
``docs/test-cluster.md``). Nothing here fakes the API server: every request goes to a real
kube-apiserver backed by a real etcd, and the real job, garbage-collector, ttl-after-finished,
serviceaccount, serviceaccount-token and root-ca-cert-publisher controllers run in
kube-controller-manager. Nodes and pods are handled by the test node agent in ``fake_kubelet.py``.

Layout of a state directory (``ControlPlane.state_dir``)::

    pki/                 CA, serving and client certificates, service-account keys
    etcd-data/           etcd data (fsync disabled)
    logs/                etcd.log, kube-apiserver.log, kube-controller-manager.log, node-agent.log, pods/
    kubeconfig           admin kubeconfig (O=system:masters)
    kube-controller-manager.kubeconfig
    node-agent/          per-pod folders of the node agent (volumes, termination messages)
    state.json           ports and process ids (used by ``cli.py down``)

Servers listen on 127.0.0.1 only, on free ports picked at start.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster_pki import Pki, generate_pki, write_kubeconfig

CLUSTER_DIR = Path(__file__).resolve().parent
REPO_ROOT = CLUSTER_DIR.parent.parent
VERSIONS_FILE = CLUSTER_DIR / "versions.env"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl")
# Controllers the tests rely on. Names as listed by `kube-controller-manager --help` (--controllers).
CONTROLLERS = (
    "job-controller",
    "garbage-collector-controller",
    "ttl-after-finished-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "namespace-controller",
    "pod-garbage-collector-controller",
)
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


class ClusterError(RuntimeError):
    """The control plane could not be started; the message names the component log to read."""


def read_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """Parse ``versions.env`` (KEY=VALUE lines, ``#`` comments)."""
    versions: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            versions[key.strip()] = value.strip()
    return versions


def cache_root() -> Path:
    """``$SAFE_SYNTH_CACHE`` or ``~/.cache/safe-synthesizer`` (the same default as mk/cluster.mk)."""
    return Path(os.environ.get("SAFE_SYNTH_CACHE", Path.home() / ".cache" / "safe-synthesizer"))


def default_bin_dir() -> Path:
    """Where ``make cluster-bins`` puts the binaries (``$KUBE_BIN_DIR`` overrides)."""
    if os.environ.get("KUBE_BIN_DIR"):
        return Path(os.environ["KUBE_BIN_DIR"])
    return cache_root() / "kube" / f"v{read_versions()['KUBE_VERSION']}"


def missing_binaries(bin_dir: Path | None = None) -> list[str]:
    """Names of control-plane binaries not built (or stale) in ``bin_dir``."""
    bin_dir = bin_dir or default_bin_dir()
    versions = read_versions()
    rev = f"-r{versions.get('BUILD_REV', '1')}"
    wanted = {
        "etcd": versions["ETCD_VERSION"] + rev,
        "kube-apiserver": versions["KUBE_VERSION"] + rev,
        "kube-controller-manager": versions["KUBE_VERSION"] + rev,
        "kubectl": versions["KUBE_VERSION"] + rev,
    }
    missing = []
    for name, version in wanted.items():
        binary, stamp = bin_dir / name, bin_dir / f"{name}.version"
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            missing.append(name)
        elif not stamp.is_file() or stamp.read_text().strip() != version:
            missing.append(f"{name} (stale: not {version})")
    return missing


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "<no log>"


def group_alive(pgid: int) -> bool:
    """True while a process of group ``pgid`` runs (zombies, e.g. orphans not yet reaped, do not count)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # pid (comm) state ppid pgrp ...; comm may contain spaces, so split after the last ')'.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def kill_process_group(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group led by ``pid``, then SIGKILL it if it is still alive after ``timeout``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Reap the leader if it is our child.
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        if not group_alive(pid):
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, 0)


@dataclass
class Component:
    """One control-plane process."""

    name: str
    args: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    pid: int | None = None

    def start(self, env: dict[str, str] | None = None) -> None:
        """Start the process in its own session (so its whole group can be killed)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed binaries built by make cluster-bins
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
                cwd=self.log.parent,
            )
        self.pid = self.process.pid

    def alive(self) -> bool:
        """True while the process runs."""
        if self.process is not None:
            return self.process.poll() is None
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Kill the process group and reap it."""
        if self.pid is not None:
            kill_process_group(self.pid, timeout)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=1)


@dataclass
class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager on loopback, with an admin kubeconfig.

    Use ``start()``/``stop()``, or as a context manager. ``stop(keep_logs=True)`` keeps ``logs/``
    (and removes the rest of the state directory).
    """

    state_dir: Path
    bin_dir: Path = field(default_factory=default_bin_dir)
    start_timeout: float = 90.0
    extra_apiserver_args: list[str] = field(default_factory=list)
    # controllers beyond CONTROLLERS (e.g. deployment + replicaset for a Deployment's pods)
    extra_controllers: list[str] = field(default_factory=list)
    components: dict[str, Component] = field(default_factory=dict)
    etcd_port: int = 0
    etcd_peer_port: int = 0
    apiserver_port: int = 0
    kcm_port: int = 0
    pki: Pki | None = None

    # -- paths -----------------------------------------------------------------
    @property
    def logs_dir(self) -> Path:
        """Component logs (kept on failure)."""
        return self.state_dir / "logs"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (client certificate in group system:masters)."""
        return self.state_dir / "kubeconfig"

    @property
    def server(self) -> str:
        """The kube-apiserver URL."""
        return f"https://127.0.0.1:{self.apiserver_port}"

    @property
    def state_file(self) -> Path:
        """JSON with ports and process ids, read by ``cli.py``."""
        return self.state_dir / "state.json"

    # -- lifecycle ---------------------------------------------------------------
    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(keep_logs=exc[0] is not None)

    def binary(self, name: str) -> str:
        """Absolute path of a built binary; raises ClusterError naming ``make cluster-bins`` if absent."""
        path = self.bin_dir / name
        if not path.is_file():
            raise ClusterError(f"{path} is missing: run `make cluster-bins` first")
        return str(path)

    def start(self) -> None:
        """Generate certificates, start the three components and wait until each is ready."""
        missing = missing_binaries(self.bin_dir)
        if missing:
            raise ClusterError(
                f"control-plane binaries missing in {self.bin_dir}: {', '.join(missing)}; "
                "run `make cluster-bins` first"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.pki = generate_pki(self.state_dir / "pki")
        try:
            self._start_etcd()
            self._start_apiserver()
            self._start_controller_manager()
        except BaseException:
            self.stop(keep_logs=True)
            raise
        self._write_state()

    def _wait(self, component: Component, check: Any, what: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        last_error = ""
        while time.monotonic() < deadline:
            if not component.alive():
                raise ClusterError(
                    f"{component.name} exited during start-up; log {component.log}:\n{_tail(component.log)}"
                )
            try:
                if check():
                    return
            except (OSError, urllib.error.URLError, ssl.SSLError) as exc:
                last_error = str(exc)
            time.sleep(0.2)
        raise ClusterError(
            f"{component.name} not {what} after {self.start_timeout:.0f}s ({last_error}); "
            f"log {component.log}:\n{_tail(component.log)}"
        )

    def _start_etcd(self) -> None:
        self.etcd_port, self.etcd_peer_port = free_port(), free_port()
        client = f"http://127.0.0.1:{self.etcd_port}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        etcd = Component(
            "etcd",
            [
                self.binary("etcd"),
                "--name=node0",
                f"--data-dir={self.state_dir / 'etcd-data'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=node0={peer}",
                "--unsafe-no-fsync=true",
                "--auto-compaction-retention=1",
                "--quota-backend-bytes=2147483648",
                "--log-level=warn",
            ],
            self.logs_dir / "etcd.log",
        )
        self.components["etcd"] = etcd
        etcd.start()

        def healthy() -> bool:
            with urllib.request.urlopen(f"{client}/health", timeout=2) as resp:
                return bool(json.loads(resp.read()).get("health") == "true")

        self._wait(etcd, healthy, "healthy")

    def _ssl_context(self) -> ssl.SSLContext:
        assert self.pki is not None
        ctx = ssl.create_default_context(cafile=str(self.pki.ca_crt))
        ctx.load_cert_chain(str(self.pki.admin_crt), str(self.pki.admin_key))
        return ctx

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        """GET ``path`` on the apiserver as admin; returns (status, body)."""
        try:
            with urllib.request.urlopen(
                f"{self.server}{path}", timeout=timeout, context=self._ssl_context()
            ) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def _start_apiserver(self) -> None:
        assert self.pki is not None
        self.apiserver_port = free_port()
        pki = self.pki
        apiserver = Component(
            "kube-apiserver",
            [
                self.binary("kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                "--etcd-prefix=/registry",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.apiserver_port}",
                f"--cert-dir={self.state_dir / 'apiserver-certs'}",
                f"--tls-cert-file={pki.apiserver_crt}",
                f"--tls-private-key-file={pki.apiserver_key}",
                f"--client-ca-file={pki.ca_crt}",
                # Aggregation/front-proxy settings: without them every delegating component logs
                # "missing content for CA bundle requestheader-client-ca-file" endlessly.
                f"--requestheader-client-ca-file={pki.ca_crt}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--proxy-client-cert-file={pki.front_proxy_crt}",
                f"--proxy-client-key-file={pki.front_proxy_key}",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={pki.sa_pub}",
                f"--service-account-signing-key-file={pki.sa_key}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--authorization-mode=Node,RBAC",
                "--allow-privileged=true",
                # The endpoint reconciler would publish 127.0.0.1 as the kubernetes Service endpoint; not needed.
                "--endpoint-reconciler-type=none",
                # pods/log is proxied to the node agent's log server at the Node's InternalIP (127.0.0.1).
                "--kubelet-preferred-address-types=InternalIP",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
                "--v=1",
                *self.extra_apiserver_args,
            ],
            self.logs_dir / "kube-apiserver.log",
        )
        self.components["kube-apiserver"] = apiserver
        write_kubeconfig(
            self.kubeconfig,
            self.server,
            pki.ca_crt,
            user="safe-synth-admin",
            client_crt=pki.admin_crt,
            client_key=pki.admin_key,
        )
        apiserver.start()
        self._wait(apiserver, lambda: self.get("/readyz")[0] == 200, "ready (/readyz)")

    def _start_controller_manager(self) -> None:
        assert self.pki is not None
        pki = self.pki
        kcm_kubeconfig = write_kubeconfig(
            self.state_dir / "kube-controller-manager.kubeconfig",
            self.server,
            pki.ca_crt,
            user="system:kube-controller-manager",
            client_crt=pki.kcm_crt,
            client_key=pki.kcm_key,
        )
        self.kcm_port = free_port()
        kcm = Component(
            "kube-controller-manager",
            [
                self.binary("kube-controller-manager"),
                f"--kubeconfig={kcm_kubeconfig}",
                f"--authentication-kubeconfig={kcm_kubeconfig}",
                f"--authorization-kubeconfig={kcm_kubeconfig}",
                "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
                "--bind-address=127.0.0.1",
                f"--secure-port={self.kcm_port}",
                f"--cert-dir={self.state_dir / 'kcm-certs'}",
                f"--controllers={','.join((*CONTROLLERS, *self.extra_controllers))}",
                "--use-service-account-credentials=true",
                f"--root-ca-file={pki.ca_crt}",
                f"--service-account-private-key-file={pki.sa_key}",
                "--leader-elect=false",
                "--kube-api-qps=100",
                "--kube-api-burst=200",
                "--concurrent-job-syncs=5",
                "--v=1",
            ],
            self.logs_dir / "kube-controller-manager.log",
        )
        self.components["kube-controller-manager"] = kcm
        kcm.start()
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE  # its serving certificate is self-signed in --cert-dir

        def healthy() -> bool:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{self.kcm_port}/healthz", timeout=2, context=insecure
            ) as resp:
                return resp.status == 200

        self._wait(kcm, healthy, "healthy (/healthz)")
        # The serviceaccount and root-ca-cert-publisher controllers are running once `default` has both.
        self._wait(
            kcm,
            lambda: (
                self.get("/api/v1/namespaces/default/serviceaccounts/default")[0] == 200
                and self.get("/api/v1/namespaces/default/configmaps/kube-root-ca.crt")[0] == 200
            ),
            "serving controllers (default ServiceAccount and kube-root-ca.crt)",
        )

    def _write_state(self) -> None:
        state = {
            "server": self.server,
            "kubeconfig": str(self.kubeconfig),
            "logs": str(self.logs_dir),
            "bin_dir": str(self.bin_dir),
            "ports": {
                "etcd": self.etcd_port,
                "etcd-peer": self.etcd_peer_port,
                "kube-apiserver": self.apiserver_port,
                "kube-controller-manager": self.kcm_port,
            },
            "pids": {name: c.pid for name, c in self.components.items()},
        }
        self.state_file.write_text(json.dumps(state, indent=2))

    def record_pid(self, name: str, pid: int) -> None:
        """Add an extra process (the node agent) to ``state.json`` so that ``cli.py down`` stops it too."""
        state = json.loads(self.state_file.read_text())
        state["pids"][name] = pid
        self.state_file.write_text(json.dumps(state, indent=2))

    def stop(self, keep_logs: bool = False) -> None:
        """Stop the components (controller-manager first, etcd last) and remove the state directory.

        With ``keep_logs`` the ``logs/`` folder stays (and its path is returned by ``logs_dir``).
        """
        for name in ("kube-controller-manager", "kube-apiserver", "etcd"):
            component = self.components.get(name)
            if component is not None:
                component.stop()
        remove_state_dir(self.state_dir, keep_logs=keep_logs)


def remove_state_dir(state_dir: Path, keep_logs: bool) -> None:
    """Remove ``state_dir``; with ``keep_logs`` remove everything except ``logs/``."""
    if not state_dir.exists():
        return
    if not keep_logs:
        shutil.rmtree(state_dir, ignore_errors=True)
        return
    for child in state_dir.iterdir():
        if child.name == "logs":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def venv_python() -> str:
    """The project venv's python if it exists, else the running interpreter."""
    candidate = REPO_ROOT / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable

"""The object the ``kube_cluster`` pytest fixture yields (tests/kube/conftest.py).

TEST HARNESS ONLY: a real control plane (``harness.ControlPlane``) plus the test node agent
(``fake_kubelet.FakeKubelet``), with client factories for the admin kubeconfig.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fake_kubelet import FakeKubelet
from harness import ControlPlane
from kubernetes import client as k8s
from kubernetes import config as k8s_config


def k8s_body(model: type[Any], data: dict[str, Any]) -> Any:
    """A request body for the typed client from a camelCase dict.

    kubernetes >= 37 (pydantic models) wants the model (``Model.from_dict``); <= 36 takes the dict as is.
    """
    from_dict = getattr(model, "from_dict", None)
    return from_dict(data) if callable(from_dict) else data


@dataclass
class KubeCluster:
    """What the tests get: the kubeconfig, client factories and the node agent."""

    plane: ControlPlane
    agent: FakeKubelet

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig (O=system:masters)."""
        return self.plane.kubeconfig

    @property
    def server(self) -> str:
        """kube-apiserver URL (https://127.0.0.1:<port>)."""
        return self.plane.server

    @property
    def logs_dir(self) -> Path:
        """Component logs; pod logs are under ``pods/``."""
        return self.plane.logs_dir

    @property
    def node_name(self) -> str:
        """The node registered by the node agent."""
        return self.agent.node.name

    def api_client(self) -> k8s.ApiClient:
        """A new ``ApiClient`` for the admin kubeconfig."""
        return k8s_config.new_client_from_config(config_file=str(self.kubeconfig))

    def core(self) -> k8s.CoreV1Api:
        """CoreV1Api as admin."""
        return k8s.CoreV1Api(self.api_client())

    def batch(self) -> k8s.BatchV1Api:
        """BatchV1Api as admin."""
        return k8s.BatchV1Api(self.api_client())

    def custom(self) -> k8s.CustomObjectsApi:
        """CustomObjectsApi as admin."""
        return k8s.CustomObjectsApi(self.api_client())

    def apiextensions(self) -> k8s.ApiextensionsV1Api:
        """ApiextensionsV1Api as admin."""
        return k8s.ApiextensionsV1Api(self.api_client())

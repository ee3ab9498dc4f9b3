"""examples/argocd/: the Argo CD Application that installs the chart, and the argocd-cm health snippet.

Static checks (no Argo CD here): the Application points at the chart in this repository, creates its
namespace, applies the CRDs server-side and passes the chart's values.schema.json; the ConfigMap
embeds ``charts/safe-synthesizer/argocd/health.lua`` byte for byte under the key Argo CD looks up
for the CRD's group and kind (the script itself is run by ``test_argocd_health.py``).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "argocd"
CHART_DIR = ROOT / "charts" / "safe-synthesizer"


def _one(path: Path) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert len(docs) == 1, f"{path}: expected one document, got {len(docs)}"
    return docs[0]


@pytest.fixture(scope="module")
def app() -> dict[str, Any]:
    return _one(EXAMPLES / "application.yaml")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def test_application_is_an_argo_cd_application(app: dict[str, Any]) -> None:
    assert app["apiVersion"] == "argoproj.io/v1alpha1"
    assert app["kind"] == "Application"
    assert app["metadata"]["name"]
    assert app["metadata"]["namespace"] == "argocd"
    spec = app["spec"]
    assert spec["project"]
    assert "sources" not in spec, "one source: the chart"
    destination = spec["destination"]
    assert destination["namespace"]
    assert destination.get("server") or destination.get("name")


def test_application_source_is_the_chart_in_this_repo(app: dict[str, Any]) -> None:
    source = app["spec"]["source"]
    chart_dir = ROOT / source["path"]
    assert chart_dir.resolve() == CHART_DIR.resolve()
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    assert source["repoURL"].removesuffix(".git") in {chart["home"], *chart["sources"]}
    assert source["targetRevision"]
    assert "chart" not in source, "a Git source names a path, a Helm repository source a chart"
    # The CRD ships in the chart's crds/ and Argo CD applies it unless skipCrds is set.
    assert list((chart_dir / "crds").glob("*.yaml"))
    assert source.get("helm", {}).get("skipCrds", False) is False


def test_application_sync_policy_handles_crds_and_namespace(app: dict[str, Any]) -> None:
    sync = app["spec"]["syncPolicy"]
    options = sync["syncOptions"]
    assert "CreateNamespace=true" in options
    assert "ServerSideApply=true" in options
    assert all("=" in o for o in options), options


def test_application_values_pass_the_chart_schema(app: dict[str, Any]) -> None:
    helm = app["spec"]["source"]["helm"]
    assert "values" not in helm, "one place for values: valuesObject"
    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    jsonschema.validate(_merge(defaults, helm["valuesObject"]), schema)
    # The schema is strict, so a typo in the example would be caught here (and by Helm at sync).
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_merge(defaults, {"jobs": {"s3": {"endpont": "x"}}}), schema)


def test_health_snippet_embeds_health_lua_exactly() -> None:
    cm = _one(EXAMPLES / "argocd-cm.yaml")
    assert (cm["apiVersion"], cm["kind"]) == ("v1", "ConfigMap")
    assert cm["metadata"] == {**cm["metadata"], "name": "argocd-cm", "namespace": "argocd"}
    crd = _one(next((CHART_DIR / "crds").glob("*.yaml")))
    key = f"resource.customizations.health.{crd['spec']['group']}_{crd['spec']['names']['kind']}"
    assert list(cm["data"]) == [key]
    assert cm["data"][key] == (CHART_DIR / "argocd" / "health.lua").read_text()

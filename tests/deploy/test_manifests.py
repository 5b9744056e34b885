"""The compose file and the Kubernetes manifests agree with serve.sh, the nginx template and the image: no
misspelt setting, no replica missing from nginx's upstream, probes on the endpoint the app serves. (No Docker
engine or cluster here: tests/deploy/test_nginx.py runs the template itself, test_container.py the image.)"""

from __future__ import annotations

import re
import subprocess

import kubernetes_validate
import yaml

from .conftest import NGINX_TEMPLATE, ROOT, SERVE_SH, render_template

COMPOSE = ROOT / "deploy" / "compose.yaml"
K8S = ROOT / "deploy" / "kubernetes" / "vgp-explorer.yaml"


def serve_sh_variables() -> set[str]:
    """The environment variables serve.sh reads."""
    return set(re.findall(r"\$\{?((?:VGP|BOKEH|PANEL)_[A-Z0-9_]+)", SERVE_SH.read_text()))


def test_serve_sh_is_valid_posix_sh():
    assert subprocess.run(["sh", "-n", str(SERVE_SH)]).returncode == 0


def test_compose_file():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    apps = sorted(name for name in services if name.startswith("app"))
    assert len(apps) >= 2
    known = serve_sh_variables()
    for name in apps:
        service = services[name]
        assert set(service["environment"]) <= known, set(service["environment"]) - known
        assert service["environment"]["VGP_USE_XHEADERS"] == "1"
        assert service["expose"] == ["5006"]
        assert service["build"]["context"] == ".." and (COMPOSE.parent / ".." / "Dockerfile").exists()
    nginx = services["nginx"]
    env = nginx["environment"]
    # every replica is in nginx's upstream, and nothing else is
    assert re.findall(r"server (\w+):5006;", env["VGP_UPSTREAM_SERVERS"]) == apps
    assert set(nginx["depends_on"]) == set(apps)
    # the template mounted into the nginx image's template directory is the one the loopback test runs,
    # and the variables given are exactly the ones it needs
    source, target = nginx["volumes"][0].split(":")[:2]
    assert (COMPOSE.parent / source).resolve() == NGINX_TEMPLATE
    assert target.startswith("/etc/nginx/templates/") and target.endswith(".template")
    needed = set(re.findall(r"\$\{(VGP_[A-Z0-9_]+)\}", NGINX_TEMPLATE.read_text()))
    given = {k for k in env if k.startswith("VGP_")}
    assert needed == given, (needed, given)
    assert all(re.match(env["NGINX_ENVSUBST_FILTER"], k) for k in given)
    rendered = render_template(NGINX_TEMPLATE.read_text(), {k: env[k] for k in given})
    assert "listen 80;" in rendered and "hash $vgp_route consistent;" in rendered
    # the origin students type defaults to the published port
    published = re.fullmatch(r"\$\{VGP_HTTP_PORT:-(\d+)\}:80", nginx["ports"][0]).group(1)
    default_origin = services[apps[0]]["environment"]["BOKEH_ALLOW_WS_ORIGIN"]
    assert default_origin == f"${{VGP_PUBLIC_ORIGINS:-localhost:{published}}}"


def test_kubernetes_manifests():
    docs = {d["kind"]: d for d in yaml.safe_load_all(K8S.read_text())}
    assert {"Deployment", "Service", "Ingress", "PodDisruptionBudget", "HorizontalPodAutoscaler"} <= set(docs)
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert set(env) <= serve_sh_variables(), set(env) - serve_sh_variables()
    port = container["ports"][0]
    assert str(port["containerPort"]) == env["VGP_PORT"]["value"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/liveness", "port": port["name"]}
    # the image's user (Dockerfile USER) runs the pod
    user = re.search(r"^USER (\d+)", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    assert str(pod["securityContext"]["runAsUser"]) == user
    labels = docs["Deployment"]["spec"]["selector"]["matchLabels"]
    assert (
        docs["Service"]["spec"]["selector"] == labels == docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]
    )
    assert docs["Service"]["spec"]["ports"][0]["targetPort"] == port["name"]
    ingress = docs["Ingress"]
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"  # sticky: page and websocket on one pod
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    host = ingress["spec"]["rules"][0]["host"]
    assert host in env["BOKEH_ALLOW_WS_ORIGIN"]["value"].split(",")
    # the autoscaler owns the replica count and scales the Deployment on CPU, which needs a CPU request
    hpa = docs["HorizontalPodAutoscaler"]["spec"]
    assert "replicas" not in docs["Deployment"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vgp-explorer"}
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    assert container["resources"]["requests"]["cpu"]
    assert docs["PodDisruptionBudget"]["spec"]["minAvailable"] < hpa["minReplicas"] < hpa["maxReplicas"]


def test_kubernetes_manifests_follow_the_api_schemas():
    """Every object validates, strictly (no unknown fields), against the OpenAPI schemas of the newest Kubernetes
    release that kubernetes-validate bundles (offline: the schemas ship in the package)."""
    version = kubernetes_validate.latest_version()
    for doc in yaml.safe_load_all(K8S.read_text()):
        kubernetes_validate.validate(doc, version, strict=True)

"""deploy/kubernetes, checked offline: rendered like kustomize, every object validated against
the Kubernetes JSON Schemas that kubernetes-validate bundles (strict: an unknown field is an
error), and the project's own rules: probes on the health endpoints, resources, a restricted
security context, least-privilege Secrets, and replicas that the code allows.
"""

import copy
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grimp
import kubernetes_validate
import pytest

from services.settings import METRICS_PORTS, Settings
from tests.support.kustomize import (
    UnsupportedKustomizationError,
    containers_of,
    kustomize_command,
    pod_spec,
    render,
    render_with_kustomize,
)

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZATION = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSIONS = ("1.31", kubernetes_validate.latest_version())
"""The oldest Kubernetes the manifests are checked against, and the newest whose schemas the
package bundles."""
IMAGE_UID = 10001
"""The user of deploy/Dockerfile."""

Manifest = dict[str, Any]

SERVICES = ("intake", "processor", "relay", "projections", "clock", "api")
SCALABLE = {"intake": "loyalty.commands", "processor": "loyalty.items"}
"""Services whose instances share the partitions of one consumer group (their topic)."""
SINGLETONS = ("relay", "projections", "clock")
"""Services that must run once: the relay follows the event store and stores its position,
the projections service is the read models' one writer, the clock ticks for everyone."""
POSTGRES_USERS = {"processor", "relay", "projections", "clock", "api", "prepare"}
"""Who gets the services' DSN: everyone but intake, which never touches PostgreSQL."""
ONLY_FOR = {
    "LOYALTY_POSTGRES_OWNER_DSN": {"prepare"},
    "LOYALTY_API_KEYS": {"api"},
    "LOYALTY_LINK_SECRET": {"api"},
}


@pytest.fixture(scope="module")
def objects() -> list[Manifest]:
    return render(KUSTOMIZATION)


def named(objects: list[Manifest], kind: str, name: str) -> Manifest:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def workloads(objects: list[Manifest]) -> dict[str, Manifest]:
    """Every Deployment and Job by its component (intake, ..., api, prepare)."""
    return {o["metadata"]["labels"]["app.kubernetes.io/component"]: o for o in objects
            if pod_spec(o) is not None}


def config(objects: list[Manifest]) -> dict[str, str]:
    data: dict[str, str] = named(objects, "ConfigMap", "loyalty-config")["data"]
    return data


# --- rendering and schemas -----------------------------------------------------------------


def test_every_object_is_valid_for_kubernetes(objects: list[Manifest]) -> None:
    kinds = {o["kind"] for o in objects}
    assert {"Namespace", "ConfigMap", "Secret", "Deployment", "Job", "Service",
            "PodDisruptionBudget"} <= kinds
    for version in KUBERNETES_VERSIONS:
        for manifest in objects:
            kubernetes_validate.validate(manifest, version, strict=True)


def deployment() -> Manifest:
    return copy.deepcopy(named(render(KUSTOMIZATION), "Deployment", "loyalty-processor"))


def misspelled_probe(d: Manifest) -> None:
    container = d["spec"]["template"]["spec"]["containers"][0]
    container["livenesProbe"] = container.pop("livenessProbe")


def replicas_as_words(d: Manifest) -> None:
    d["spec"]["replicas"] = "two"


def container_without_name(d: Manifest) -> None:
    del d["spec"]["template"]["spec"]["containers"][0]["name"]


def probe_port_as_list(d: Manifest) -> None:
    d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = [9402]


def memory_limit_as_mapping(d: Manifest) -> None:
    d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = {"Gi": 1}


def env_without_name(d: Manifest) -> None:
    d["spec"]["template"]["spec"]["containers"][0]["env"] = [{"value": "1"}]


@pytest.mark.parametrize("breaking", [misspelled_probe, replicas_as_words, container_without_name,
                                      probe_port_as_list, memory_limit_as_mapping,
                                      env_without_name])
def test_the_schemas_reject_a_broken_object(breaking: Callable[[Manifest], None]) -> None:
    broken = deployment()
    kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)  # valid before
    breaking(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_a_broken_file_fails_the_whole_check(tmp_path: Path) -> None:
    copied = shutil.copytree(KUSTOMIZATION, tmp_path / "kubernetes")
    api = copied / "api.yaml"
    api.write_text(api.read_text().replace("readinessProbe:", "readynessProbe:", 1))

    with pytest.raises(kubernetes_validate.ValidationError, match="readynessProbe"):
        for manifest in render(copied):
            kubernetes_validate.validate(manifest, KUBERNETES_VERSIONS[-1], strict=True)


def test_a_kustomization_the_renderer_does_not_know_is_refused(tmp_path: Path) -> None:
    copied = shutil.copytree(KUSTOMIZATION, tmp_path / "kubernetes")
    kustomization = copied / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "patches:\n  - path: more.yaml\n")

    with pytest.raises(UnsupportedKustomizationError, match="patches"):
        render(copied)


def test_kustomize_renders_the_same_objects(objects: list[Manifest]) -> None:
    command = kustomize_command()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is installed")

    def keyed(rendered: list[Manifest]) -> dict[tuple[str, str], Manifest]:
        return {(o["kind"], o["metadata"]["name"]): o for o in rendered}

    assert keyed(render_with_kustomize(KUSTOMIZATION, command)) == keyed(objects)


# --- the project's rules -------------------------------------------------------------------


def secret_keys_of(objects: list[Manifest], workload: Manifest) -> dict[str, str]:
    """Every environment variable a workload gets from a Secret -> the Secret's name."""
    secrets = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Secret"}
    keys: dict[str, str] = {}
    for container in containers_of(workload):
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                name = source["secretRef"]["name"]
                secret = secrets[name]
                for key in {**secret.get("data", {}), **secret.get("stringData", {})}:
                    keys[source.get("prefix", "") + key] = name
        for variable in container.get("env", []):
            reference = variable.get("valueFrom", {}).get("secretKeyRef")
            if reference:
                keys[variable["name"]] = reference["name"]
    return keys


def problems_of(objects: list[Manifest]) -> list[str]:
    """What breaks the project's rules, one line each (none: the manifests are right)."""
    problems: list[str] = []
    every = workloads(objects)
    partitions = int(config(objects)["LOYALTY_TOPIC_PARTITIONS"])
    for component, workload in every.items():
        spec = pod_spec(workload)
        assert spec is not None
        where = f"{workload['kind']} {workload['metadata']['name']}"
        pod_security = spec.get("securityContext", {})
        if not (pod_security.get("runAsNonRoot") and pod_security.get("runAsUser") == IMAGE_UID):
            problems.append(f"{where}: not run as non-root uid {IMAGE_UID}")
        if pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{where}: no RuntimeDefault seccomp profile")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: mounts a service account token")
        if spec.get("enableServiceLinks") is not False:
            problems.append(f"{where}: service links inject *_PORT variables into LOYALTY_*")
        for container in containers_of(workload):
            security = container.get("securityContext", {})
            if (security.get("allowPrivilegeEscalation") is not False
                    or security.get("readOnlyRootFilesystem") is not True
                    or security.get("capabilities", {}).get("drop") != ["ALL"]):
                problems.append(f"{where}: container security context not restricted")
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                if set(resources.get(bound, {})) != {"cpu", "memory"}:
                    problems.append(f"{where}: no {bound} of cpu and memory")
            if workload["kind"] == "Deployment":
                problems.extend(probe_problems(where, component, container,
                                               config(objects)))
        keys = secret_keys_of(objects, workload)
        for key, allowed in ONLY_FOR.items():
            if key in keys and component not in allowed:
                problems.append(f"{where}: gets {key}")
        if ("LOYALTY_POSTGRES_DSN" in keys) != (component in POSTGRES_USERS):
            problems.append(f"{where}: LOYALTY_POSTGRES_DSN where it is "
                            f"{'not ' if component not in POSTGRES_USERS else ''}needed")
        if keys.get("LOYALTY_KAFKA_SASL_PASSWORD") != f"loyalty-kafka-{component}":
            problems.append(f"{where}: not its own Kafka principal")
        if workload["kind"] == "Deployment":
            problems.extend(replica_problems(where, component, workload, partitions))
    for component in (*SERVICES, "prepare"):
        if component not in every:
            problems.append(f"no workload for {component}")
    return problems


def probe_problems(where: str, component: str, container: Manifest,
                   settings: dict[str, str]) -> list[str]:
    """The liveness and readiness probes on the health contract's endpoints and ports."""
    problems = []
    ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
    env = {variable["name"]: variable.get("value") for variable in container.get("env", [])}
    if component == "api":
        expected = ("http", int(settings["LOYALTY_HTTP_PORT"]))
    else:
        expected = ("metrics", METRICS_PORTS[component])
        if env.get("LOYALTY_METRICS_PORT") != str(expected[1]):
            problems.append(f"{where}: LOYALTY_METRICS_PORT is not {expected[1]}")
    if ports.get(expected[0]) != expected[1]:
        problems.append(f"{where}: port {expected[0]} is not {expected[1]}")
    for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        get = container.get(probe, {}).get("httpGet", {})
        if (get.get("path"), get.get("port")) != (path, expected[0]):
            problems.append(f"{where}: no {probe} on {path} at port {expected[0]}")
    startup = container.get("startupProbe")
    if startup and startup.get("httpGet", {}).get("path") != "/livez":
        problems.append(f"{where}: startupProbe not on /livez")
    return problems


def replica_problems(where: str, component: str, workload: Manifest,
                     partitions: int) -> list[str]:
    spec = workload["spec"]
    replicas, strategy = spec.get("replicas", 1), spec.get("strategy", {})
    if component in SINGLETONS:
        if replicas != 1 or strategy.get("type") != "Recreate":
            return [f"{where}: must run once (replicas 1, strategy Recreate)"]
    elif component in SCALABLE:
        if not 1 <= replicas <= partitions:
            return [f"{where}: {replicas} replicas, the topic has {partitions} partitions"]
        if strategy.get("rollingUpdate", {}).get("maxSurge") != 0:
            return [f"{where}: a rollout surges past the replicas"]
    return []


def test_the_manifests_keep_the_projects_rules(objects: list[Manifest]) -> None:
    assert problems_of(objects) == []


def owner_dsn_for_the_processor(objects: list[Manifest]) -> None:
    container = named(objects, "Deployment", "loyalty-processor")["spec"]["template"]["spec"][
        "containers"][0]
    container["envFrom"].append({"secretRef": {"name": "loyalty-postgres-owner"}})


def link_secret_for_the_relay(objects: list[Manifest]) -> None:
    container = named(objects, "Deployment", "loyalty-relay")["spec"]["template"]["spec"][
        "containers"][0]
    container["env"].append({"name": "LOYALTY_LINK_SECRET", "valueFrom": {
        "secretKeyRef": {"name": "loyalty-api", "key": "LOYALTY_LINK_SECRET"}}})


def postgres_for_intake(objects: list[Manifest]) -> None:
    container = named(objects, "Deployment", "loyalty-intake")["spec"]["template"]["spec"][
        "containers"][0]
    container["envFrom"].append({"secretRef": {"name": "loyalty-postgres"}})


def no_readiness_probe(objects: list[Manifest]) -> None:
    del named(objects, "Deployment", "loyalty-clock")["spec"]["template"]["spec"][
        "containers"][0]["readinessProbe"]


def run_as_root(objects: list[Manifest]) -> None:
    named(objects, "Deployment", "loyalty-api")["spec"]["template"]["spec"][
        "securityContext"]["runAsUser"] = 0


def two_relays(objects: list[Manifest]) -> None:
    named(objects, "Deployment", "loyalty-relay")["spec"]["replicas"] = 2


def processors_beyond_partitions(objects: list[Manifest]) -> None:
    named(objects, "Deployment", "loyalty-processor")["spec"]["replicas"] = 9


def no_memory_limit(objects: list[Manifest]) -> None:
    del named(objects, "Deployment", "loyalty-projections")["spec"]["template"]["spec"][
        "containers"][0]["resources"]["limits"]["memory"]


def shared_kafka_principal(objects: list[Manifest]) -> None:
    container = named(objects, "Deployment", "loyalty-clock")["spec"]["template"]["spec"][
        "containers"][0]
    container["envFrom"] = [source for source in container["envFrom"]
                            if source.get("secretRef", {}).get("name") != "loyalty-kafka-clock"]
    container["envFrom"].append({"secretRef": {"name": "loyalty-kafka-processor"}})


@pytest.mark.parametrize(("breaking", "complaint"), [
    (owner_dsn_for_the_processor, "loyalty-processor: gets LOYALTY_POSTGRES_OWNER_DSN"),
    (link_secret_for_the_relay, "loyalty-relay: gets LOYALTY_LINK_SECRET"),
    (postgres_for_intake, "loyalty-intake: LOYALTY_POSTGRES_DSN where it is not needed"),
    (no_readiness_probe, "loyalty-clock: no readinessProbe"),
    (run_as_root, "loyalty-api: not run as non-root"),
    (two_relays, "loyalty-relay: must run once"),
    (processors_beyond_partitions, "loyalty-processor: 9 replicas, the topic has 8"),
    (no_memory_limit, "loyalty-projections: no limits"),
    (shared_kafka_principal, "loyalty-clock: not its own Kafka principal"),
])
def test_the_rules_catch_a_broken_manifest(breaking: Callable[[list[Manifest]], None],
                                           complaint: str) -> None:
    broken = render(KUSTOMIZATION)
    breaking(broken)
    assert any(complaint in problem for problem in problems_of(broken)), problems_of(broken)


def test_the_secrets_go_where_the_code_reads_them() -> None:
    """The manifests give intake no DSN and only the api the keys and the link secret; this
    fails when the code starts reading them elsewhere, so that the manifests follow."""
    graph = grimp.build_graph("services", "projections", "events",
                              include_external_packages=True)
    assert not graph.chain_exists(importer="services.intake", imported="psycopg",
                                  as_packages=True)
    readers = {path.relative_to(ROOT).as_posix()
               for package in ("services", "projections") for path in (ROOT / package).rglob("*.py")
               if re.search(r"\b(link_secret|api_keys|api_key_digests|insecure)\b",
                            path.read_text())}
    assert {reader for reader in readers if not reader.startswith("services/api/")} == {
        "services/settings.py",  # defines them
        "services/run.py",  # refuse_if_insecure: for `loyalty api` (and `loyalty run`)
    }


def test_the_secret_templates_are_placeholders_the_api_refuses(objects: list[Manifest]) -> None:
    secrets = [o for o in objects if o["kind"] == "Secret"]
    for secret in secrets:
        assert "data" not in secret, "templates hold no real (base64) values"
        for key, value in secret["stringData"].items():
            assert "REPLACE-ME" in value or key == "LOYALTY_KAFKA_SASL_USERNAME", key
    api = named(objects, "Secret", "loyalty-api")["stringData"]
    settings = Settings(api_keys=api["LOYALTY_API_KEYS"], link_secret=api["LOYALTY_LINK_SECRET"])
    assert settings.insecure(), "the API would start with the placeholders"


def test_the_config_map_holds_no_secret(objects: list[Manifest]) -> None:
    for key in config(objects):
        assert not re.search(r"PASSWORD|DSN|SECRET|API_KEYS", key), key


def test_every_variable_set_is_a_setting(objects: list[Manifest]) -> None:
    """A misspelt variable would be ignored silently (the settings ignore unknown ones)."""
    known = {f"LOYALTY_{field.upper()}" for field in Settings.model_fields}
    secrets = [o for o in objects if o["kind"] == "Secret"]
    keys = set(config(objects)) | {key for secret in secrets for key in secret["stringData"]
                                   if key.startswith("LOYALTY_")}
    for workload in workloads(objects).values():
        keys |= {variable["name"] for c in containers_of(workload) for variable in c.get("env", [])}
    assert keys - known == set()
    assert config(objects)["LOYALTY_KAFKA_SSL_CAFILE"].startswith("/etc/loyalty/kafka/")


def test_every_reference_names_an_object_of_the_kustomization(objects: list[Manifest]) -> None:
    present = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for workload in workloads(objects).values():
        spec = pod_spec(workload)
        assert spec is not None
        assert ("ServiceAccount", spec["serviceAccountName"]) in present
        for container in containers_of(workload):
            for source in container.get("envFrom", []):
                kind = "Secret" if "secretRef" in source else "ConfigMap"
                reference = source.get("secretRef") or source["configMapRef"]
                assert (kind, reference["name"]) in present, reference
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                assert ("Secret", volume["secret"]["secretName"]) in present


def test_services_and_budgets_select_pods_with_their_ports(objects: list[Manifest]) -> None:
    templates = [(w["spec"]["template"]["metadata"]["labels"], w)
                 for w in objects if w["kind"] == "Deployment"]

    def selected(selector: dict[str, str]) -> list[Manifest]:
        return [w for labels, w in templates if selector.items() <= labels.items()]

    for service in (o for o in objects if o["kind"] == "Service"):
        pods = selected(service["spec"]["selector"])
        assert pods, service["metadata"]["name"]
        for port in service["spec"]["ports"]:
            for workload in pods:
                names = {p["name"] for c in containers_of(workload) for p in c.get("ports", [])}
                assert port["targetPort"] in names, (service["metadata"]["name"], workload)
    for budget in (o for o in objects if o["kind"] == "PodDisruptionBudget"):
        (workload,) = selected(budget["spec"]["selector"]["matchLabels"])
        assert workload["spec"]["replicas"] > 1, "a budget on a single instance blocks drains"


def test_no_service_name_could_set_a_setting(objects: list[Manifest]) -> None:
    """Service links (off here, on by default) give pods `<SERVICE>_PORT`-style variables: a
    Service named loyalty-metrics would set LOYALTY_METRICS_PORT to `tcp://...`."""
    settings = {f"LOYALTY_{field.upper()}" for field in Settings.model_fields}
    for service in (o for o in objects if o["kind"] == "Service"):
        prefix = service["metadata"]["name"].upper().replace("-", "_")
        for suffix in ("_SERVICE_HOST", "_SERVICE_PORT", "_PORT"):
            assert prefix + suffix not in settings
        assert not any(setting.startswith(prefix + "_PORT_") for setting in settings)


def test_the_probed_paths_are_those_the_services_serve() -> None:
    from services.adapters.health import Watchdog, probes_app
    from services.adapters.metrics import ServiceMetrics
    from services.api.health import router

    app = probes_app(Watchdog("processor", stuck_after=60.0), ServiceMetrics("processor"))
    statuses: list[str] = []
    for path in ("/livez", "/readyz"):
        app({"PATH_INFO": path, "REQUEST_METHOD": "GET"},
            lambda status, headers: statuses.append(status))
    assert statuses == ["200 OK", "200 OK"]
    assert {"/livez", "/readyz"} <= {getattr(route, "path", None) for route in router.routes}


def test_the_master_key_reaches_the_workloads_that_read_personal_data(
    objects: list[Manifest]
) -> None:
    holders = {component for component, workload in workloads(objects).items()
               if any(source.get("secretRef", {}).get("name") == "loyalty-master-key"
                      for container in containers_of(workload)
                      for source in container.get("envFrom", []))}
    assert holders == {"processor", "relay", "projections", "api", "prepare"}

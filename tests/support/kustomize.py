"""A kustomization rendered in Python, for the offline tests of deploy/kubernetes.

It understands what deploy/kubernetes uses, the way kustomize does it: `resources` (files),
`namespace` (set on every namespaced object) and `images` (a container image's name and tag
replaced). Any other field is refused, so a kustomization that outgrows this renderer fails
its tests instead of being rendered wrong; where `kubectl` or `kustomize` is installed, the
tests also check that kustomize itself renders the same objects.
"""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = frozenset({"apiVersion", "kind", "namespace", "resources", "images"})
CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
    "PriorityClass", "CustomResourceDefinition", "IngressClass", "RuntimeClass",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
})
POD_TEMPLATE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})

Manifest = dict[str, Any]


class UnsupportedKustomizationError(ValueError):
    """The kustomization uses something this renderer does not implement."""


def load_all(path: Path) -> list[Manifest]:
    """The objects of one YAML file (empty documents skipped)."""
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def render(directory: Path) -> list[Manifest]:
    """The objects that `kustomize build directory` would produce, in the order of the files."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise UnsupportedKustomizationError(
            f"kustomization fields not rendered by tests/support/kustomize.py: {sorted(unknown)}")
    objects: list[Manifest] = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        if not path.is_file():
            raise UnsupportedKustomizationError(f"resource {resource!r} is not a file")
        objects.extend(load_all(path))
    namespace = kustomization.get("namespace")
    for manifest in objects:
        if namespace and manifest["kind"] not in CLUSTER_SCOPED:
            manifest["metadata"]["namespace"] = namespace
        for image in kustomization.get("images", []):
            for container in containers_of(manifest):
                container["image"] = retagged(container["image"], image)
    return objects


def pod_spec(manifest: Manifest) -> Manifest | None:
    """The pod spec of a workload (None for other objects)."""
    if manifest["kind"] not in POD_TEMPLATE_KINDS:
        return None
    spec: Manifest = manifest["spec"]["template"]["spec"]
    return spec


def containers_of(manifest: Manifest) -> list[Manifest]:
    """Every container of a workload, init containers included."""
    spec = pod_spec(manifest)
    if spec is None:
        return []
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def retagged(reference: str, image: Manifest) -> str:
    """`reference` with the name and tag that the kustomization's `images` entry sets."""
    name, tag = reference, None
    if "@" not in reference and ":" in reference.rsplit("/", 1)[-1]:
        name, tag = reference.rsplit(":", 1)
    if name != image["name"]:
        return reference
    unknown = set(image) - {"name", "newName", "newTag"}
    if unknown:
        raise UnsupportedKustomizationError(f"images fields not rendered: {sorted(unknown)}")
    name = image.get("newName", name)
    tag = str(image["newTag"]) if "newTag" in image else tag
    return f"{name}:{tag}" if tag else name


def kustomize_command() -> list[str] | None:
    """The installed kustomize, standalone or inside kubectl (None when neither is)."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def render_with_kustomize(directory: Path, command: list[str]) -> list[Manifest]:
    """The objects that the real kustomize renders (offline: it reads local files only)."""
    output = subprocess.run([*command, str(directory)], capture_output=True, text=True,
                            check=True, timeout=60).stdout
    return [document for document in yaml.safe_load_all(output) if document]

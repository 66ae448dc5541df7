"""The manifest as Kubernetes objects: per instance a ConfigMap of its plain environment
and a Deployment running its consumer directly (the orchestrator is the supervisor),
plus one ConfigMap holding the manifest itself. Secrets are referenced, never written:
each ``${VAR}`` is a key of the Secret ``<project>-secrets`` the operator creates."""

from __future__ import annotations

from typing import Any

from hueyctl.errors import BadInput
from hueyctl.export import shared
from hueyctl.model import Instance, Manifest
from hueyctl.values import FILE_PREFIX, SQLITE_PREFIX

MANIFEST_KEY = "hueyctl.yaml"
# Storages on one host's disk: (what it is, what pods would have to share).
_ONE_HOST = {SQLITE_PREFIX: ("SQLite", "a file"), FILE_PREFIX: ("file storage", "a directory")}


def export(manifest: Manifest, image: str) -> dict[str, str]:
    """File name -> contents: ``manifest.yaml`` and one ``<instance>.yaml`` per instance."""
    for instance in manifest.instances.values():
        for prefix, (storage, what) in _ONE_HOST.items():
            if instance.storage.startswith(prefix):
                raise BadInput(
                    f"instance {instance.name!r} uses {storage} ({instance.storage}): pods do "
                    f"not share {what}; give it a redis:// storage to run it on Kubernetes"
                )
    head = shared.header(manifest, "kubernetes")
    files = {"manifest.yaml": head + shared.dump([manifest_map(manifest)])}
    for instance in manifest.instances.values():
        objects = [environment_map(manifest, instance), deployment(manifest, instance, image)]
        files[f"{instance.name}.yaml"] = head + shared.dump(objects)
    return files


def _name(manifest: Manifest, suffix: str) -> str:
    return f"{manifest.project}-{suffix}".replace("_", "-")


def _labels(manifest: Manifest, instance: Instance | None = None) -> dict[str, str]:
    labels = {"app.kubernetes.io/part-of": manifest.project.replace("_", "-")}
    if instance is not None:
        labels["app.kubernetes.io/name"] = instance.name.replace("_", "-")
    labels["app.kubernetes.io/managed-by"] = "hueyctl"
    return labels


def _metadata(manifest: Manifest, name: str, instance: Instance | None = None) -> dict[str, Any]:
    return {"name": _name(manifest, name), "labels": _labels(manifest, instance)}


def manifest_map(manifest: Manifest) -> dict[str, Any]:
    """The manifest file as it is (``${VAR}`` references, never their values)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(manifest, "manifest"),
        "data": {MANIFEST_KEY: manifest.path.read_text(encoding="utf-8")},
    }


def environment_map(manifest: Manifest, instance: Instance) -> dict[str, Any]:
    """The instance's plain environment; values naming a ``${VAR}`` the launcher sets."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(manifest, f"{instance.name}-env", instance),
        "data": shared.container_environment(manifest, instance),
    }


def _secret_refs(manifest: Manifest, instance: Instance) -> list[dict[str, Any]]:
    secret = _name(manifest, "secrets")
    return [
        {"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": var}}}
        for var in shared.variables(manifest, instance)
    ]


def _probe(instance: Instance) -> dict[str, Any]:
    """Fails when this pod's consumer has not heartbeated within its heartbeat timeout;
    it heartbeats every third of it, so a healthy consumer never fails it."""
    return {
        "exec": {"command": shared.liveness(shared.CONTAINER_MANIFEST, instance)},
        "initialDelaySeconds": shared.probe_delay(instance),
        "periodSeconds": shared.probe_period(instance),
        "timeoutSeconds": 10,
        "failureThreshold": 3,
    }


def _container(manifest: Manifest, instance: Instance, image: str) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "consumer",
        "image": image,
        "command": shared.launch(shared.CONTAINER_MANIFEST, instance),
        "workingDir": shared.APP_DIR,
        "envFrom": [{"configMapRef": {"name": _name(manifest, f"{instance.name}-env")}}],
    }
    refs = _secret_refs(manifest, instance)
    if refs:
        container["env"] = refs
    container["livenessProbe"] = _probe(instance)
    if instance.resources:
        container["resources"] = {"requests": dict(instance.resources)}
    container["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    container["volumeMounts"] = [
        {
            "name": "manifest",
            "mountPath": shared.CONTAINER_MANIFEST,
            "subPath": MANIFEST_KEY,
            "readOnly": True,
        },
        {"name": "state", "mountPath": shared.CONTAINER_STATE_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    return container


def deployment(manifest: Manifest, instance: Instance, image: str) -> dict[str, Any]:
    """The instance's consumers. Kubernetes stops a pod with SIGTERM, on which the
    consumer drains as on SIGINT; the grace period outlasts its shutdown timeout."""
    selector = _labels(manifest, instance)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(manifest, instance.name, instance),
        "spec": {
            "replicas": instance.replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": selector,
                    # A change of the instance's settings rolls its pods (the manifest
                    # is read at start, and a subPath mount is never refreshed).
                    "annotations": {"hueyctl/settings": shared.settings_digest(manifest, instance)},
                },
                "spec": {
                    "terminationGracePeriodSeconds": shared.stop_timeout(instance),
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                    "containers": [_container(manifest, instance, image)],
                    "volumes": [
                        {"name": "manifest", "configMap": {"name": _name(manifest, "manifest")}},
                        {"name": "state", "emptyDir": {}},
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        },
    }

"""The manifest as a Docker Compose project: one service per instance running its
consumer directly, stopped with the signal it drains on, with a healthcheck that fails
when its heartbeats stop. A ``${VAR}`` stays a reference Compose fills in from the shell
or an ``.env`` file; the manifest is copied beside the compose file and mounted."""

from __future__ import annotations

from typing import Any

from hueyctl.export import shared
from hueyctl.model import Instance, Manifest


def export(manifest: Manifest, image: str) -> dict[str, str]:
    """File name -> contents: ``compose.yaml`` and the manifest it mounts."""
    services = {i.name: service(manifest, i, image) for i in manifest.instances.values()}
    project = {
        "name": manifest.project.replace("_", "-"),
        "services": services,
        "volumes": {"state": {}},
    }
    return {
        "compose.yaml": shared.header(manifest, "compose") + shared.dump([project]),
        "hueyctl.yaml": manifest.path.read_text(encoding="utf-8"),
    }


def _literal(value: str) -> str:
    """A value Compose must not interpolate: ``$`` written as ``$$``."""
    return value.replace("$", "$$")


def service(manifest: Manifest, instance: Instance, image: str) -> dict[str, Any]:
    """The instance's consumers (``deploy.replicas`` of them), one container each."""
    plain = shared.container_environment(manifest, instance)
    environment = {key: _literal(value) for key, value in plain.items()}
    for var in shared.variables(manifest, instance):
        environment[var] = f"${{{var}:?set {var}}}"
    environment["HUEYCTL_SETTINGS"] = shared.settings_digest(manifest, instance)
    return {
        "image": image,
        "command": shared.launch(shared.CONTAINER_MANIFEST, instance),
        "working_dir": shared.APP_DIR,
        "environment": environment,
        "volumes": [
            f"./hueyctl.yaml:{shared.CONTAINER_MANIFEST}:ro",
            f"state:{shared.CONTAINER_STATE_DIR}",
        ],
        # The consumer drains on SIGINT (as under supervisord and systemd).
        "stop_signal": "SIGINT",
        "stop_grace_period": f"{shared.stop_timeout(instance)}s",
        "healthcheck": {
            "test": ["CMD", *shared.liveness(shared.CONTAINER_MANIFEST, instance)],
            "interval": f"{shared.probe_period(instance)}s",
            "timeout": "10s",
            "retries": 3,
            "start_period": f"{shared.probe_delay(instance)}s",
        },
        "restart": "unless-stopped",
        "deploy": {"replicas": instance.replicas},
    }

"""The manifest as systemd units: one template unit runs any instance's consumer
directly (systemd is the supervisor), and one drop-in per instance holds what differs
(its stop timeout, its settings). ``${VAR}`` secrets come from the operator's
``EnvironmentFile``, which this never writes; the launcher sets the rest of the env."""

from __future__ import annotations

from hueyctl.export import shared
from hueyctl.model import Instance, Manifest

# Where the units expect things, as in deploy/systemd/hueyctl@.service.
VENV = "/opt/hueyctl"
SOURCE = "/srv/hueyctl"
SECRETS = "/etc/hueyctl"

# The sandbox of deploy/systemd/hueyctl@.service (a test keeps the two the same).
HARDENING = (
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "RestrictSUIDSGID=yes",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "LockPersonality=yes",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    "CapabilityBoundingSet=",
)


def unit_name(manifest: Manifest, instance: str = "") -> str:
    """``huey-<project>@.service``, or the instance ``huey-<project>@<instance>.service``."""
    return f"huey-{manifest.project}@{instance}.service"


def export(manifest: Manifest, python: str = f"{VENV}/bin/python") -> dict[str, str]:
    """File name -> contents: the template unit and one drop-in per instance."""
    files = {unit_name(manifest): template(manifest, python)}
    for instance in manifest.instances.values():
        files[f"{unit_name(manifest, instance.name)}.d/hueyctl.conf"] = drop_in(manifest, instance)
    return files


def template(manifest: Manifest, python: str) -> str:
    """The unit every instance of the project runs as: ``%i`` is the instance's name."""
    project = manifest.project
    directory = f"{SOURCE}/{project}"
    secrets = sorted(
        {v for i in manifest.instances.values() for v in shared.variables(manifest, i)}
    )
    lines = [
        shared.header(manifest, "systemd").rstrip("\n"),
        f"# Install: copy to /etc/systemd/system/ with the {unit_name(manifest, '*')}.d/",
        f"# drop-ins, then `systemctl enable --now {unit_name(manifest, 'INSTANCE')}`.",
        f"# {SECRETS}/{project}.env (root:root, mode 0600), the operator's, sets the secrets:",
        f"#   {', '.join(secrets) or '(none: the manifest names no ${VAR})'}",
        "",
        "[Unit]",
        f"Description=Huey consumer of instance %i of the hueyctl project {project}",
        "Wants=network-online.target",
        "After=network-online.target redis-server.service",
        "",
        "[Service]",
        "Type=simple",
        "User=hueyctl",
        "Group=hueyctl",
        f"WorkingDirectory={directory}",
        f"EnvironmentFile=-{SECRETS}/{project}.env",
        f"Environment=HUEYCTL_STATE_DIR=%S/hueyctl/{project}",
        f"ExecStart={python} -m hueyctl.launch {directory}/{manifest.path.name} %i",
        "ExecReload=/bin/kill -HUP $MAINPID",
        # The consumer drains on SIGINT, as under supervisord; its own worker processes
        # it stops itself, and whatever is left when TimeoutStopSec ends is killed.
        "KillSignal=SIGINT",
        "KillMode=mixed",
        "Restart=on-failure",
        "RestartSec=5",
        # Exit status 2 is a bad manifest: retrying will not fix it.
        "RestartPreventExitStatus=2",
        f"StateDirectory=hueyctl/{project}",
        "StateDirectoryMode=0700",
        "UMask=0077",
        *HARDENING,
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def drop_in(manifest: Manifest, instance: Instance) -> str:
    """What is the instance's own: its stop timeout, and its settings' digest (a changed
    digest shows, in a diff, that the consumer must be restarted)."""
    return (
        shared.header(manifest, "systemd")
        + "[Service]\n"
        + f"TimeoutStopSec={shared.stop_timeout(instance)}\n"
        + f"Environment=HUEYCTL_SETTINGS={shared.settings_digest(manifest, instance)}\n"
    )

"""Enqueue a few tasks on a running deployment and print their results.

    hueyctl up examples/manifests/quickstart.yaml
    python examples/manifests/enqueue_demo.py [MANIFEST]

The enqueuing side never repeats a storage URL: ``hueyctl.bind`` reads the manifest
and points each instance's Huey object at the storage its consumer uses.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hueyctl
from huey.exceptions import DataStoreTimeout

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    manifest = Path(argv[0]) if argv else HERE / "quickstart.yaml"
    hueys = hueyctl.bind(manifest)
    # Imported after bind, which has put the manifest's directory on sys.path.
    from demo import emails, reports, webhooks

    calls = {
        "emails.send_welcome": emails.send_welcome("ada@example.com"),
        "reports.monthly_total": reports.monthly_total([19.99, 5.01, 75.0]),
    }
    if "webhooks" in hueys:
        calls["webhooks.deliver"] = webhooks.deliver("https://example.com/hook", "order.paid")
    for name, result in calls.items():
        try:
            value = result.get(blocking=True, timeout=10)
        except DataStoreTimeout:
            print(f"{name}: no result after 10s; is the deployment up? try `hueyctl status`")
            return 1
        print(f"{name} -> {value!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

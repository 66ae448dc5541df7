#!/bin/sh
# The container's main process: supervisord in the foreground, on the config that
# `hueyctl up` would write, so that `docker stop` (SIGTERM) reaches it directly.
# supervisord then stops each consumer with SIGINT and waits its shutdown timeout,
# and as pid 1 it reaps every orphan.
#
#   entrypoint.sh [MANIFEST [STATE_DIR]]
#
# STATE_DIR must be the manifest's state_dir (the socket `hueyctl status` talks to
# lives there); the defaults match the image's /app/hueyctl.yaml.
set -eu
manifest=${1:-/app/hueyctl.yaml}
state=${2:-/app/.hueyctl}

hueyctl validate --check-imports "$manifest"
mkdir -p -m 0700 "$state/logs"
hueyctl render "$manifest" > "$state/supervisord.conf"
exec supervisord --nodaemon -c "$state/supervisord.conf"

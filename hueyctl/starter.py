"""The commented starter manifest that `hueyctl init` writes."""

STARTER = """\
# hueyctl manifest (format version 1): one deployment of one or more Huey instances.
# Every key, its type, default and an example: docs/manifest.md in huey-ng.
# Bring it up with `hueyctl up THIS_FILE`; see what would change with `hueyctl plan`.
version: 1
project: myproject            # names the deployment; lowercase letters, digits, - and _
state_dir: .hueyctl           # supervisord's config, socket, pid file and logs (relative
                              # to this file); `--state-dir DIR` or HUEYCTL_STATE_DIR=DIR
                              # put them elsewhere without editing this file
env:                          # set for every consumer; "${VAR}" reads hueyctl's environment
  APP_ENV: production
instances:
  default:
    app: tasks:huey           # import path of your Huey object ("module:attribute"),
                              # importable from this file's directory
    # django_settings: mysite.settings   # a Django project: set Django up first
    storage: sqlite:///tasks.db   # or redis://127.0.0.1:6379/0, or file:queues (a
                              # directory); omitted: SQLite in state_dir. The
                              # application that enqueues calls
                              # hueyctl.bind("THIS_FILE") to use the same storage
    workers: 2
    # replicas: 1             # consumer processes of this instance on this host
    worker_type: thread       # thread | process | greenlet
    # periodic: true          # false: this consumer does not enqueue periodic tasks
    # global_scheduler: true  # false: every consumer enqueues them, not one per instance
    # utc: true               # false: cron and ETAs in local time
    # shutdown_timeout: 30    # seconds running tasks get to finish on stop
    # heartbeat_timeout: 30   # seconds without a heartbeat before a consumer's
                              # in-flight tasks are put back in the queue
    # flush_locks: false      # true: release every lock_task lock at start
    # verbose: false          # true: log at DEBUG level
    # startsecs: 2            # seconds a consumer must stay up to count as started
    # hooks:
    #   pre_execute: [tasks:before_task]
    #   post_execute: [tasks:after_task]
    # schedules:
    #   nightly-report: {task: tasks:report, cron: "0 3 * * *"}
    #   weekly-eu: {task: tasks:report, cron: "0 4 * * 1", args: [eu], kwargs: {days: 7}}
    # env: {SMTP_HOST: mail.internal}
    # resources: {cpu: "250m", memory: 256Mi}   # for `hueyctl export --to kubernetes`
# http: {port: 9001, username: admin, password: "${SUPERVISOR_PASSWORD}"}
#   supervisord's web UI on 127.0.0.1; the password is "${VAR}" (supervisord reads it
#   from its environment) or a "{SHA}" hex digest, never clear text.
"""

"""Event names the consumer emits through ``storage.emit()`` (JSON objects).

Every event has ``status`` (one of the names below), ``time`` (UTC ISO-8601) and ``pid``.
Events about a task add ``id``, ``task`` (its registered name), ``retries`` and
``execute_time``. Extra fields:

=====================  ==========================================================
status                 extra fields
=====================  ==========================================================
started                (none): a worker began running the task
finished               ``duration`` (seconds)
error-task             ``duration``, ``error`` (repr), ``traceback``
retrying               ``delay`` (seconds until the retry runs)
revoked                (none): the task was revoked and thrown away
canceled               a pre-execute hook raised CancelExecution
expired                the task's ``expires`` time passed before it ran: thrown away
locked                 a lock_task lock was held; ``error`` names the lock
scheduled              the task's execute time is in the future, it waits
enqueued-periodic      a periodic task was enqueued for this minute
error-dequeueing       ``error``: a payload could not be decoded (sent to the error store)
requeued               ``count``, ``consumer``: in-flight tasks of a dead consumer went back
=====================  ==========================================================
"""

EVENT_STARTED = "started"
EVENT_FINISHED = "finished"
EVENT_ERROR_TASK = "error-task"
EVENT_RETRYING = "retrying"
EVENT_REVOKED = "revoked"
EVENT_CANCELED = "canceled"
EVENT_EXPIRED = "expired"
EVENT_LOCKED = "locked"
EVENT_SCHEDULED = "scheduled"
EVENT_ENQUEUED_PERIODIC = "enqueued-periodic"
EVENT_ERROR_DEQUEUEING = "error-dequeueing"
EVENT_REQUEUED = "requeued"

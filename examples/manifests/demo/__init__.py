"""The example application the manifests in ``examples/manifests`` run.

One module per Huey instance (``emails``, ``reports``, ``webhooks``) plus ``hooks``,
the functions a manifest attaches to every task of an instance. The modules name
their Huey object only; the storage comes from the manifest, so the same code runs
on SQLite for the quickstart and on Redis in production.
"""

"""`hueyctl dashboard`: a live web page, a JSON API and /metrics for recorded deployments.

:mod:`.data` gathers what the page shows through hueyctl's library functions,
:mod:`.rates` turns sampled counters into per-minute series, :mod:`.guard` decides who
may look and act, and :mod:`.server` serves it all (the page is ``static/``).
"""

"""The alert queue: what a rule or the model sent for review (or blocked), and what
analysts decided about it (docs/web-app.md: Alert queue).

- :mod:`~fraudctl.alerts.records`: an alert, a decision;
- :mod:`~fraudctl.alerts.store`: the interface and :func:`open_alerts` (SQLite by default,
  Redis when configured), with :mod:`~fraudctl.alerts.sqlite_alerts` and
  :mod:`~fraudctl.alerts.redis_alerts` behind it;
- :mod:`~fraudctl.alerts.reasons`: alerts from decided rows, with their top reasons;
- :mod:`~fraudctl.alerts.review`: record a decision and send it as an ``analyst`` label;
- :mod:`~fraudctl.alerts.queue`: current states and queue metrics.
"""

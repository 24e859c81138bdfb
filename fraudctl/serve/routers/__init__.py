"""The API, one router per resource. The app includes every router of :data:`ROUTERS`, in
this order: a new route is a module here with its ``router``, and its line below."""

from __future__ import annotations

from fraudctl.serve.routers import batch, explain, health, labels, model, predict

# predict first: the request sent most is matched first
ROUTERS = (
    predict.router,
    batch.router,
    explain.router,
    model.router,
    labels.router,
    health.router,
)

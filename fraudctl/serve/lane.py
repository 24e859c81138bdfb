"""The shortest way from the server to ``POST /predict``, the request clients send most.

Before its router finds a route, Starlette passes every request through its own stack:
the server-error middleware, FastAPI's body-limit and telemetry middlewares, the
exception middleware, the exit-stack middleware, then the router's match over the table.
For one transaction that stack took about a sixth of the server's CPU per request.
:class:`ScoringApp` answers ``POST /predict`` through :class:`PredictLane` instead, which
keeps what that route gets from the stack and nothing else:

- the app's own middlewares around it (``add_middleware``'s: telemetry, the header limit),
  built from the app's list in the order Starlette's stack has them, at the first request
  as Starlette builds its stack;
- ``scope["app"]`` and ``scope["route"]``, for ``request.app`` and the metrics' route label;
- the app's exception handlers for the errors the route raises, looked up as Starlette does
  (a status code's handler first for an HTTP error, then the exception's classes in order);
- anything unexpected gets the server-error middleware's answer (the app's handler for 500
  or for ``Exception`` if it has one, else a plain "Internal Server Error"), then goes up
  to the server, which logs it with its traceback.

Every other request, other methods on ``/predict`` included (405), goes the whole way.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from fraudctl.serve.routing import DirectRoute

Handler = Callable[[Request, Exception], Any]


class PredictLane:
    """One direct route behind the app's own middlewares."""

    def __init__(self, app: FastAPI, route: DirectRoute) -> None:
        self.app = app
        self.path = route.path
        self.route = route
        self.handlers: dict[Any, Handler] = app.exception_handlers
        self.inner: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.route
        scope["endpoint"] = self.route.endpoint
        scope["path_params"] = {}
        if self.inner is None:
            self.inner = own_middlewares(self.app, self._answer)
        await self.inner(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        response: Response
        try:
            response = await self.route.endpoint(request)
        except Exception as exc:
            handler = self.handler_for(exc)
            if handler is not None:
                response = await _call(handler, request, exc)
            else:
                # the server-error middleware's answer; then up to the server, which logs it
                fallback = self.handlers.get(500) or self.handlers.get(Exception)
                if fallback is not None:
                    response = await _call(fallback, request, exc)
                else:
                    response = PlainTextResponse("Internal Server Error", status_code=500)
                await response(scope, receive, send)
                raise
        await response(scope, receive, send)

    def handler_for(self, exc: Exception) -> Handler | None:
        if isinstance(exc, HTTPException) and exc.status_code in self.handlers:
            return self.handlers[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in self.handlers:
                return self.handlers[cls]
        return None


async def _call(handler: Handler, request: Request, exc: Exception) -> Response:
    if inspect.iscoroutinefunction(handler):
        return await handler(request, exc)
    return await run_in_threadpool(handler, request, exc)


class ScoringApp(FastAPI):
    """FastAPI, with ``POST /predict`` answered through :attr:`lane` when one is set."""

    lane: PredictLane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.lane
        if lane is not None and scope["type"] == "http" and scope["method"] == "POST":
            path, root = scope["path"], scope.get("root_path", "")
            if root and path.startswith(root):  # behind a proxy's prefix, as the router reads it
                path = path[len(root) :]
            if path == lane.path:
                scope["app"] = self
                await lane(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def own_middlewares(app: FastAPI, inner: ASGIApp) -> ASGIApp:
    """``inner`` wrapped in the middlewares added with ``add_middleware``, the first added
    innermost, as in Starlette's stack."""
    for cls, args, kwargs in reversed(app.user_middleware):
        inner = cls(inner, *args, **kwargs)
    return inner


def predict_lane(app: FastAPI, path: str) -> PredictLane | None:
    """The lane to ``path``'s direct POST route in ``app``'s table (None without one: an
    app built with other routers)."""
    for route in app.router.routes:
        if isinstance(route, DirectRoute) and route.path == path and "POST" in route.methods:
            return PredictLane(app, route)
    return None

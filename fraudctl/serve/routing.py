"""The one fast way into a route, for the requests every client sends most.

A :class:`DirectRoute` is an ordinary FastAPI route (it is in the OpenAPI document, Starlette
matches it and answers 405 for another method, the app's exception handlers render its
errors) whose endpoint takes only the request and returns a Response. FastAPI's per-request
machinery is skipped: dependency solving, body parsing, response-model serialisation and
the route's exit stacks, which together cost about a third of the event loop's time for a
single transaction. The endpoint reads its body itself (:mod:`fraudctl.serve.requests`) and
finds the service at ``request.app.state.service``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

Endpoint = Callable[[Request], Awaitable[Response]]


class DirectRoute(APIRoute):
    def __init__(self, path: str, endpoint: Endpoint, **options: Any) -> None:
        super().__init__(path, endpoint, **options)

        async def app(scope: Any, receive: Any, send: Any) -> None:
            # An exception goes up to the app's handlers (ApiError -> its 4xx) or to the
            # server-error middleware (500), as from any route.
            response = await endpoint(Request(scope, receive, send))
            await response(scope, receive, send)

        self.app = app

    def get_route_handler(self) -> Endpoint:
        """The endpoint itself, where FastAPI builds a route's handler (a router included
        with ``include_router``)."""
        return self.endpoint

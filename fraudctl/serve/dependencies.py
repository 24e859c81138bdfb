"""What a route asks FastAPI for: the service state, and the admin check.

Each is an ``Annotated`` alias or a ``Depends`` (the FastAPI full-stack template's style),
so a route states what it needs in its signature or its ``dependencies=``.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.params import Depends as DependsParam

from fraudctl.serve.errors import ApiError
from fraudctl.serve.state import ServiceState


async def service_state(request: Request) -> ServiceState:
    return request.app.state.service


State = Annotated[ServiceState, Depends(service_state)]


class AdminCheck:
    """The bearer-token check, in constant time; no token (or an empty one) disables the
    route (403) rather than leaving it open."""

    def __init__(self, action: str) -> None:
        self.action = action  # what the 403 says is disabled, e.g. "recording labels"

    async def __call__(
        self, state: State, authorization: Annotated[str | None, Header()] = None
    ) -> None:
        token = state.settings.admin_token
        secret = token.get_secret_value().strip() if token is not None else ""
        if not secret:
            raise ApiError(403, f"{self.action} is disabled: no admin token is configured")
        expected = f"Bearer {secret}".encode()
        if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
            raise ApiError(401, "missing or wrong bearer token")


def admin_only(action: str) -> DependsParam:
    """``dependencies=[admin_only("changing the threshold")]`` on an admin route."""
    return Depends(AdminCheck(action))

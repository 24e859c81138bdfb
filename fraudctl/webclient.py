"""Reading a running service over HTTP (release checks, the shadow report).

urllib would also open ``file:`` and other schemes; a URL typed on the command line must
name an HTTP service, so anything else is refused before a request is made.
"""

from __future__ import annotations

import urllib.parse
import urllib.request

from fraudctl.errors import FraudctlError


class NotHttpUrl(FraudctlError):
    """The URL does not name an HTTP(S) service."""


def http_get(url: str, timeout: float) -> bytes:
    """The body of ``GET url``; urllib's errors (HTTPError, URLError, OSError) propagate."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise NotHttpUrl(f"{url}: expected an http:// or https:// URL")
    # the scheme is checked above (bandit's B310)
    with urllib.request.urlopen(url, timeout=timeout) as response:  # nosec B310
        return response.read()

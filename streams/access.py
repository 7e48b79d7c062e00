"""Who may read customer data from the worker's HTTP endpoints.

The endpoints that serve personal data - a customer's served view (``/customers/{ref}``), the
customer-360 page (``/360``) and the sentiment digest with its example texts (``/digest``) -
need the token of ``NEXTBEST_API_TOKEN`` when one is set:

- as ``Authorization: Bearer <token>`` on any of them;
- on the page also as a session cookie, which ``?token=<token>`` on any ``/360`` address or the
  page's sign-in form sets (HttpOnly, SameSite=Strict, path ``/360``, for ``SESSION_SECONDS``;
  it holds a keyed hash of the token, not the token).

Without a token they answer only while the worker listens on a loopback address (127.0.0.1,
::1, localhost: no other machine can connect, as in the local demo); listening on any other
address without a token, they answer 403 and the worker says so when it starts. ``/metrics``,
``/models`` and ``/health/*`` carry no customer data and stay open.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
import logging
from dataclasses import dataclass

from aiohttp import web
from pydantic import SecretStr

from nextbest.streams.settings import WorkerSettings

logger = logging.getLogger(__name__)

SESSION_COOKIE = "nextbest_360"
SESSION_PATH = "/360"
SESSION_SECONDS = 8 * 3600
"""How long a browser stays signed in to the customer-360 page (a working day)."""
_SESSION_LABEL = b"nextbest customer-360 session"


class Access(enum.Enum):
    ALLOWED = "allowed"
    UNAUTHENTICATED = "unauthenticated"
    """A token is set and the request did not carry it (401)."""
    NOT_CONFIGURED = "not_configured"
    """No token is set and the worker listens beyond this machine (403)."""


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` keeps every other machine out.

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "", "10.0.0.5")]
    [True, True, True, False, False, False]
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name (or "" = every address) may reach beyond this machine


@dataclass(frozen=True)
class CustomerDataGate:
    """Decides whether a request may read customer data (see the module's docstring)."""

    token: SecretStr | None
    loopback: bool

    @classmethod
    def for_settings(cls, settings: WorkerSettings) -> CustomerDataGate:
        return cls(settings.api_token, is_loopback(settings.web_host))

    @classmethod
    def refusing(cls) -> CustomerDataGate:
        """Serves customer data to nobody."""
        return cls(None, loopback=False)

    def describe(self) -> str:
        """The worker's stance, for its log at start (never the token)."""
        if self.token is not None:
            return "customer data endpoints need the API token (NEXTBEST_API_TOKEN)"
        if self.loopback:
            return ("customer data endpoints are open to programs on this machine only "
                    "(loopback address, no NEXTBEST_API_TOKEN)")
        return ("customer data endpoints refuse every request: the worker listens beyond this "
                "machine and NEXTBEST_API_TOKEN is not set")

    def announce(self) -> None:
        if self.token is None and not self.loopback:
            logger.warning(self.describe())
        else:
            logger.info(self.describe())

    def check(self, request: web.Request, *, session: bool = False) -> Access:
        """Whether ``request`` may read customer data; ``session``: its cookie counts too."""
        if self.token is None:
            return Access.ALLOWED if self.loopback else Access.NOT_CONFIGURED
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.matches(credentials.strip()):
            return Access.ALLOWED
        cookie = request.cookies.get(SESSION_COOKIE)
        if session and cookie and hmac.compare_digest(cookie.encode(), self._session_value()):
            return Access.ALLOWED
        return Access.UNAUTHENTICATED

    def matches(self, candidate: str) -> bool:
        """Whether ``candidate`` is the token (in constant time)."""
        if self.token is None or not candidate:
            return False
        return hmac.compare_digest(candidate.encode(), self.token.get_secret_value().encode())

    def open_session(self, response: web.StreamResponse, *, secure: bool) -> None:
        """Sign a browser in to the customer-360 page."""
        response.set_cookie(SESSION_COOKIE, self._session_value().decode(), path=SESSION_PATH,
                            max_age=SESSION_SECONDS, httponly=True, samesite="Strict",
                            secure=secure)

    def _session_value(self) -> bytes:
        assert self.token is not None
        key = self.token.get_secret_value().encode()
        return hmac.new(key, _SESSION_LABEL, hashlib.sha256).hexdigest().encode()


def denied_json(access: Access) -> web.Response:
    """The JSON answer to a request ``check`` did not allow."""
    if access is Access.UNAUTHENTICATED:
        return web.json_response(
            {"error": "this endpoint needs Authorization: Bearer <token>"}, status=401,
            headers={"WWW-Authenticate": 'Bearer realm="nextbest"'})
    return web.json_response(
        {"error": "customer data is not served: set NEXTBEST_API_TOKEN (the worker listens "
                  "beyond this machine)"}, status=403)

"""Short-lived Swift temp URLs, so that instances fetch inputs and store outputs without credentials.

A temp URL grants one HTTP method on one object (or, prefix-based, on the
objects under one prefix) until it expires. It is signed with the account's
``Temp-URL-Key``, which heatdeploy sets once to a random secret; the key,
like the signatures, is never printed or logged.
"""

from __future__ import annotations

import secrets
import urllib.parse
from dataclasses import dataclass

from keystoneauth1 import session as ks_session
from swiftclient.utils import generate_temp_url

from heatdeploy.cloud import object_store
from heatdeploy.errors import HeatdeployError

KEY_HEADER = "X-Account-Meta-Temp-URL-Key"
DEFAULT_SECONDS = 600
DIGEST = "sha256"
_METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")


class TempURLError(HeatdeployError):
    """A temp URL cannot be made: bad arguments, or no key could be set."""


def ensure_key(session: ks_session.Session, region: str | None = None) -> str:
    """The account's temp URL key, set to a fresh random secret when there is none.

    An existing key is kept: replacing it would void every temp URL already
    handed out. The key is read back after setting it, so that of two
    concurrent first calls both end up signing with the key that stayed.
    """
    conn = object_store.connection(session, region)
    key = conn.head_account().get(KEY_HEADER.lower())
    if key:
        return str(key)
    conn.post_account({KEY_HEADER: secrets.token_urlsafe(32)})
    key = conn.head_account().get(KEY_HEADER.lower())
    if not key:
        raise TempURLError("Swift did not keep the account's temp URL key")
    return str(key)


def storage_url(session: ks_session.Session, region: str | None = None) -> str:
    """The project's Swift account URL (``.../v1/AUTH_<project>``), from the session's catalog."""
    url = session.get_endpoint(service_type="object-store", interface="public", region_name=region)
    if not url:
        raise TempURLError("the cloud's catalog has no object-store endpoint")
    return str(url).rstrip("/")


def _signed(path: str, method: str, seconds: int, key: str, prefix: bool) -> dict[str, str]:
    """The query parameters of a temp URL for ``path`` (unquoted, as Swift verifies it)."""
    if method.upper() not in _METHODS:
        raise TempURLError(f"temp URLs allow {', '.join(_METHODS)}, not {method!r}")
    if seconds < 1:
        raise TempURLError(f"a temp URL must live at least one second, not {seconds}")
    signed = generate_temp_url(path, seconds, key, method.upper(), prefix=prefix, digest=DIGEST)
    # generate_temp_url joins the raw path and prefix into the URL; take only the
    # signature and expiry and quote everything ourselves, so that names with
    # spaces, '?', '#' or '&' survive.
    sig, expires = signed[len(path) + 1:].split("&", 2)[:2]
    return {"temp_url_sig": sig.partition("=")[2], "temp_url_expires": expires.partition("=")[2]}


def _account_path(account_url: str, container: str, name: str) -> tuple[str, str]:
    """(scheme://host, /v1/AUTH_x/container/name) with the path unquoted."""
    if not container or "/" in container:
        raise TempURLError(f"bad container name {container!r}")
    parts = urllib.parse.urlsplit(account_url)
    return f"{parts.scheme}://{parts.netloc}", f"{urllib.parse.unquote(parts.path)}/{container}/{name}"


def temp_url(session: ks_session.Session, container: str, name: str, method: str = "GET",
             seconds: int = DEFAULT_SECONDS, *, region: str | None = None, key: str | None = None) -> str:
    """An absolute URL allowing ``method`` on exactly ``container/name`` for ``seconds``.

    ``key`` is the account's key, from :func:`ensure_key`: pass it when making
    many URLs, to spare a HEAD request per URL.
    """
    if not name:
        raise TempURLError("a temp URL needs an object name")
    base, path = _account_path(storage_url(session, region), container, name)
    params = _signed(path, method, seconds, key or ensure_key(session, region), prefix=False)
    return f"{base}{urllib.parse.quote(path)}?{urllib.parse.urlencode(params)}"


@dataclass(frozen=True)
class PrefixTempURL:
    """A prefix-based temp URL: one signature for every object whose name starts with ``prefix``.

    ``url_for(name)`` gives the URL of one such object; an instance handed
    ``base``, ``prefix`` and ``query`` can build them itself, with no listing
    and no credentials.
    """

    base: str
    """The URL of the prefix itself (quoted), e.g. ``https://swift/v1/AUTH_x/c/outputs/run-1/``."""
    prefix: str
    query: str

    def url_for(self, name: str) -> str:
        """The URL of object ``name`` (a full object name, starting with the prefix)."""
        if not name.startswith(self.prefix):
            raise TempURLError(f"{name!r} is not under the prefix {self.prefix!r}")
        return f"{self.base}{urllib.parse.quote(name[len(self.prefix):])}?{self.query}"


def temp_url_prefix(session: ks_session.Session, container: str, prefix: str, method: str = "GET",
                    seconds: int = DEFAULT_SECONDS, *, region: str | None = None,
                    key: str | None = None) -> PrefixTempURL:
    """A temp URL allowing ``method`` on every object of ``container`` whose name starts with ``prefix``.

    An empty prefix, which would open the whole container, is refused.
    """
    if not prefix:
        raise TempURLError("a prefix temp URL needs a non-empty prefix")
    base, path = _account_path(storage_url(session, region), container, prefix)
    params = _signed(path, method, seconds, key or ensure_key(session, region), prefix=True)
    params["temp_url_prefix"] = prefix
    return PrefixTempURL(f"{base}{urllib.parse.quote(path)}", prefix, urllib.parse.urlencode(params))

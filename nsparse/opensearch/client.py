"""Connecting to OpenSearch: the local node or a user's cluster, with errors that say what to do.

Connection details come from the environment so that no secret ever sits in
params.yaml, a DVC lock file or a log: NSPARSE_OPENSEARCH_URL, _USER, _PASSWORD,
_CA_CERTS (a CA bundle) and _VERIFY_CERTS (`false` only for throw-away clusters).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from opensearchpy import OpenSearch
from opensearchpy.exceptions import AuthenticationException, ConnectionError, SSLError, TransportError

from nsparse.faults import UserFault
from nsparse.opensearch.settings import node_settings, node_urls

CA_HINT = (
    "set NSPARSE_OPENSEARCH_CA_CERTS to the CA bundle (PEM) that signed the cluster's certificate "
    "(NSPARSE_OPENSEARCH_VERIFY_CERTS=false only for a throw-away cluster)"
)


class OpenSearchError(RuntimeError):
    """A request the cluster refused; the message carries the server's own reason, `status_code` its HTTP status."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class ClusterUnreachable(UserFault, OpenSearchError):
    """Nothing answers at the configured URL."""


class CertificateUntrusted(UserFault, OpenSearchError):
    """The cluster answers over TLS, but its certificate is not signed by a trusted CA."""


class ClusterRefused(OpenSearchError):
    """The cluster answers, but refuses requests (HTTP 401, 403, 5xx)."""


class AuthenticationFailed(UserFault, ClusterRefused):
    """The cluster rejected the configured credentials (HTTP 401)."""


def redact(text: str) -> str:
    """`text` with any URL's `user:password@` and the configured password removed: the form that may be shown."""
    text = re.sub(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@", r"\1", text)
    password = os.environ.get("NSPARSE_OPENSEARCH_PASSWORD")
    return text.replace(password, "***") if password else text


@dataclass(frozen=True, repr=False)
class ClusterSettings:
    """Where the cluster answers and how to authenticate; `other_urls` are further nodes of the same cluster,
    which the client fails over to when a node stops answering."""

    url: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_certs: str | None = None
    verify_certs: bool = True
    other_urls: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, default_url: str | None = None) -> ClusterSettings:
        """Settings from NSPARSE_OPENSEARCH_*; without a URL, `default_url`, else the local nodes' URLs."""
        url = os.environ.get("NSPARSE_OPENSEARCH_URL") or default_url
        try:
            local_urls = [] if url else node_urls(node_settings())
        except FileNotFoundError as err:  # no params.yaml, so no local node to default to
            raise FileNotFoundError(f"{err}; or point NSPARSE_OPENSEARCH_URL at your cluster") from None
        verify = os.environ.get("NSPARSE_OPENSEARCH_VERIFY_CERTS", "true").strip().lower()
        if verify not in {"true", "false", "1", "0", "yes", "no"}:
            raise ValueError(f"NSPARSE_OPENSEARCH_VERIFY_CERTS must be true or false, not {verify!r}")
        return cls(
            url=url or local_urls[0],
            user=os.environ.get("NSPARSE_OPENSEARCH_USER") or None,
            password=os.environ.get("NSPARSE_OPENSEARCH_PASSWORD") or None,
            ca_certs=os.environ.get("NSPARSE_OPENSEARCH_CA_CERTS") or None,
            verify_certs=verify in {"true", "1", "yes"},
            other_urls=tuple(local_urls[1:]),
        )

    def __repr__(self) -> str:
        """Never the password, nor credentials written into the URL."""
        return (
            f"ClusterSettings(url={self.display_url!r}, user={self.user!r}, ca_certs={self.ca_certs!r}, "
            f"verify_certs={self.verify_certs!r}, other_urls={tuple(map(_displayed, self.other_urls))!r})"
        )

    @property
    def scheme(self) -> str:
        """`http` or `https`, whatever the case it was written in (`HTTPS://...` is https)."""
        scheme = urlsplit(self.url).scheme  # urlsplit lower-cases the scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"OpenSearch URL {self.display_url!r} must start with http:// or https://")
        return scheme

    @property
    def display_url(self) -> str:
        """The URL with any `user:password@` removed and the scheme lower-cased: the only form that may be printed."""
        return _displayed(self.url)

    @property
    def display_urls(self) -> str:
        """Every node's URL in the form that may be printed, comma-separated."""
        return ", ".join(_displayed(url) for url in (self.url, *self.other_urls))


def _displayed(url: str) -> str:
    parts = urlsplit(url)
    if not parts.hostname:
        return redact(url)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return urlunsplit(parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")))


def connect(settings: ClusterSettings | None = None, timeout_s: int = 120) -> OpenSearch:
    """A client for the cluster, after checking that it answers and accepts the credentials.

    Each way of failing is its own error naming the cluster (never its credentials)
    and the fix: nothing answers (`ClusterUnreachable`), an untrusted TLS certificate
    (`CertificateUntrusted`), rejected credentials (`AuthenticationFailed`), or another
    refusal such as HTTP 5xx with the server's reason (`ClusterRefused`).
    """
    settings = settings or ClusterSettings.from_env()
    client = OpenSearch(
        # Scheme lower-cased, so `HTTPS://` is https all the way down. With several nodes the client spreads
        # requests over them and retries a request a dead node dropped on the next one (max_retries).
        hosts=[urlunsplit(urlsplit(url)) for url in (settings.url, *settings.other_urls)],
        http_auth=(settings.user, settings.password or "") if settings.user else None,
        use_ssl=settings.scheme == "https",
        verify_certs=settings.verify_certs,
        ssl_show_warn=settings.verify_certs,
        ca_certs=settings.ca_certs,
        timeout=timeout_s,
        pool_maxsize=16,  # the benchmark's concurrent clients share one client: one connection each
    )
    try:
        client.info()
    except AuthenticationException:
        raise AuthenticationFailed(
            f"{settings.display_url} rejected the credentials of user {settings.user!r} (HTTP 401): "
            "check NSPARSE_OPENSEARCH_USER and NSPARSE_OPENSEARCH_PASSWORD"
        ) from None
    except SSLError as err:
        raise CertificateUntrusted(f"{settings.display_url}: TLS failed ({_tls_reason(err)}): {CA_HINT}") from None
    except ConnectionError:
        raise ClusterUnreachable(
            f"cannot reach OpenSearch at {settings.display_urls}: start the local node with `nsparse node up`, "
            "or point NSPARSE_OPENSEARCH_URL at your cluster"
        ) from None
    except TransportError as err:
        raise ClusterRefused(
            f"{settings.display_url} answers but refused the request (HTTP {err.status_code}): {server_reason(err)}",
            err.status_code if isinstance(err.status_code, int) else None,
        ) from None
    return client


def _tls_reason(error: SSLError) -> str:
    """The TLS library's own words (e.g. `certificate verify failed: self-signed certificate`)."""
    text = redact(str(error.info or error.error))
    found = re.search(r"certificate verify failed[^(\]'\"]*", text)
    return found.group(0).strip() if found else text


def server_reason(error: TransportError) -> str:
    """The server's explanation of a refused request (root cause first), without the client's stack."""
    info = error.info if isinstance(error.info, dict) else {}
    detail = info.get("error", error.error)
    if isinstance(detail, dict):
        causes = detail.get("root_cause") or [detail]
        return redact("; ".join(f"{cause.get('type', 'error')}: {cause.get('reason', '')}" for cause in causes))
    text = str(detail) if detail not in (None, "") else ""
    if not text and isinstance(error.info, str):
        text = error.info
    return redact(" ".join(text.split())[:500]) or "no reason given"


@contextlib.contextmanager
def refused_as(action: str) -> Iterator[None]:
    """Turn a refused request into an OpenSearchError naming the action and the server's reason."""
    try:
        yield
    except TransportError as err:
        if isinstance(err, AuthenticationException):
            raise AuthenticationFailed(f"{action}: HTTP 401, the cluster rejected the credentials") from None
        if isinstance(err, SSLError):
            raise CertificateUntrusted(f"{action}: TLS failed ({_tls_reason(err)}): {CA_HINT}") from None
        if isinstance(err, ConnectionError):
            raise ClusterUnreachable(f"{action}: the cluster stopped answering ({redact(str(err.error))})") from None
        status = err.status_code if isinstance(err.status_code, int) else None
        raise OpenSearchError(f"{action}: HTTP {err.status_code}: {server_reason(err)}", status) from None

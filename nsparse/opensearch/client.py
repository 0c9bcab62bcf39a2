"""Connecting to OpenSearch: the local node or a user's cluster, with errors that say what to do.

Connection details come from the environment so that no secret ever sits in
params.yaml, a DVC lock file or a log: NSPARSE_OPENSEARCH_URL, _USER, _PASSWORD,
_CA_CERTS (a CA bundle) and _VERIFY_CERTS (`false` only for throw-away clusters).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from opensearchpy import OpenSearch
from opensearchpy.exceptions import AuthenticationException, ConnectionError, TransportError

from nsparse.opensearch.node import NodeSettings


class OpenSearchError(RuntimeError):
    """A request the cluster refused; the message carries the server's own reason."""


class ClusterUnreachable(OpenSearchError):
    """Nothing answers at the configured URL."""


class AuthenticationFailed(OpenSearchError):
    """The cluster rejected the configured credentials (HTTP 401)."""


@dataclass(frozen=True)
class ClusterSettings:
    url: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_certs: str | None = None
    verify_certs: bool = True

    @classmethod
    def from_env(cls, default_url: str | None = None) -> ClusterSettings:
        """Settings from NSPARSE_OPENSEARCH_*; without a URL, `default_url`, else the local node's URL."""
        verify = os.environ.get("NSPARSE_OPENSEARCH_VERIFY_CERTS", "true").strip().lower()
        if verify not in {"true", "false", "1", "0", "yes", "no"}:
            raise ValueError(f"NSPARSE_OPENSEARCH_VERIFY_CERTS must be true or false, not {verify!r}")
        return cls(
            url=os.environ.get("NSPARSE_OPENSEARCH_URL") or default_url or NodeSettings.load().url,
            user=os.environ.get("NSPARSE_OPENSEARCH_USER") or None,
            password=os.environ.get("NSPARSE_OPENSEARCH_PASSWORD") or None,
            ca_certs=os.environ.get("NSPARSE_OPENSEARCH_CA_CERTS") or None,
            verify_certs=verify in {"true", "1", "yes"},
        )

    @property
    def display_url(self) -> str:
        """The URL with any `user:password@` removed: the only form that may be printed."""
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))) if parts.hostname else self.url


def connect(settings: ClusterSettings | None = None, timeout_s: int = 120) -> OpenSearch:
    """A client for the cluster, after checking that it answers and accepts the credentials."""
    settings = settings or ClusterSettings.from_env()
    client = OpenSearch(
        hosts=[settings.url],
        http_auth=(settings.user, settings.password or "") if settings.user else None,
        use_ssl=settings.url.startswith("https://"),
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
            "check NSPARSE_OPENSEARCH_USER and NSPARSE_OPENSEARCH_PASSWORD") from None
    except ConnectionError:
        raise ClusterUnreachable(
            f"cannot reach OpenSearch at {settings.display_url}: start the local node with `nsparse node up`, "
            "or point NSPARSE_OPENSEARCH_URL at your cluster") from None
    return client


def server_reason(error: TransportError) -> str:
    """The server's explanation of a refused request (root cause first), without the client's stack."""
    info = error.info if isinstance(error.info, dict) else {}
    detail = info.get("error", error.error)
    if isinstance(detail, dict):
        causes = detail.get("root_cause") or [detail]
        return "; ".join(f"{cause.get('type', 'error')}: {cause.get('reason', '')}" for cause in causes)
    return str(detail)


@contextlib.contextmanager
def refused_as(action: str) -> Iterator[None]:
    """Turn a refused request into an OpenSearchError naming the action and the server's reason."""
    try:
        yield
    except TransportError as err:
        if isinstance(err, AuthenticationException):
            raise AuthenticationFailed(f"{action}: HTTP 401, the cluster rejected the credentials") from None
        if isinstance(err, ConnectionError):
            raise ClusterUnreachable(f"{action}: the cluster stopped answering ({err.error})") from None
        raise OpenSearchError(f"{action}: HTTP {err.status_code}: {server_reason(err)}") from None

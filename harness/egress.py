"""Where an endpoint verifier may send requests, and which of the operator's secrets may go with them.

A manifest comes from anyone holding a token and runs next to the operator's credentials, so the manifest never
chooses what leaves the machine:

- **Keys.** ``endpoint.api_key_env`` may name only a variable on the operator's allow-list
  (``LADDER_ENDPOINT_KEYS``), and its value is sent only to the hosts the allow-list binds it to. By default the
  list is empty: a manifest that names any variable is refused.
- **Hosts.** An endpoint must be on a public (globally routable) address: loopback, private, link-local (cloud
  metadata at 169.254.169.254), shared, reserved and multicast addresses are refused, IPv4-mapped IPv6 forms
  included. ``LADDER_ENDPOINT_HOSTS`` narrows this further to named hosts. ``LADDER_ALLOW_LOCAL_ENDPOINTS`` (or
  ``--allow-local-endpoints`` on an operator's own ``ladder audit``/``ladder run``) lifts the address rule, never
  by default.
- **At connect time too.** A name checked when the manifest was submitted may resolve elsewhere when the request
  is made (DNS rebinding), so :class:`GuardedTransport` resolves every connection itself, refuses it if any
  address is forbidden, and connects to the address it checked. Redirects are not followed and no proxy from
  the environment is used (a proxy would be the address connected to, not the endpoint).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from harness.settings import Settings
    from harness.submission import Endpoint

#: Names that always mean this machine, whatever DNS says.
_LOCAL_NAMES = ("localhost", "*.localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class EgressRefused(ValueError):
    """A request the operator's policy does not allow; ``field`` names the manifest field responsible."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.problem = message


@dataclass(frozen=True)
class EgressPolicy:
    """The operator's endpoint rules (see the module docstring); built from :class:`~harness.settings.Settings`."""

    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    hosts: tuple[str, ...] = ()
    allow_local: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, allow_local: bool | None = None) -> EgressPolicy:
        return cls(keys={k: tuple(v) for k, v in settings.endpoint_keys.items()},
                   hosts=tuple(settings.endpoint_hosts),
                   allow_local=settings.allow_local_endpoints if allow_local is None else allow_local)


def _matches(host: str, patterns: tuple[str, ...] | list[str]) -> bool:
    return any(fnmatch.fnmatchcase(host, p.lower()) for p in patterns)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.split("%")[0])  # drop an IPv6 zone id
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_problem(address: str) -> str | None:
    """Why ``address`` may not be reached by a queued job, or None if it is a public address."""
    ip = _ip(address)
    if ip is None:
        return f"{address!r} is not an IP address"
    for kind in ("loopback", "link_local", "unspecified", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{kind}"):
            return f"{ip} is a {kind.replace('_', '-')} address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


def check_endpoint(endpoint: Endpoint, policy: EgressPolicy) -> list[EgressRefused]:
    """Every rule the endpoint breaks, judged without DNS (names are checked again when connecting)."""
    problems = []
    parts = urlsplit(endpoint.base_url)
    host = (parts.hostname or "").lower()
    if parts.username or parts.password:
        problems.append(EgressRefused("endpoint.base_url", "must not carry credentials"))
    if not host:
        problems.append(EgressRefused("endpoint.base_url", "has no host"))
    elif policy.hosts and not _matches(host, policy.hosts):
        problems.append(EgressRefused("endpoint.base_url", f"host {host!r} is not among the hosts this "
                                      "leaderboard's operator allows endpoints on"))
    elif not policy.allow_local:
        why = address_problem(host) if _ip(host) is not None else (
            f"{host!r} names this machine" if _matches(host, _LOCAL_NAMES) else None)
        if why:
            problems.append(EgressRefused("endpoint.base_url", f"{why}; endpoints must be on a public address"))
    if endpoint.api_key_env is not None:
        allowed = policy.keys.get(endpoint.api_key_env)
        if allowed is None:
            problems.append(EgressRefused("endpoint.api_key_env", f"{endpoint.api_key_env!r} is not a key "
                                          "variable this leaderboard's operator allows manifests to use"))
        elif host and not _matches(host, allowed):
            problems.append(EgressRefused("endpoint.api_key_env", f"the key in {endpoint.api_key_env!r} may "
                                          f"not be sent to {host!r}"))
    return problems


def resolve_checked(host: str, port: int, policy: EgressPolicy) -> list[str]:
    """The addresses of ``host``, all of them allowed by ``policy``; raises :class:`EgressRefused` if any is not
    (a name that resolves to one public and one private address is refused as a whole)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise EgressRefused("endpoint.base_url", f"cannot resolve {host!r}: {err.strerror}") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not policy.allow_local:
        for address in addresses:
            why = address_problem(address)
            if why:
                raise EgressRefused("endpoint.base_url", f"{host!r} resolves to {address}: {why}")
    return addresses


def guarded_http_client(policy: EgressPolicy, timeout: float, max_connections: int = 256):
    """An ``httpx.Client`` whose every connection passes :func:`resolve_checked` (see the module docstring)."""
    import httpcore
    import httpx

    class GuardedBackend(httpcore.SyncBackend):
        def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
            try:
                addresses = resolve_checked(host, port, policy)
            except EgressRefused as err:
                raise httpcore.ConnectError(f"refused by the operator's endpoint policy: {err.problem}") from None
            return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)

    transport = httpx.HTTPTransport(trust_env=False)
    # httpx takes no network backend, so the pool it built is replaced by one with the same settings (the CA
    # bundle may still come from SSL_CERT_FILE: the operator's environment, not the manifest, sets it).
    transport._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(trust_env=True),
                                              max_connections=max_connections,
                                              network_backend=GuardedBackend())
    return httpx.Client(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False)

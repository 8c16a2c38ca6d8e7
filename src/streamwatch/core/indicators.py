"""Indicator lists as data: parsed from text, judged against network flows and sign-ups.

The lists are plain text, one entry per line, ``#`` comments and blank lines ignored; they come
from Falco's rules and Maltrail (see ``streamwatch.config.indicators``). Reading files is the
caller's business (``streamwatch.indicators``); this module parses text it is given and judges
one (host, port) at a time. Pure and deterministic.

Judging follows Falco: the host AND the port together are proof of pool traffic,

* Falco ``miner_domains`` on a port of ``miner_ports``, ``https_miner_domains`` on 443,
  ``http_miner_domains`` on 80;
* a Maltrail ``ip:port`` pair exactly;
* a Maltrail pool domain (or a subdomain of one) on a port of ``miner_ports`` other than the
  generic web and mail ports (a pool's web site on 443 is not its stratum endpoint).

A listed host on any other port, or a bare Maltrail IP, is a weaker ``host`` match: worth
noting, not proof. A port alone (3333 on an ordinary host) is no match at all: Falco's port
list also holds 25, 8080 and 8888, and 3333 is a common development port.

One list is not about mining: ``disposable_email/domains.txt``, domains of disposable-address
services, which identity_mismatch looks a sign-up's email domain up in (``disposable``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

FALCO_PORTS: Final = "falco/miner_ports.txt"
FALCO_DOMAINS: Final = "falco/miner_domains.txt"
FALCO_HTTPS: Final = "falco/https_miner_domains.txt"
FALCO_HTTP: Final = "falco/http_miner_domains.txt"
MALTRAIL: Final = "maltrail/crypto_mining.txt"
DISPOSABLE: Final = "disposable_email/domains.txt"
LIST_NAMES: Final = (FALCO_PORTS, FALCO_DOMAINS, FALCO_HTTPS, FALCO_HTTP, MALTRAIL, DISPOSABLE)
"""The lists this module understands, by their path relative to an indicator directory."""

GENERIC_PORTS: Final = frozenset({25, 80, 443, 8000, 8001, 8008, 8080, 8118, 8888})
"""Web and mail ports (some on Falco's miner list): a pool domain there is likely its web site."""

Strength = Literal["pool", "host"]

_IPV4_PORT = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_URL = re.compile(r"([a-z][a-z0-9+.-]*)://([^/:]+)(?::(\d{1,5}))?(?:/.*)?")
_SCHEME_PORTS: Final = {"http": 80, "https": 443}


class IndicatorError(ValueError):
    """An indicator list is malformed; the message names the list and line to fix."""


@dataclass(frozen=True, slots=True)
class PoolMatch:
    """How a flow's destination matched the lists: ``pool`` (host and port) or ``host`` only."""

    strength: Strength
    source: str
    """Which list matched, e.g. ``falco/miner_domains.txt``."""
    entry: str
    """The listed entry that matched (a host, a domain suffix, an ``ip:port``)."""
    coin: str | None = None
    """The coin the host's name suggests (``Monero``, ``Ethereum``...), when it does."""


@dataclass(frozen=True, slots=True)
class Indicators:
    """Parsed indicator lists; a value, compared and versioned by its ``digest``.

    ``digest`` is a hash of the source texts, so the same lists always give the same digest and
    alerts can say which lists judged them.
    """

    digest: str = "empty"
    miner_ports: frozenset[int] = frozenset()
    pool_hosts: frozenset[str] = frozenset()
    tls_pool_hosts: frozenset[str] = frozenset()
    http_pool_hosts: frozenset[str] = frozenset()
    pool_domains: frozenset[str] = frozenset()
    pool_endpoints: frozenset[tuple[str, int]] = frozenset()
    pool_ips: frozenset[str] = frozenset()
    endpoint_hosts: frozenset[str] = frozenset()
    """The hosts of ``pool_endpoints``: on another port they are a ``host`` match."""
    disposable_domains: frozenset[str] = frozenset()
    """Email domains of disposable-address services."""
    counts: Mapping[str, int] = field(default_factory=dict)
    """Entries per list, for logs and reports."""

    @property
    def empty(self) -> bool:
        """True when no pool list holds anything (no flow can match)."""
        return not (
            self.pool_hosts
            or self.tls_pool_hosts
            or self.http_pool_hosts
            or self.pool_domains
            or self.pool_endpoints
            or self.pool_ips
        )

    def judge(self, host: str, port: int | None) -> PoolMatch | None:
        """How ``host``:``port`` matches the lists (see the module docstring); None if not."""
        host = host.strip().rstrip(".").lower()
        if not host:
            return None
        coin = coin_of(host)
        if port is not None:
            if host in self.pool_hosts and port in self.miner_ports:
                return PoolMatch("pool", FALCO_DOMAINS, host, coin)
            if port == 443 and host in self.tls_pool_hosts:
                return PoolMatch("pool", FALCO_HTTPS, host, coin)
            if port == 80 and host in self.http_pool_hosts:
                return PoolMatch("pool", FALCO_HTTP, host, coin)
            if (host, port) in self.pool_endpoints:
                return PoolMatch("pool", MALTRAIL, f"{host}:{port}", coin)
        domain = self._domain(host)
        if domain is not None and port in self.miner_ports and port not in GENERIC_PORTS:
            return PoolMatch("pool", MALTRAIL, domain, coin)
        if host in self.pool_hosts or host in self.tls_pool_hosts or host in self.http_pool_hosts:
            return PoolMatch("host", FALCO_DOMAINS, host, coin)
        if domain is not None:
            return PoolMatch("host", MALTRAIL, domain, coin)
        if host in self.pool_ips or host in self.endpoint_hosts:
            return PoolMatch("host", MALTRAIL, host, coin)
        return None

    def disposable(self, domain: str) -> str | None:
        """The listed disposable-address domain that ``domain`` is or is a subdomain of."""
        domain = domain.strip().rstrip(".").lower()
        listed = self.disposable_domains
        while domain:
            if domain in listed:
                return domain
            dot = domain.find(".")
            if dot == -1:
                return None
            domain = domain[dot + 1 :]
        return None

    def _domain(self, host: str) -> str | None:
        """The listed Maltrail domain that ``host`` is or is a subdomain of."""
        domains = self.pool_domains
        if not domains:
            return None
        if host in domains:
            return host
        dot = host.find(".")
        while dot != -1:
            suffix = host[dot + 1 :]
            if suffix in domains:
                return suffix
            dot = host.find(".", dot + 1)
        return None


EMPTY: Final = Indicators()
"""No lists: nothing matches. What a detector uses when it is given none."""


def coin_of(host: str) -> str | None:
    """The coin a pool host's name points at, if it names one."""
    if "xmr" in host or "monero" in host:
        return "Monero"
    if "eth" in host:
        return "Ethereum"
    if "zec" in host or "zcash" in host:
        return "Zcash"
    if "ltc" in host:
        return "Litecoin"
    return None


def entries(text: str) -> list[tuple[int, str]]:
    """(line number, entry) of each non-blank, non-comment line, lowercased and stripped."""
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip().lower()
        if entry:
            out.append((number, entry))
    return out


def parse_ports(text: str, name: str = FALCO_PORTS) -> frozenset[int]:
    """A list of TCP ports; raises IndicatorError naming the line of a bad one."""
    ports = set()
    for number, entry in entries(text):
        if not entry.isdigit() or not 0 < int(entry) < 65536:
            raise IndicatorError(f"{name}:{number}: {entry!r} is not a TCP port")
        ports.add(int(entry))
    return frozenset(ports)


def parse_hosts(text: str, name: str) -> frozenset[str]:
    """A list of host names; raises IndicatorError naming the line of one with a space."""
    hosts = set()
    for number, entry in entries(text):
        if any(c.isspace() for c in entry) or "/" in entry:
            raise IndicatorError(f"{name}:{number}: {entry!r} is not a host name")
        hosts.add(entry.rstrip("."))
    return frozenset(hosts)


def parse_maltrail(
    text: str, name: str = MALTRAIL
) -> tuple[frozenset[str], frozenset[tuple[str, int]], frozenset[str]]:
    """Maltrail's trail list: (domains, ip:port pairs, bare IPs).

    A URL entry (``http://185.141.25.35``) counts as its host on the scheme's port. Raises
    IndicatorError naming the line of an entry that is none of these.
    """
    domains: set[str] = set()
    endpoints: set[tuple[str, int]] = set()
    ips: set[str] = set()
    for number, entry in entries(text):
        if m := _IPV4_PORT.fullmatch(entry):
            endpoints.add((m.group(1), _port(m.group(2), name, number)))
        elif _IPV4.fullmatch(entry):
            ips.add(entry)
        elif m := _URL.fullmatch(entry):
            host, port = m.group(2), m.group(3)
            number_port = _port(port, name, number) if port else _SCHEME_PORTS.get(m.group(1))
            if number_port is not None:
                endpoints.add((host, number_port))
            elif _IPV4.fullmatch(host):
                ips.add(host)
            else:
                domains.add(host)
        elif any(c.isspace() for c in entry) or "/" in entry or ":" in entry:
            raise IndicatorError(f"{name}:{number}: {entry!r} is not a domain, IP or ip:port")
        else:
            domains.add(entry.rstrip("."))
    return frozenset(domains), frozenset(endpoints), frozenset(ips)


def _port(text: str, name: str, number: int) -> int:
    port = int(text)
    if not 0 < port < 65536:
        raise IndicatorError(f"{name}:{number}: port {port} is out of range")
    return port


def indicators_from_texts(texts: Mapping[str, str]) -> Indicators:
    """Indicators from list texts keyed by ``LIST_NAMES`` (a missing list counts as empty).

    Raises IndicatorError for an unknown list name or a malformed entry. Deterministic: the
    digest depends on the texts only.
    """
    unknown = sorted(set(texts) - set(LIST_NAMES))
    if unknown:
        raise IndicatorError(f"unknown indicator list(s) {unknown}; known: {list(LIST_NAMES)}")
    hasher = hashlib.sha256()
    for name in sorted(texts):
        hasher.update(name.encode())
        hasher.update(b"\0")
        hasher.update(texts[name].encode())
        hasher.update(b"\0")
    ports = parse_ports(texts.get(FALCO_PORTS, ""))
    hosts = parse_hosts(texts.get(FALCO_DOMAINS, ""), FALCO_DOMAINS)
    tls = parse_hosts(texts.get(FALCO_HTTPS, ""), FALCO_HTTPS)
    http = parse_hosts(texts.get(FALCO_HTTP, ""), FALCO_HTTP)
    domains, endpoints, ips = parse_maltrail(texts.get(MALTRAIL, ""))
    disposable = parse_hosts(texts.get(DISPOSABLE, ""), DISPOSABLE)
    return Indicators(
        digest=hasher.hexdigest()[:16],
        miner_ports=ports,
        pool_hosts=hosts,
        tls_pool_hosts=tls,
        http_pool_hosts=http,
        pool_domains=domains,
        pool_endpoints=endpoints,
        pool_ips=ips,
        endpoint_hosts=frozenset(h for h, _ in endpoints),
        disposable_domains=disposable,
        counts={
            FALCO_PORTS: len(ports),
            FALCO_DOMAINS: len(hosts),
            FALCO_HTTPS: len(tls),
            FALCO_HTTP: len(http),
            "maltrail/domains": len(domains),
            "maltrail/ip_ports": len(endpoints),
            "maltrail/ips": len(ips),
            DISPOSABLE: len(disposable),
        },
    )

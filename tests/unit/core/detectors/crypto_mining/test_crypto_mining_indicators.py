"""Indicator lists as data: parsing (``streamwatch.core.indicators``) against the shipped copies
of the Falco and Maltrail lists, and judging (host, port) the way Falco does."""

from __future__ import annotations

import pytest

from streamwatch.core.indicators import (
    EMPTY,
    FALCO_DOMAINS,
    FALCO_HTTP,
    FALCO_HTTPS,
    FALCO_PORTS,
    MALTRAIL,
    IndicatorError,
    indicators_from_texts,
    parse_maltrail,
    parse_ports,
)
from streamwatch.indicators import default_indicator_dir, read_texts

TEXTS = read_texts(default_indicator_dir())
LISTS = indicators_from_texts(TEXTS)


def test_shipped_lists_parse_to_the_documented_sizes() -> None:
    assert LISTS.counts[FALCO_PORTS] == 29
    assert LISTS.counts[FALCO_DOMAINS] == 63
    assert LISTS.counts[FALCO_HTTPS] == 18
    assert LISTS.counts[FALCO_HTTP] == 8
    assert LISTS.counts["maltrail/domains"] > 300
    assert LISTS.counts["maltrail/ip_ports"] > 700
    assert LISTS.counts["maltrail/ips"] >= 18
    assert {25, 3333, 8080, 14444} <= LISTS.miner_ports
    assert not {80, 443} & LISTS.miner_ports


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("pool.supportxmr.com", 3333, ("pool", FALCO_DOMAINS, "Monero")),
        ("POOL.SupportXMR.com.", 5555, ("pool", FALCO_DOMAINS, "Monero")),
        ("eu1.ethermine.org", 4444, ("pool", FALCO_DOMAINS, "Ethereum")),
        ("stratum.antpool.com", 443, ("pool", FALCO_HTTPS, None)),
        ("xmr.crypto-pool.fr", 80, ("pool", FALCO_HTTP, "Monero")),
        ("107.191.47.239", 7777, ("pool", MALTRAIL, None)),
        ("185.141.25.35", 80, ("pool", MALTRAIL, None)),  # listed as http://185.141.25.35
        ("somewhere.nanopool.org", 9999, ("pool", MALTRAIL, None)),  # a subdomain of a listed one
        ("pool.supportxmr.com", 22, ("host", FALCO_DOMAINS, "Monero")),
        ("stratum.antpool.com", 8443, ("host", FALCO_DOMAINS, None)),
        ("nanopool.org", 443, ("host", MALTRAIL, None)),
        ("107.191.47.239", 22, ("host", MALTRAIL, None)),
        ("metrics.example.net", 3333, None),
        ("example.org", 14444, None),
        ("10.0.0.7", 3333, None),
        ("", 3333, None),
    ],
    ids=str,
)
def test_host_and_port_are_judged_together(
    host: str, port: int, expected: tuple[str, str, str | None] | None
) -> None:
    match = LISTS.judge(host, port)
    assert (None if match is None else (match.strength, match.source, match.coin)) == expected


def test_a_port_without_a_host_proves_nothing() -> None:
    assert LISTS.judge("pool.supportxmr.com", None) is not None
    assert all(LISTS.judge("ordinary.example.com", port) is None for port in LISTS.miner_ports)


def test_empty_lists_match_nothing() -> None:
    assert EMPTY.empty
    assert not LISTS.empty
    assert EMPTY.judge("pool.supportxmr.com", 3333) is None


def test_digest_depends_on_the_texts_only() -> None:
    assert indicators_from_texts(dict(TEXTS)).digest == LISTS.digest
    changed = dict(TEXTS, **{FALCO_PORTS: TEXTS[FALCO_PORTS] + "\n12345\n"})
    assert indicators_from_texts(changed).digest != LISTS.digest
    assert indicators_from_texts({}).empty


def test_maltrail_entries_of_every_shape_parse() -> None:
    text = (
        "# Reference: x\n\nPool.Example.com\n1.2.3.4:3333\n5.6.7.8\nhttp://9.9.9.9\nhttps://a.b\n"
    )
    domains, endpoints, ips = parse_maltrail(text)
    assert domains == {"pool.example.com"}
    assert endpoints == {("1.2.3.4", 3333), ("9.9.9.9", 80), ("a.b", 443)}
    assert ips == {"5.6.7.8"}


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        (FALCO_PORTS, "3333\nthree\n", "falco/miner_ports.txt:2"),
        (FALCO_PORTS, "70000\n", "falco/miner_ports.txt:1"),
        (FALCO_DOMAINS, "ok.example\nnot a host\n", "falco/miner_domains.txt:2"),
        (MALTRAIL, "a.example\n1.2.3.4:99999\n", "maltrail/crypto_mining.txt:2"),
        (MALTRAIL, "a.example/path\n", "maltrail/crypto_mining.txt:1"),
    ],
    ids=["word-port", "big-port", "space", "ip-port-range", "path"],
)
def test_malformed_entry_is_reported_with_list_and_line(name: str, text: str, where: str) -> None:
    with pytest.raises(IndicatorError, match=where):
        indicators_from_texts({name: text})


def test_unknown_list_name_is_an_error() -> None:
    with pytest.raises(IndicatorError, match="unknown indicator list"):
        indicators_from_texts({"falco/miner_binaries.txt": "xmrig\n"})


def test_ports_ignore_comments_and_blank_lines() -> None:
    assert parse_ports("# ports\n\n3333 # stratum\n  4444\n") == {3333, 4444}

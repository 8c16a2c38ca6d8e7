"""identity_mismatch: sign-up, billing and sign-in countries that disagree, unverified phones and
disposable email domains; one alert per customer, amended as evidence accumulates."""

from __future__ import annotations

from typing import Any

import pytest

from streamwatch.core.detectors.identity_mismatch import IdentityMismatchDetector
from streamwatch.core.engine import Core
from streamwatch.core.events import Event
from streamwatch.generator.scenarios.abuse_kit import DISPOSABLE_DOMAINS
from streamwatch.indicators import load_indicators
from streamwatch.testing import activity_event, payment_event, run_core, ts

LISTS = load_indicators()


def core() -> Core:
    return Core(detectors=[IdentityMismatchDetector(LISTS)])


def signup(
    country: str = "DE",
    ip_country: str | None = None,
    domain: str = "northriver.de",
    phone: bool = True,
    **kw: Any,
) -> Event:
    props = {
        "country": country,
        "ip_country": ip_country or country,
        "email_domain": domain,
        "phone_verified": phone,
    }
    kw.setdefault("at", ts(1, 9))
    return activity_event("customer.signup", event_id="su", properties=props, **kw)


def card(billing: str, instrument_country: str | None = None, kind: str = "credit_card") -> Event:
    return payment_event(
        "instrument.added",
        event_id=f"card-{billing}-{kind}",
        at=ts(1, 9, 5),
        amount=None,
        billing_country=billing,
        instrument={"type": kind, "fingerprint": "fp", "country": instrument_country or billing},
    )


def signins(countries: list[str], actor: str = "user@example.com", day: int = 2) -> list[Event]:
    return [
        activity_event(
            "signin",
            event_id=f"si-{actor}-{day}-{i}",
            at=ts(day + i // 3, 9 + i % 3),
            actor=actor,
            properties={"ip_country": country},
        )
        for i, country in enumerate(countries)
    ]


def test_disposable_email_and_unverified_phone_together_alert() -> None:
    outcome = run_core(core(), [signup(domain="mailinator.com", phone=False)])
    [alert] = outcome.alerts
    assert alert.kind == "identity_mismatch"
    assert alert.severity == "low"
    assert alert.evidence["signals"] == ["disposable_email", "phone_unverified"]
    assert alert.evidence["disposable_email"] is True
    assert alert.evidence["indicators"] == LISTS.digest
    assert any("mailinator.com" in r for r in alert.reasons)
    assert alert.event_time == ts(1, 9)


@pytest.mark.parametrize(
    "events",
    [
        pytest.param([signup(domain="yopmail.com")], id="disposable-email-alone"),
        pytest.param([signup(phone=False)], id="unverified-phone-alone"),
        pytest.param([signup(ip_country="NL")], id="signup-ip-abroad-alone"),
        pytest.param([signup(), card("AT")], id="billing-abroad-alone"),
    ],
)
def test_no_single_signal_alerts(events: list[Event]) -> None:
    assert run_core(core(), events).alerts == []


def test_a_travellers_sign_ins_abroad_never_alert_on_their_own() -> None:
    trip = ["DE"] * 6 + ["MX"] + ["DE"] * 3
    assert run_core(core(), [signup(), card("DE"), *signins(trip)]).alerts == []
    # Even living abroad and hopping between countries is only sign-ins: never enough alone.
    roaming = ["MX", "BR", "AR", "CL", "MX", "MX", "BR", "PE"]
    assert run_core(core(), [signup(), card("DE"), *signins(roaming)]).alerts == []


def test_the_alert_is_amended_as_evidence_accumulates_and_only_then() -> None:
    events = [signup(ip_country="NG"), card("NG"), *signins(["NG"] * 9)]
    outcome = run_core(core(), events)
    assert [a.revision for a in outcome.alerts] == [1, 2, 3], "one amendment per new signal"
    first, _, last = outcome.alerts
    assert {a.alert_id for a in outcome.alerts} == {first.alert_id}
    assert first.evidence["signals"] == ["signup_ip_country", "billing_country"]
    assert first.event_time == ts(1, 9, 5), "raised when the card's billing country arrived"
    assert last.evidence["signals"] == [
        "signup_ip_country",
        "billing_country",
        "signins_elsewhere",
        "signin_abroad",
    ]
    assert last.score > first.score
    assert last.severity == "medium"
    assert last.evidence["signins_abroad"] == {"NG": 4}, "the first sign-in of a second day"


def test_card_country_and_prepaid_cards_are_left_to_high_risk_instrument() -> None:
    events = [signup(), card("DE", instrument_country="NG", kind="prepaid_card")]
    assert run_core(core(), events).alerts == []


def test_guests_signing_in_from_abroad_are_not_the_customer() -> None:
    invite = activity_event(
        "guest.invite",
        event_id="gi",
        at=ts(1, 10),
        properties={"principal": "Partner@Consulting.test", "expires": ts(20)},
    )
    events = [
        signup(ip_country="NL"),
        invite,
        *signins(["IN"] * 6, actor="partner@consulting.test"),
    ]
    assert run_core(core(), events).alerts == []
    detector = IdentityMismatchDetector(LISTS)
    state = detector.new_state()
    for event in events:
        detector.observe(state, event)
    assert state.signins == 0


def test_an_established_customer_is_judged_against_its_billing_country() -> None:
    invoice = payment_event(
        "invoice.issued",
        event_id="inv",
        at=ts(1),
        billing_country="GB",
        invoice_id="inv-1",
        due_date=ts(30),
    )
    outcome = run_core(core(), [invoice, *signins(["GB", "FR", "FR", "FR", "ES", "IT"])])
    assert outcome.alerts == [], "sign-ins alone, without a sign-up to contradict"


def test_a_subdomain_of_a_disposable_domain_counts() -> None:
    assert LISTS.disposable("Inbox.Mailinator.com") == "mailinator.com"
    assert LISTS.disposable("mailinator.com.example.org") is None
    assert LISTS.disposable("northriver.de") is None


def test_the_generators_disposable_domains_are_on_the_shipped_list() -> None:
    assert all(LISTS.disposable(domain) == domain for domain in DISPOSABLE_DOMAINS)


def test_without_lists_no_domain_is_disposable_and_a_reload_takes_effect() -> None:
    detector = IdentityMismatchDetector()
    state = detector.new_state()
    assert detector.observe(state, signup(domain="mailinator.com", phone=False)) == []
    detector.use_indicators(LISTS)
    fresh = detector.new_state()
    [finding] = detector.observe(fresh, signup(domain="mailinator.com", phone=False))
    assert finding.evidence["email_domain"] == "mailinator.com"


def test_a_second_sign_up_does_not_rewrite_what_was_declared() -> None:
    detector = IdentityMismatchDetector(LISTS)
    state = detector.new_state()
    detector.observe(state, signup(country="DE"))
    detector.observe(state, signup(country="NG", domain="yopmail.com", phone=False, at=ts(5)))
    assert (state.declared, state.disposable, state.phone_verified) == ("DE", None, True)

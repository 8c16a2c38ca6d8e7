"""The detectors streamwatch runs, listed once.

``REGISTERED`` is the one list of detector classes: ``default_detectors`` (what every entry
point runs, through ``streamwatch.config.build_core``), the alert schema's kind enum check and
the determinism suite all iterate over it, so a detector listed here is run, checked and
covered with no other edit. The order is the order findings of one event are raised in.

A detector class keeps the contract of ``streamwatch.core.detectors.base``: ``name``,
``version``, ``event_types``, ``capabilities`` (checked by ``Core``), ``kinds``,
``state_version`` and ``state_reads``, ``from_setup``, and the methods of ``Detector`` and of
its capabilities.
"""

from __future__ import annotations

from typing import Final

from streamwatch.core.detectors.base import Detector, Registered, Setup
from streamwatch.core.detectors.bot_signup import BotSignupDetector
from streamwatch.core.detectors.budget import BudgetDetector
from streamwatch.core.detectors.crypto_mining import CryptoMiningDetector
from streamwatch.core.detectors.identity_mismatch import IdentityMismatchDetector
from streamwatch.core.detectors.network_abuse import NetworkAbuseDetector
from streamwatch.core.detectors.payments import PaymentsDetector
from streamwatch.core.detectors.privilege_escalation import PrivilegeEscalationDetector
from streamwatch.core.detectors.provider_notice import ProviderNoticeDetector
from streamwatch.core.detectors.spend_spike import SpendSpikeDetector
from streamwatch.core.detectors.stale_access import StaleAccessDetector

REGISTERED: Final[tuple[type[Registered], ...]] = (
    BudgetDetector,
    ProviderNoticeDetector,
    SpendSpikeDetector,
    CryptoMiningDetector,
    PaymentsDetector,
    IdentityMismatchDetector,
    PrivilegeEscalationDetector,
    StaleAccessDetector,
    NetworkAbuseDetector,
    BotSignupDetector,
)
"""Every detector class, in the order findings of one event are raised."""


def build(setup: Setup | None = None) -> list[Detector]:
    """One instance of every registered detector, configured by ``setup``."""
    setup = setup or Setup()
    return [cls.from_setup(setup) for cls in REGISTERED]


def registered_kinds() -> frozenset[str]:
    """Every alert kind a registered detector raises."""
    return frozenset(kind for cls in REGISTERED for kind in cls.kinds)

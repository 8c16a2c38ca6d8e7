"""Incident scenarios, by name. Importing this package registers the built-in ones.

To add one, write ``scenarios/<name>.py`` with a function decorated by
``@register_scenario("<name>")`` and import the module below; see ``registry``.
"""

from streamwatch.generator.scenarios import (
    budget_overrun,
    company_proxy,
    crypto_mining,
    fraud_ring,
    gpu_training,
    hpc_batch,
    identity_mismatch,
    month_end_batch,
    network_abuse,
    new_region,
    prepaid,
    privilege_escalation,
    promotion,
    provider_notice,
    signup_burst,
    spend_spike_gradual,
    spend_spike_sudden,
    stale_access,
    steady_growth,
    unpaid_invoices,
    weekday_onoff,
)
from streamwatch.generator.scenarios.registry import (
    CONSEQUENCES,
    SCENARIOS,
    Scenario,
    apply_scenario,
    assign_incidents,
    get_scenario,
    register_scenario,
)

__all__ = [
    "CONSEQUENCES",
    "SCENARIOS",
    "Scenario",
    "apply_scenario",
    "assign_incidents",
    "budget_overrun",
    "company_proxy",
    "crypto_mining",
    "fraud_ring",
    "get_scenario",
    "gpu_training",
    "hpc_batch",
    "identity_mismatch",
    "month_end_batch",
    "network_abuse",
    "new_region",
    "prepaid",
    "privilege_escalation",
    "promotion",
    "provider_notice",
    "register_scenario",
    "signup_burst",
    "spend_spike_gradual",
    "spend_spike_sudden",
    "stale_access",
    "steady_growth",
    "unpaid_invoices",
    "weekday_onoff",
]

"""Adapters: pure mappings from the formats resellers really have to contract events.

One module per format, each with ``NAME`` (the format's name on the command line), ``INPUT``
(``json`` or ``csv``) and ``map_record(record, ctx) -> list[event dict]``, which raises
``base.Refused`` with a stable code for a record it cannot map. ``run.Run`` applies one to
records, checks every event against the contract and counts what it refused and why;
``read`` is the only module that touches files. See each module's docstring for its mapping.
"""

from __future__ import annotations

from types import ModuleType
from typing import Final

from streamwatch.adapters import (
    azure_activity,
    azure_cost,
    azure_health,
    defender_alerts,
    flow_logs,
    focus,
    partner_fraud,
    partner_usage,
    partner_utilization,
    stripe,
)

FORMATS: Final[dict[str, ModuleType]] = {
    module.NAME: module
    for module in (
        azure_activity,
        partner_usage,
        partner_utilization,
        azure_cost,
        focus,
        partner_fraud,
        defender_alerts,
        azure_health,
        flow_logs,
        stripe,
    )
}
"""Every format by its command-line name."""

"""Incident scenarios, by name. Importing this package registers the built-in ones.

To add one, write ``scenarios/<name>.py`` with a function decorated by
``@register_scenario("<name>")`` and import the module below; see ``registry``.
"""

from streamwatch.generator.scenarios import budget_overrun, provider_notice
from streamwatch.generator.scenarios.registry import (
    SCENARIOS,
    Scenario,
    apply_scenario,
    assign_incidents,
    get_scenario,
    register_scenario,
)

__all__ = [
    "SCENARIOS",
    "Scenario",
    "apply_scenario",
    "assign_incidents",
    "budget_overrun",
    "get_scenario",
    "provider_notice",
    "register_scenario",
]

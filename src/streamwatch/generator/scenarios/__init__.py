"""Incident scenarios, by name. Importing this package registers the built-in ones.

To add one, write ``scenarios/<name>.py`` with a function decorated by
``@register_scenario("<name>")``: every module of this package is imported here, in name order,
so the scenario registers with no other edit; see ``registry``.
"""

import importlib
import pkgutil

from streamwatch.generator.scenarios.registry import (
    CONSEQUENCES,
    LOOKALIKES,
    SCENARIOS,
    Scenario,
    apply_scenario,
    assign_incidents,
    get_scenario,
    register_scenario,
)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "CONSEQUENCES",
    "LOOKALIKES",
    "SCENARIOS",
    "Scenario",
    "apply_scenario",
    "assign_incidents",
    "get_scenario",
    "register_scenario",
]

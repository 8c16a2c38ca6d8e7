"""Seeded traffic generator: realistic customers, labelled incidents, malformed input.

Usage::

    from streamwatch.generator import GeneratorConfig, generate
    result = generate(GeneratorConfig(seed=7, customers=50, days=30))
    result.events      # dicts of the wire contract, in (ts, event_id) order
    result.labels      # ground truth, see ``labels``
    result.bad_lines   # malformed raw lines (bad_rate > 0)

Files: ``write_jsonl(result.records(), path)`` writes events with the bad lines where the
stream put them; ``write_labels(result.labels, path)`` the labels.

Large streams: ``iter_records(cfg, collector)`` / ``iter_events`` yield in constant memory
(read labels from the ``Collector`` afterwards); ``write_dataset(cfg, events_path,
labels_path)`` writes both files that way.

How it works: ``archetypes.build_plan`` draws each customer's normal plan (identity, resources,
rhythms, sign-ins, invoices, budget); the incident scenarios chosen for it edit that plan;
``timeline.customer_events`` turns the plan into that customer's ordered events and labels
(the budget rule in ``budget`` labels every threshold crossing of every customer);
``stream.iter_records`` merges the customers and adds duplicates and bad lines.

Ordering: events are sorted by (ts, event_id); event ids are ``<customer_id>-<8-digit seq>``,
so string order of ids equals emission order within a customer. Duplicates repeat an event
(same event_id) immediately after it. Usage ``ts`` is the start of its metered hour.
``GeneratorConfig(delivery="arrival")`` orders by arrival instead: usage per subscription and
hour in batches 1-24 h late, a few batches re-delivered (``arrival``); the events are the same.

Adding a scenario (say ``crypto_mining``):

1. Create ``scenarios/crypto_mining.py`` with::

       from streamwatch.generator.plan import CustomerPlan, LabelSpec
       from streamwatch.generator.scenarios.registry import register_scenario

       @register_scenario("crypto_mining")
       def crypto_mining(plan: CustomerPlan, rng: random.Random) -> None:
           ...  # add resources (archetypes.add_vm / add_storage / add_attached, which
                # also schedule vm.create), ramps (plan.ramps), budgets (plan.budgets), or
                # events: plan.activity(ts, op, props, label=LabelSpec(kind, name, detail))
                # and plan.schedule(ts, "payment", body_or_builder, label=...)

2. Use it: ``GeneratorConfig(incidents=("crypto_mining", ...))`` (the package imports every
   module of ``scenarios/``, so the new one is registered).

A scenario only edits the plan with its own ``rng``; it never emits events, so the timeline keeps
order, ids and labels consistent. Labels attached to scheduled events are emitted with them
(start == end == the event's ts). A scenario that drives spend should set
``plan.budget_scenario`` so that budget labels name it.
"""

from streamwatch.generator.badlines import BAD_KINDS, bad_samples
from streamwatch.generator.budget import BudgetRule
from streamwatch.generator.config import GeneratorConfig
from streamwatch.generator.dataset import DatasetStats, write_dataset
from streamwatch.generator.jsonl import encode, write_jsonl, write_labels
from streamwatch.generator.result import GenerationResult, generate
from streamwatch.generator.scenarios import SCENARIOS, Scenario, register_scenario
from streamwatch.generator.stream import Collector, Record, iter_events, iter_records

__all__ = [
    "BAD_KINDS",
    "SCENARIOS",
    "BudgetRule",
    "Collector",
    "DatasetStats",
    "GenerationResult",
    "GeneratorConfig",
    "Record",
    "Scenario",
    "bad_samples",
    "encode",
    "generate",
    "iter_events",
    "iter_records",
    "register_scenario",
    "write_dataset",
    "write_jsonl",
    "write_labels",
]

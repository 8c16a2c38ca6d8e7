"""Detectors: pure functions of (configuration, per-customer state, event) -> findings.

Each detector is a class keeping the contract of ``streamwatch.core.detectors.base``
(``Detector``, with its declared ``capabilities``, ``kinds`` and ``state_version``), in a
module of its own (``budget.py``) or, when it has internals of its own, a package of its own
(``spend_spike/``: the detector, its state, its parts). The engine calls ``observe`` for the
event types a detector declares, in event order, and turns findings into alerts. To add a
detector, write its module with the class marked ``@register(rank=...)``
(``streamwatch.core.detectors.registry``): the registry finds it, and the engine, the alert
kinds and the determinism suite go by the registry. ``abuse_common`` holds what the
account-abuse detectors share.
"""

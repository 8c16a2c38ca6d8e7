"""Detectors: pure functions of (configuration, per-customer state, event) -> findings.

Each detector module defines one class keeping the contract of
``streamwatch.core.detectors.base`` (``Detector``, with its declared ``capabilities``,
``kinds`` and ``state_version``). The engine calls ``observe`` for the event types a detector
declares, in event order, and turns findings into alerts. To add a detector, write the module
and list its class in ``streamwatch.core.detectors.registry.REGISTERED``.
"""

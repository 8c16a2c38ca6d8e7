"""Detectors: pure functions of (configuration, per-customer state, event) -> findings.

Each detector module defines one class satisfying ``streamwatch.core.detectors.base.Detector``.
The engine calls ``observe`` for the event types a detector declares, in event order, and
turns findings into alerts. To add a detector, write the module and list it in
``streamwatch.core.engine.default_detectors``.
"""

"""``spend_spike``: a customer's hourly spend far above what it usually spends (see
``detector``)."""

from streamwatch.core.detectors.spend_spike.detector import SpendSpikeDetector, expected_spend

__all__ = ["SpendSpikeDetector", "expected_spend"]

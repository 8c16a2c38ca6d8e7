"""``network_abuse``: spam, scans and egress floods from a customer's machines (see
``detector``)."""

from streamwatch.core.detectors.network_abuse.detector import NetworkAbuseDetector

__all__ = ["NetworkAbuseDetector"]

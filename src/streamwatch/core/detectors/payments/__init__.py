"""The payment-side detector: five alert kinds over one ledger per customer (see
``detector``)."""

from streamwatch.core.detectors.payments.detector import PaymentsDetector

__all__ = ["PaymentsDetector"]

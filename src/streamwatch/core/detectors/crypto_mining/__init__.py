"""``crypto_mining``: mining on rented GPU and many-core machines (see ``detector``)."""

from streamwatch.core.detectors.crypto_mining.detector import CryptoMiningDetector

__all__ = ["CryptoMiningDetector"]

"""streamwatch: streaming fraud-and-abuse detection for cloud resellers.

Layers (imports point one way): ``core`` is pure and deterministic; ``replay`` and ``live``
feed it events from files or Kafka; ``cli`` sits on top.
"""

__version__ = "0.1.0"

"""The pure core: events, codec, detectors, alert lifecycle and enforcement policy.

Nothing here does I/O, reads the clock or logs. Every function is deterministic in its
arguments; wall-clock values (``detected_at``) are passed in by the caller.
"""

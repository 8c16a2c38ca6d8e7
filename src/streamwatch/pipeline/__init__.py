"""One framework-free pipeline per input partition, shared by the live worker and replay.

``ordering`` merges a partition's streams into one event-time order with one release policy;
``partition`` decodes, orders, sweeps, steps the core and reports what each message caused.
"""

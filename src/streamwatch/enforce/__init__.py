"""The suspension worker and its approval flow (``streamwatch enforce``, ``approve``,
``reject``).

- ``messages``: requests and decisions in, results out (pure);
- ``decide``: the state machine of a request (pure);
- ``store``: request records, the approval queue and hourly caps in Redis;
- ``backend`` and ``webhook``: what carries an action out;
- ``service``: the worker, and the guarantees it gives (its module docstring);
- ``approvals``: what ``streamwatch approve`` and ``reject`` do.
"""

"""Exit codes of every ``streamwatch`` command, in one place (the README lists them too).

- ``OK`` (0): done.
- ``NOTHING_FOUND`` (1): nothing found or refused: ``risk`` of an unknown customer, ``evidence``
  with no events or no finding of fraud or abuse (without ``--force``), a decision that changes
  nothing or an unknown request id, a failed outcome.
- ``USAGE`` (2): unusable arguments or settings (argparse's own code): a malformed option, a
  settings file or variable that cannot be used, a missing key or policy, an unservable address.
- ``DRIFT`` (3): the broker differs from the topic catalogue (``topics apply``/``--check``).
- ``NO_OUTCOME`` (3): ``approve``/``reject --wait`` ran out before the suspension worker reported
  a result. It shares 3 with ``DRIFT``: both mean "ran, but the world is not yet as asked", and
  no command can return both.
- ``UNAVAILABLE`` (69, sysexits' ``EX_UNAVAILABLE``): a service (Kafka, Redis) is unreachable or
  refuses us: connection refused or timed out, credentials refused (a wrong password), or the
  topics a command needs do not exist yet (run ``streamwatch topics apply``).
- ``INTERRUPTED`` (130): stopped with Ctrl-C, as shells report SIGINT.
"""

from __future__ import annotations

from typing import Final

OK: Final = 0
NOTHING_FOUND: Final = 1
USAGE: Final = 2
DRIFT: Final = 3
NO_OUTCOME: Final = 3
UNAVAILABLE: Final = 69
INTERRUPTED: Final = 130

EPILOG: Final = (
    "exit codes: 0 done; 1 nothing found or refused; 2 unusable arguments or settings; "
    "3 drift from the topic catalogue, or no outcome within approve --wait; "
    "69 Kafka or Redis unavailable (unreachable, credentials refused, topics missing)"
)

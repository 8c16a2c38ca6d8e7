"""``python -m streamwatch`` is the ``streamwatch`` command."""

import sys

from streamwatch.cli import main

sys.exit(main())

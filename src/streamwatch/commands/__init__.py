"""Subcommands of the ``streamwatch`` CLI, one module each (see ``streamwatch.cli``)."""

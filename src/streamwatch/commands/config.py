"""``streamwatch config``: the effective settings, where each comes from, secrets redacted."""

from __future__ import annotations

import argparse
import os
import sys

from streamwatch import exits

HELP = "Print the effective settings (environment over settings file over defaults), redacted."


def configure(parser: argparse.ArgumentParser) -> None:
    """Option ``--json``."""
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per line instead of a table"
    )


def run(args: argparse.Namespace) -> int:
    """Print every setting; exit 2 if they do not make usable settings (the reason on stderr)."""
    from pathlib import Path

    import orjson

    from streamwatch.settings import DeploymentSettings, SettingsError
    from streamwatch.settings_file import CONFIG_VARIABLE, effective, read_file

    # The CLI applied (and so checked) the file at start.
    path = os.environ.get(CONFIG_VARIABLE, "").strip()
    from_file = read_file(Path(path)) if path else {}
    rows = effective(os.environ, from_file)
    if args.json:
        for row in rows:
            sys.stdout.buffer.write(
                orjson.dumps(
                    {"name": row.name, "value": row.value, "source": row.source},
                    option=orjson.OPT_APPEND_NEWLINE,
                )
            )
    else:
        print(f"# settings file: {path or 'none'} ({CONFIG_VARIABLE})")
        width = max(len(row.name) for row in rows)
        for row in rows:
            print(f"{row.name:<{width}}  {row.value or '-'}  [{row.source}]")
    try:
        DeploymentSettings.from_env()
    except SettingsError as exc:
        print(f"streamwatch config: {exc}", file=sys.stderr)
        return exits.USAGE
    return 0

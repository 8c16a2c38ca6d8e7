"""``streamwatch console``: serve the web console on its own (the worker serves it too).

    streamwatch console [--http HOST:PORT]

The console (``streamwatch.web.console``) reads the Redis risk view and the output topics of
the deployment the STREAMWATCH_* settings name, and is served under ``/console/`` (default
``127.0.0.1:9466``), with its JSON API under ``/console/api``. It holds no key: approvers give
their own to approve or reject, and feedback goes to the activity topic as events.
"""

from __future__ import annotations

import argparse
import sys

from streamwatch import exits

HELP = "Serve the web console (risk, customers, alerts, approvals, suppressions) on its own."
DEFAULT_HTTP = "127.0.0.1:9466"


def configure(parser: argparse.ArgumentParser) -> None:
    """The command's arguments; its help is the module docstring."""
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--http", default=DEFAULT_HTTP, metavar="HOST:PORT", help=f"where (default {DEFAULT_HTTP})"
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    import asyncio

    from aiohttp import web

    from streamwatch import logging as swlog
    from streamwatch.settings import DeploymentSettings, SettingsError
    from streamwatch.web import console

    swlog.configure("info")
    host, sep, port = args.http.rpartition(":")
    if not sep or not port.isdigit():
        print(f"streamwatch console: --http {args.http!r} is not HOST:PORT", file=sys.stderr)
        return exits.USAGE
    try:
        settings = DeploymentSettings.from_env()
    except SettingsError as exc:
        print(f"streamwatch console: {exc}", file=sys.stderr)
        return exits.USAGE

    async def serve() -> None:
        root = web.Application()
        root.add_subapp(console.BASE, console.build(settings))

        async def home(_request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound(console.BASE + "/")

        root.router.add_get("/", home)
        runner = web.AppRunner(root, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host or "127.0.0.1", int(port)).start()
            print(f"console on http://{host or '127.0.0.1'}:{port}{console.BASE}/", flush=True)
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(serve())
    except OSError as exc:
        print(f"streamwatch console: cannot serve {args.http}: {exc}", file=sys.stderr)
        return exits.USAGE
    except KeyboardInterrupt:
        pass
    return exits.OK

"""``streamwatch reject``: refuse a request awaiting approval, or withdraw an applied one."""

from __future__ import annotations

import argparse

HELP = (
    "Reject an enforcement request awaiting approval, or withdraw the approval of an applied "
    "one (the enforce worker then resumes the customer)."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """``reject REQUEST_ID [--by NAME] [--note TEXT] [--wait S]``."""
    from streamwatch.commands.approve import add_decision_options

    parser.add_argument("request_id", metavar="REQUEST_ID", help="the request")
    add_decision_options(parser)


def run(args: argparse.Namespace) -> int:
    """Send the rejection; see ``streamwatch.enforce.approvals``."""
    from streamwatch.commands.approve import decide_command

    return decide_command(args, "reject")

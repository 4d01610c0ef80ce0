"""`carecircle consumers grant|list|revoke`: the registry of downstream consumers of
`care.events` (services/app/kafka_disclosures.py), by the privacy office (an auditor's token,
`--token` or CARE_TOKEN):

    carecircle consumers grant NAME --org ORG --purpose treatment|operations
    carecircle consumers list
    carecircle consumers revoke NAME

A granted consumer of another organization than a Part 2 client's program receives that
client's sealed events; each publish batch records it in the accounting of disclosures.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial

from domain.consumers import CONSUMER_PURPOSES
from services.app.authentication import AuthenticationFailed
from services.app.errors import AccessRefused
from services.app.kafka_disclosures import Consumers
from services.cli.refusals import principal_of, refused, refused_for
from services.settings import Settings
from services.wiring import Runtime, consumers_of, migrate

RuntimeFor = Callable[[Settings], AbstractContextManager[Runtime]]


def _run(
    args: argparse.Namespace,
    settings: Settings,
    runtime_for: RuntimeFor,
    act: Callable[[Consumers, argparse.Namespace], str],
) -> int:
    try:
        principal = principal_of(args, settings)
        args.principal = principal
        with runtime_for(settings) as runtime:
            migrate(runtime)
            consumers = consumers_of(runtime)
            if consumers is None:
                return refused("privacy_off", "This runtime has no privacy parts.")
            sys.stdout.write(act(consumers, args))
        return 0
    except (AuthenticationFailed, AccessRefused) as error:
        return refused_for(error)


def _grant(consumers: Consumers, args: argparse.Namespace) -> str:
    grant = consumers.grant(args.principal, args.name, args.org, args.purpose)
    return f"granted {grant.name} ({grant.org}) for {grant.purpose} by {grant.granted_by}\n"


def _list(consumers: Consumers, args: argparse.Namespace) -> str:
    lines = [
        f"{g.name}\t{g.org}\t{g.purpose}\tgranted by {g.granted_by} at {g.granted_at.isoformat()}"
        for g in consumers.listing(args.principal)
    ]
    return "".join(line + "\n" for line in lines) or "no consumer is granted\n"


def _revoke(consumers: Consumers, args: argparse.Namespace) -> str:
    consumers.revoke(args.principal, args.name)
    return f"revoked {args.name}\n"


def add_consumer_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], runtime_for: RuntimeFor
) -> None:
    consumers = sub.add_parser(
        "consumers", help="downstream consumers of care.events: who receives what (auditors)"
    )
    commands = consumers.add_subparsers(dest="consumers", required=True)
    grant = commands.add_parser("grant", help="record that a downstream system receives the topic")
    grant.add_argument("name", metavar="NAME", help="the consumer (its Kafka group or system)")
    grant.add_argument("--org", required=True, help="the organization it belongs to")
    grant.add_argument(
        "--purpose", required=True, choices=CONSUMER_PURPOSES, help="what it receives it for"
    )
    listing = commands.add_parser("list", help="the consumers granted now")
    revoke = commands.add_parser("revoke", help="record that a consumer receives it no more")
    revoke.add_argument("name", metavar="NAME", help="the consumer")
    for parser, act in ((grant, _grant), (listing, _list), (revoke, _revoke)):
        parser.add_argument("--token", help="bearer token of an auditor (default: $CARE_TOKEN)")
        parser.set_defaults(run=partial(_run, runtime_for=runtime_for, act=act))

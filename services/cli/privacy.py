"""`carecircle client erase`, `carecircle keys …`, `carecircle access-log verify`.

Commands that act on client data take the caller's identity from a bearer token (`--token` or
`CARE_TOKEN`), verified like the API's, and go through services/app/gatekeeper.py:

    carecircle client erase ID --reason TEXT --request    # one supervisor or auditor: prints a code
    carecircle client erase ID --confirm CODE             # another one: destroys the client's key
    carecircle keys rotate                                 # an auditor: re-wrap every data key
    carecircle keys status                                 # how many keys each master key wraps
    carecircle keys new                                    # print a fresh master key (base64)
    carecircle access-log verify                           # check the access log's hash chain
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from uuid import UUID

from services import wiring
from services.app.authentication import AuthenticationFailed
from services.app.erasure import ErasureRefused
from services.app.errors import AccessRefused
from services.app.gatekeeper import AccessRequest, Action
from services.app.privacy import Privacy
from services.cli.refusals import principal_of, refused, refused_for
from services.settings import Settings
from services.wiring import Runtime, migrate

RuntimeFor = Callable[[Settings], AbstractContextManager[Runtime]]


def _privacy(runtime: Runtime) -> Privacy:
    if runtime.privacy is None:
        raise ErasureRefused("privacy_off", "This runtime has no privacy parts.")
    return runtime.privacy


def cmd_erase(args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor) -> int:
    try:
        principal = principal_of(args, settings)
        client_id = UUID(args.client_id)
        with runtime_for(settings) as runtime:
            migrate(runtime)
            erasures = _privacy(runtime).erasures
            if args.confirm:
                done = erasures.confirm(principal, client_id, args.confirm)
                sys.stdout.write(
                    f"erased {done.client_id}: requested by {done.requested_by},"
                    f" confirmed by {done.confirmed_by} at {done.erased_at.isoformat()}\n"
                )
                return 0
            code = erasures.request(principal, client_id, args.reason or "")
            sys.stdout.write(
                f"erasure of {client_id} requested; another authorized person confirms with:\n"
                f"  carecircle client erase {client_id} --confirm {code}\n"
            )
            return 0
    except ValueError:
        return refused("validation_error", "CLIENT_ID must be a UUID.")
    except (AuthenticationFailed, AccessRefused, ErasureRefused) as error:
        return refused_for(error)


def cmd_keys_rotate(args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor) -> int:
    try:
        principal = principal_of(args, settings)
        with runtime_for(settings) as runtime:
            migrate(runtime)
            privacy = _privacy(runtime)
            privacy.gate.check(AccessRequest(principal, Action.ROTATE_KEYS, purpose="operations"))
            if privacy.keys is None:
                return refused("encryption_off", "Encryption at rest is off.")
            count = privacy.keys.rotate()
            current = privacy.keys.master.current_id
        sys.stdout.write(f"re-wrapped {count} data keys under master key {current}\n")
        return 0
    except (AuthenticationFailed, AccessRefused, ErasureRefused) as error:
        return refused_for(error)


def cmd_keys_status(args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor) -> int:
    with runtime_for(settings) as runtime:
        migrate(runtime)
        privacy = _privacy(runtime)
        if privacy.keys is None:
            sys.stdout.write("encryption at rest is off\n")
            return 0
        counts = privacy.keys.counts()
        sys.stdout.write(f"current master key {privacy.keys.master.current_id}\n")
        for key_id, count in sorted(counts.items()):
            sys.stdout.write(f"{key_id}\t{count}\n")
    return 0


def cmd_keys_new(args: argparse.Namespace, settings: Settings) -> int:
    sys.stdout.write(wiring.new_master_key() + "\n")
    return 0


def cmd_access_log_verify(
    args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor
) -> int:
    with runtime_for(settings) as runtime:
        migrate(runtime)
        check = _privacy(runtime).access_log.verify()
    sys.stdout.write(check.line() + "\n")
    return 0 if check.ok else 1


def add_privacy_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], runtime_for: RuntimeFor
) -> None:
    client = sub.add_parser("client", help="one client's record: erasure (crypto-shredding)")
    client_commands = client.add_subparsers(dest="client", required=True)
    erase = client_commands.add_parser(
        "erase", help="destroy a client's data key: --request, then --confirm by another person"
    )
    erase.add_argument("client_id", metavar="CLIENT_ID", help="the client to erase")
    step = erase.add_mutually_exclusive_group(required=True)
    step.add_argument("--request", action="store_true", help="step one: prints a code")
    step.add_argument("--confirm", metavar="CODE", help="step two, by another person")
    erase.add_argument("--reason", help="why (required with --request; name no PHI)")
    erase.add_argument("--token", help="bearer token of the caller (default: $CARE_TOKEN)")
    erase.set_defaults(run=partial(cmd_erase, runtime_for=runtime_for))

    keys = sub.add_parser("keys", help="encryption keys at rest")
    key_commands = keys.add_subparsers(dest="keys", required=True)
    rotate = key_commands.add_parser("rotate", help="re-wrap every data key under CARE_MASTER_KEY")
    rotate.add_argument("--token", help="bearer token of an auditor (default: $CARE_TOKEN)")
    rotate.set_defaults(run=partial(cmd_keys_rotate, runtime_for=runtime_for))
    key_commands.add_parser("status", help="data keys per master key").set_defaults(
        run=partial(cmd_keys_status, runtime_for=runtime_for)
    )
    key_commands.add_parser("new", help="print a fresh master key").set_defaults(run=cmd_keys_new)

    access = sub.add_parser("access-log", help="the access log")
    access_commands = access.add_subparsers(dest="access_log", required=True)
    access_commands.add_parser("verify", help="check the access log's hash chain").set_defaults(
        run=partial(cmd_access_log_verify, runtime_for=runtime_for)
    )

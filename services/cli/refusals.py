"""What the privacy and analyst commands share: who is calling, and how a refusal is told
(`refused (<code>): <message>` on stderr, exit status 2)."""

from __future__ import annotations

import argparse
import os
import sys

from domain.access_policy import Principal
from services.app.authentication import AuthenticationFailed, authenticate_token
from services.app.erasure import ErasureRefused
from services.app.errors import AccessRefused
from services.app.export import ExportRefused
from services.app.time_travel import TimeTravelRefused
from services.settings import Settings

Refusal = AuthenticationFailed | AccessRefused | ErasureRefused | ExportRefused | TimeTravelRefused


def principal_of(args: argparse.Namespace, settings: Settings) -> Principal:
    """The caller named by `--token` or CARE_TOKEN, or AuthenticationFailed."""
    token = args.token or os.environ.get("CARE_TOKEN")
    return authenticate_token(settings, token)


def refused(code: str, message: str) -> int:
    sys.stderr.write(f"refused ({code}): {message}\n")
    return 2


def refused_for(error: Refusal) -> int:
    """A refusal told by its stable code (an access refusal's detail, when it has one)."""
    if isinstance(error, AccessRefused):
        return refused(error.code, error.detail or error.code)
    return refused(error.code, error.message)

"""What a use case refuses with, in no edge's terms: the API maps it to problem+json
(services/api/problems.py), the CLIs to a refusal line and exit status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class AccessRefused(Exception):
    """The request may not go ahead, with a stable `code` and a `detail` free of PHI.

    Codes: `client_not_enrolled` (no such client, or no relationship with it: the same answer,
    42 CFR 2.13(c)), `not_found` (no such thing, or not one of the caller's), `forbidden`,
    `consent_required`, and `validation_error` for a request the policy cannot weigh (an unknown
    purpose of use, a break-the-glass grant longer than allowed), with `errors` locating it.
    """

    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        errors: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        self.code = code
        self.detail = detail
        self.errors = errors
        super().__init__(code)


class AuthenticationFailed(Exception):
    """The request carries no usable credentials; `code` says which way it failed."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)

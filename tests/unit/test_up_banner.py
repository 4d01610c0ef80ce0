"""`carecircle up --demo` says, once the API listens, where the console is and how to sign in."""

from __future__ import annotations

from services.cli.main import console_lines
from services.settings import Settings


def test_the_demo_names_the_console_and_a_supervisor_of_the_demo_organization() -> None:
    wildcard = Settings(http_host="0.0.0.0", http_port=8123)  # noqa: S104 - not bound here
    lines = console_lines(wildcard, demo=True)
    assert lines[0] == (
        "CareCircle is up: console http://127.0.0.1:8123/console"
        " · API docs http://127.0.0.1:8123/docs"
    )
    assert "http://127.0.0.1:8123/console/sign-in" in lines[1]
    assert "sup-1, role supervisor, organization harbor-counseling" in lines[1]

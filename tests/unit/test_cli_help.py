"""The operator's command line explains itself: every option has help, nonsense is refused."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from services.cli.instance import AlreadyRunning, probe, sole_instance
from services.cli.main import build_parser


def undocumented(parser: argparse.ArgumentParser, path: str) -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += undocumented(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction) and not action.help:
            found.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return found


def test_every_option_of_every_command_has_help_text() -> None:
    assert undocumented(build_parser(), "carecircle") == []


@pytest.mark.parametrize("hours", ["-1", "0", "nan", "inf", "soon"])
def test_a_token_that_would_be_born_expired_is_refused(
    hours: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        build_parser().parse_args(
            ["token", "--sub", "a", "--role", "counselor", "--org", "o", "--hours", hours]
        )
    assert refused.value.code == 2
    assert "--hours: must be a positive number" in capsys.readouterr().err


def test_a_second_instance_on_a_held_data_dir_is_told_who_holds_it(tmp_path: Path) -> None:
    # given an `up` holding the data directory
    with sole_instance(tmp_path, "http://127.0.0.1:8123"):
        # when another one looks (twice: the quick probe and the real lock)
        with pytest.raises(AlreadyRunning) as probed:
            probe(tmp_path)
        with pytest.raises(AlreadyRunning) as locked, sole_instance(tmp_path, "http://x"):
            pass
    # then both name the holder's pid and API
    for refusal in (probed.value, locked.value):
        assert "(pid " in str(refusal)
        assert "API at http://127.0.0.1:8123" in str(refusal)
    # and once the first is gone the directory is free again, its info file removed
    probe(tmp_path)
    assert not (tmp_path / "up.json").exists()

"""Every `calib-eval <command> --help` prints its help.

argparse %-formats help strings, so one unescaped '%' in a help text (e.g. from a config field's
metadata) crashes `--help` for the whole command."""
import argparse

import pytest

from calib_eval.cli import build_parser


def _command_paths(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield prefix + (name,)
                yield from _command_paths(sub, prefix + (name,))


COMMANDS = list(_command_paths(build_parser()))


def test_every_command_is_found():
    assert ("train",) in COMMANDS and ("leaderboard", "update") in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_prints(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out

"""The ``distill`` parser imports only the subcommand it runs (``distill.cli.build_parser``)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from distill.cli import COMMANDS, build_parser, chosen_command, main

HEAVY = ("torch", "numba", "librosa")


def imported_after(code: str) -> dict[str, bool]:
    """Which of ``HEAVY`` (and every ``distill.cli.*`` module) a fresh interpreter holds after ``code``."""
    probe = (f"import sys\n{code}\nimport json\n"
             "print(json.dumps({m: m in sys.modules for m in "
             f"{HEAVY!r} + tuple('distill.cli.' + c for c in {tuple(COMMANDS)!r})}}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def subcommand_helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {choice.dest: choice.help for choice in action._choices_actions}


def test_help_imports_no_subcommand_and_no_torch():
    seen = imported_after("from distill.cli import build_parser\n"
                          "build_parser(['--help']).format_help()")
    assert not any(seen.values()), seen


def test_a_command_imports_its_own_module_only():
    seen = imported_after("from distill.cli import build_parser\nbuild_parser(['-v', 'info', 'x.wav'])")
    assert seen["distill.cli.info"]
    others = [m for m, on in seen.items() if on and m.startswith("distill.cli.") and m != "distill.cli.info"]
    assert others == []


def test_placeholder_listing_matches_the_modules_help():
    full = subcommand_helps(build_parser())
    lazy = subcommand_helps(build_parser(["--help"]))
    assert list(full) == list(COMMANDS) == list(lazy)
    assert full == lazy == COMMANDS


@pytest.mark.parametrize(("argv", "expected"), [
    (["generate", "m.distill", "-o", "x.wav"], "generate"),
    (["-v", "info", "x.wav"], "info"),
    (["--verbose", "dataset", "folder"], "dataset"),
    (["--help"], None),
    (["nonsense", "info"], None),
    ([], None),
])
def test_chosen_command(argv, expected):
    assert chosen_command(argv) == expected


def test_a_command_parses_its_own_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--help"])
    assert exc.value.code == 0
    assert "--duration" in capsys.readouterr().out


def test_an_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["gnerate", "m.distill"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err

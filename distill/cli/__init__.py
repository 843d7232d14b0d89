"""The ``distill`` command line: the core, headless.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``; the parser
it adds sets ``func(args) -> int``. User errors (``DistillError``) become a one-line
message and exit status 2 — never a traceback. Ctrl-C exits with 130.

Subcommands are imported lazily: ``distill generate`` imports ``distill.cli.generate``
only, and ``distill --help`` imports none (``train`` alone pulls in torch, the data
pipeline and augmentation: ~2 s of imports a ``generate`` or ``--help`` has no use for).
The others get a placeholder parser with their one-line help, so the listing is complete.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from distill import __version__
from distill.errors import DistillError

#: Subcommands in the order ``distill --help`` lists them, with the one-line help their
#: module's ``add_parser`` gives (tests/cli checks the two agree).
COMMANDS = {
    "train": "train a model on a folder of sounds",
    "generate": "render a sound from a model's latent space",
    "morph": "morph one sound into another through a model",
    "reconstruct": "encode and decode a sound (or only analyse and resynthesise it)",
    "info": "describe an audio file or a distill model file",
    "dataset": "check a folder of sounds and prepare it for training",
}
#: Subcommand modules, in the order ``distill --help`` lists them.
COMMAND_MODULES = tuple(COMMANDS)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``distill`` parser, with every subcommand (``argv`` None) or just the one ``argv`` names.

    With ``argv``, only the module of the command it names is imported; the other
    commands are placeholders that list their help (and could not parse their options).
    """
    parser = argparse.ArgumentParser(
        prog="distill",
        description="Train a VAE on a folder of sounds and generate from it (headless core "
                    "of distill-studio).")
    parser.add_argument("--version", action="version", version=f"distill {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = None if argv is None else chosen_command(argv)
    for name, summary in COMMANDS.items():
        if argv is not None and name != chosen:
            sub.add_parser(name, help=summary, add_help=False)
            continue
        try:
            module = importlib.import_module(f"distill.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"distill.cli.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option (the top-level
    options take no value), or None."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except DistillError as exc:
        print(f"distill {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ndistill {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``distill`` command line: the core, headless.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``; the parser
it adds sets ``func(args) -> int``. User errors (``DistillError``) become a one-line
message and exit status 2 — never a traceback. Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from distill import __version__
from distill.errors import DistillError

#: Subcommand modules, in the order ``distill --help`` lists them.
COMMAND_MODULES = ("train", "generate", "morph", "reconstruct", "info", "dataset")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distill",
        description="Train a VAE on a folder of sounds and generate from it (headless core "
                    "of distill-studio).")
    parser.add_argument("--version", action="version", version=f"distill {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"distill.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"distill.cli.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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

"""``distill morph MODEL A B -o OUT``: morph from one sound into another through the model.

Each file is encoded clip by clip and represented by its LOUDEST clip's latent: the body
of a one-shot rather than an average with its quiet tail (averaging latents of unlike
clips lands between them, where the decoder has seen little). The morph follows a
spherical path from A to B over ``--duration`` (see ``Renderer.morph``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from distill.cli.generate import add_duration_argument, add_output_arguments, duration_samples
from distill.constants import SAMPLE_RATE
from distill.render import Renderer, export_audio
from distill.render.export import check_output
from distill.threads import apply_thread_policy


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "morph", help="morph one sound into another through a model",
        description="Encode two audio files with the model and render a smooth morph from the "
                    "first to the second (each file is represented by its loudest clip).")
    parser.add_argument("model", type=Path, metavar="MODEL", help="model file")
    parser.add_argument("source", type=Path, metavar="A", help="audio file to start from")
    parser.add_argument("target", type=Path, metavar="B", help="audio file to end at")
    add_output_arguments(parser)
    add_duration_argument(parser, default=8.0)
    parser.add_argument("--seed", type=int, default=0, help="seed of the phase reconstruction (default 0)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    apply_thread_policy()
    check_output(args.output, args.format, make_parents=args.mkdir)  # before the render, not after
    renderer = Renderer.from_file(args.model)
    start = renderer.encode_file(args.source).loudest()
    end = renderer.encode_file(args.target).loudest()
    samples = duration_samples(args.duration)
    wave = renderer.morph(start, end, samples, seed=args.seed)
    path = export_audio(args.output, wave, args.format, make_parents=args.mkdir)
    print(f"wrote {path} ({samples / SAMPLE_RATE:.3f} s)")
    return 0

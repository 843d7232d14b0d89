"""``distill reconstruct [MODEL] IN -o OUT``: hear what a model (or the representation) keeps.

With a model: every clip of IN is encoded and decoded, and the clips are joined again.
Without one: IN goes through the 2-channel representation alone (the same clips, the
same join, the same PGHI inverse), which is the ceiling any model trained on it can
reach. The output has the input's length (at the project's sample rate).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from distill.audio.io import load_audio
from distill.cli.generate import add_output_arguments
from distill.constants import SAMPLE_RATE
from distill.errors import DistillError
from distill.render import Renderer, export_audio, reconstruct_representation
from distill.render.export import check_output
from distill.threads import apply_thread_policy


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "reconstruct", help="encode and decode a sound (or only analyse and resynthesise it)",
        description="With MODEL: pass IN through the model (encode, decode). Without: pass it "
                    "through the 2-channel representation alone, to hear its quality.")
    parser.add_argument("files", type=Path, nargs="+", metavar="[MODEL] IN",
                        help="optional model file, then the audio file")
    add_output_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of the phase reconstruction (default 0)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    if len(args.files) > 2:
        raise DistillError(f"expected [MODEL] IN, got {len(args.files)} files")
    apply_thread_policy()
    check_output(args.output, args.format, make_parents=args.mkdir)  # before the render, not after
    *model, source = args.files
    if model:
        renderer = Renderer.from_file(model[0])
        wave = load_audio(source, min_samples=renderer.spectrogram.config.n_fft,
                          max_seconds=renderer.data.max_file_seconds)
        out = renderer.reconstruct(wave, seed=args.seed)
    else:
        out = reconstruct_representation(load_audio(source), seed=args.seed)
    path = export_audio(args.output, out, args.format, make_parents=args.mkdir)
    print(f"wrote {path} ({out.shape[0] / SAMPLE_RATE:.3f} s)")
    return 0

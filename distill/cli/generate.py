"""``distill generate MODEL -o OUT``: render a held, slowly drifting sound from a model.

The sound sits at the point the ``--axis`` settings choose (unnamed axes at the dataset's
mean) and drifts around it by ``--variation`` of each slider's range (see
``distill.render.renderer`` for what generation does). ``--axis NAME=POSITION``: NAME is
an axis label (``Brightness``), a feature key (``centroid``) or a number (``1``);
POSITION 0 is the dataset's low end on that axis, 1 its high end.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from distill.constants import EXPORT_FORMATS, SAMPLE_RATE
from distill.latent.errors import AxisError
from distill.latent.space import POSITION_LIMITS
from distill.render import RenderConfig, Renderer, export_audio
from distill.render.export import check_output
from distill.threads import apply_thread_policy

#: Longest render the CLI accepts (one hour), so a typo does not fill the disk.
MAX_SECONDS = 3600.0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "generate", help="render a sound from a model's latent space",
        description="Render DURATION seconds of a held, slowly drifting sound at a point of the "
                    "model's latent space (by default the dataset's average sound).")
    parser.add_argument("model", type=Path, metavar="MODEL", help="model file")
    add_output_arguments(parser)
    add_duration_argument(parser, default=4.0)
    parser.add_argument("--seed", type=int, default=0, help="seed of the drift and the phase (default 0)")
    parser.add_argument("--axis", action="append", default=[], metavar="NAME=POSITION",
                        help="put an axis at a position: 0 = the dataset's low end, 1 = its high end "
                             f"({POSITION_LIMITS[0]:g} to {POSITION_LIMITS[1]:g} allowed); NAME is a "
                             "label such as Brightness or an axis number (repeatable)")
    parser.add_argument("--variation", type=float, default=RenderConfig.variation,
                        help="how far the sound drifts, as a fraction of each axis' range "
                             f"(0 = held still; default {RenderConfig.variation:g})")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    apply_thread_policy()
    if not (math.isfinite(args.variation) and args.variation >= 0):
        raise AxisError(f"--variation must be a number >= 0, got {args.variation:g}")
    check_output(args.output, args.format, make_parents=args.mkdir)  # before the render, not after
    # Generating only decodes: the encoder's weights (half the file) are not even read.
    renderer = Renderer.from_file(args.model, config=RenderConfig(variation=args.variation),
                                  decoder_only=True)
    center = None
    if args.axis:
        space = renderer.require_analysis().space
        center = space.controls_to_latent(space.values_from_positions(parse_axis_settings(args.axis)))
    samples = duration_samples(args.duration)
    wave = renderer.generate(samples, center=center, seed=args.seed)
    path = export_audio(args.output, wave, args.format, make_parents=args.mkdir)
    print(f"wrote {path} ({samples / SAMPLE_RATE:.3f} s)")
    return 0


def parse_axis_settings(settings: list[str]) -> dict[str, float]:
    """``["Brightness=0.8", "2=0.1"]`` -> ``{"Brightness": 0.8, "2": 0.1}`` (``AxisError`` if malformed)."""
    out: dict[str, float] = {}
    for setting in settings:
        name, sep, value = setting.rpartition("=")
        if not sep or not name.strip():
            raise AxisError(f"--axis {setting!r}: expected NAME=POSITION, e.g. Brightness=0.8")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise AxisError(f"--axis {setting!r}: {value!r} is not a number") from None
    return out


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``-o/--output``, ``--format`` and ``--mkdir``, shared by generate, morph and reconstruct."""
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT",
                        help="audio file to write (its extension picks the format: "
                             f"{', '.join(EXPORT_FORMATS)}; none = --format's)")
    parser.add_argument("--mkdir", action="store_true",
                        help="create OUT's folder when it does not exist (otherwise an error)")
    parser.add_argument("--format", choices=tuple(EXPORT_FORMATS), default=None,
                        help="output format (default: from OUT's extension, else wav)")


def add_duration_argument(parser: argparse.ArgumentParser, default: float) -> None:
    parser.add_argument("--duration", type=_seconds, default=default, metavar="S",
                        help=f"length in seconds (default {default:g})")


def duration_samples(seconds: float) -> int:
    """Seconds -> samples at ``SAMPLE_RATE`` (at least one)."""
    return max(1, round(seconds * SAMPLE_RATE))


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and 0 < value <= MAX_SECONDS):
        raise argparse.ArgumentTypeError(f"the duration must be more than 0 and at most {MAX_SECONDS:g} s")
    return value

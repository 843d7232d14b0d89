"""The map's colours mean one thing each, the legend says what; hover says where in its file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PySide6.QtGui import QColor

from app.explore.map_widget import _FILE_COLORS, MapWidget, colour_groups, emptiest_corner
from distill.latent import AxisInfo, LatentAnalysis, LatentConfig, LatentSpace
from distill.render import Renderer
from tests.app.explore.conftest import SMALL_MODEL

DEMO = sorted(p.name for p in (Path(__file__).resolve().parents[3] / "resources" / "demo").glob("*.flac"))


def test_sub_folders_get_one_colour_each():
    files = [f"{kind}/{kind}_{i:02d}.wav" for kind in ("kick", "snare", "hat") for i in range(8)]
    groups = colour_groups(files)
    assert groups.by == "folder"
    assert groups.of_file == (0,) * 8 + (1,) * 8 + (2,) * 8
    assert groups.legend == ("kick/ (8 files)", "snare/ (8 files)", "hat/ (8 files)")
    # Files at the top beside sub-folders are a group of their own.
    assert colour_groups(["a.wav", "pads/p.wav"]).legend == ("(top folder)", "pads/")


def test_more_folders_than_colours_share_one_and_the_legend_says_so():
    files = [f"kind{k:02d}/s{i}.wav" for k in range(10) for i in range(2)]
    groups = colour_groups(files)
    assert max(groups.of_file) == len(_FILE_COLORS) - 1 and len(groups.legend) == len(_FILE_COLORS)
    assert groups.legend[0] == "kind00/, kind08/ (4 files)"
    assert groups.legend[2] == "kind02/ (2 files)"


def test_a_flat_folder_colours_files_then_name_prefixes_then_runs():
    few = colour_groups(["a.wav", "b.wav", "c.wav"])
    assert (few.by, few.of_file, few.legend) == ("file", (0, 1, 2), ("a.wav", "b.wav", "c.wav"))
    demo = colour_groups(DEMO)  # 24 files: bell_*, drum_*, noise_*, pluck_*, tone_*
    assert len(DEMO) == 24 and demo.by == "name"
    assert demo.legend == ("bell… (4 files)", "drum… (4 files)", "noise… (4 files)", "pluck… (4 files)",
                           "tone… (8 files)")
    assert all(demo.of_file[i] == demo.legend.index("tone… (8 files)") for i, f in enumerate(DEMO)
               if f.startswith("tone"))
    numbered = [f"{i:03d}.wav" for i in range(24)]  # no name to group by: runs of 3 neighbours
    runs = colour_groups(numbered)
    assert runs.by == "run" and runs.of_file[:7] == (0, 0, 0, 1, 1, 1, 2)
    assert runs.legend[0] == "000.wav … 002.wav (3 files)" and len(runs.legend) == 8
    uneven = colour_groups([f"{i:03d}.wav" for i in range(10)])  # 2 per colour, the last 5 colours unused
    assert uneven.legend[-1] == "008.wav … 009.wav (2 files)" and len(uneven.legend) == 5


def analysis_of(files: list[str], clips_per_file: int = 3) -> LatentAnalysis:
    axes = tuple(AxisInfo(label=label, feature=None, correlation=None, direction=1, low=-1.0, high=1.0,
                          variance=1.0, variance_ratio=0.4) for label in ("Axis 1", "Axis 2"))
    n = len(files) * clips_per_file
    g = torch.Generator().manual_seed(0)
    return LatentAnalysis(space=LatentSpace(torch.zeros(4), torch.eye(4)[:2], axes),
                          clip_latents=torch.randn(n, 4, generator=g),
                          clip_files=torch.arange(n) // clips_per_file,
                          clip_indices=torch.arange(n) % clips_per_file, files=tuple(files),
                          total_variance=1.0, config=LatentConfig())


def test_points_take_their_folder_colour_and_the_legend_names_every_colour(qtbot):
    files = [f"{kind}/{i}.wav" for kind in ("kick", "snare", "hat") for i in range(8)]  # 24 files
    widget = MapWidget()
    qtbot.addWidget(widget)
    widget.show_analysis(analysis_of(files))
    brushes = [QColor(b.color()).name() for b in widget.scatter.data["brush"]]
    assert brushes == [_FILE_COLORS[0]] * 24 + [_FILE_COLORS[1]] * 24 + [_FILE_COLORS[2]] * 24
    assert [label.text for _, label in widget.legend.items] == ["kick/ (8 files)", "snare/ (8 files)",
                                                                  "hat/ (8 files)"]


def test_hovering_a_point_names_its_file_and_time_in_it(qtbot):
    widget = MapWidget()
    qtbot.addWidget(widget)
    widget.show_analysis(analysis_of(["a.wav", "b.wav"]))
    assert widget._point_tip(0.0, 0.0, 4) == "b.wav\nclip 2"  # no timing given: the clip's number
    renderer = Renderer.from_file(SMALL_MODEL)
    hop, length = MapWidget.clip_seconds_of(renderer)
    data, config = renderer.data, renderer.spectrogram.config
    assert hop == pytest.approx(data.clip_hop_frames * config.hop_length / renderer.sample_rate)
    assert length == pytest.approx(renderer.clip_samples / renderer.sample_rate)
    widget.show_analysis(analysis_of(["a.wav", "b.wav"]), (0.5, 1.0))
    assert widget._point_tip(0.0, 0.0, 5) == "b.wav\n1.00 s – 2.00 s (clip 3)"
    widget.show_analysis(analysis_of(["a.wav"], clips_per_file=300), (0.5, 1.0))
    assert widget._point_tip(0.0, 0.0, 250) == "a.wav\n2:05.0 – 2:06.0 (clip 251)"


def test_the_legend_goes_to_the_corner_that_hides_the_fewest_points():
    rng = torch.Generator().manual_seed(0)
    limits = ((-1.0, 1.0), (-2.0, 2.0))
    spread = (torch.rand(200, 2, generator=rng) * 2 - 1) * torch.tensor([1.0, 2.0])
    assert emptiest_corner(spread.numpy(), limits) in ("top right", "top left", "bottom right", "bottom left")
    crowded = torch.cat([spread, torch.tensor([[0.9, 1.9]]).repeat(50, 1)])  # a cluster at the top right
    assert emptiest_corner(crowded.numpy(), limits) != "top right"
    only_top = torch.tensor([[x, 1.8] for x in (-0.9, -0.5, 0.0, 0.5, 0.9)])
    assert emptiest_corner(only_top.numpy(), limits) == "bottom right"  # ties: the first empty one
    assert emptiest_corner(torch.zeros(0, 2).numpy(), limits) == "top right"

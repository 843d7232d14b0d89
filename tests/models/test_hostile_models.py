"""Forged model files: declared geometry that would allocate terabytes, NaN weights and
statistics. Each is refused with its reason, in milliseconds and megabytes.

The memory cases run the CLI in a subprocess under ``RLIMIT_AS`` (1.5 GB): a regression
that builds the declared model before checking it fails there ("can't allocate
memory" and a traceback) instead of swapping the test machine.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from distill.errors import ModelFileError
from distill.models import load_model, read_tensor_file, write_tensor_file

STORED_MODEL = Path(__file__).parent / "data" / "model_v1.distill"
#: Address-space limit of the subprocess: torch imports in ~0.65 GB of it.
MEMORY_LIMIT = 1536 << 20
_LIMITED_CLI = (
    "import resource, sys\n"
    "resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))\n"
    "from distill.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def forge(tmp_path: Path, name: str, edit_document=None, edit_tensors=None) -> Path:
    """A copy of the stored v1 model with its JSON document and/or tensors changed."""
    path = tmp_path / name
    shutil.copyfile(STORED_MODEL, path)
    tensors, metadata = read_tensor_file(path)
    doc = json.loads(metadata["distill"])
    if edit_document:
        edit_document(doc)
    if edit_tensors:
        edit_tensors(tensors)
    write_tensor_file(path, tensors, {**metadata, "distill": json.dumps(doc)})
    return path


def run_limited(*args: str) -> subprocess.CompletedProcess:
    """``distill ARGS`` in a subprocess whose address space is capped at ``MEMORY_LIMIT``."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.run([sys.executable, "-c", _LIMITED_CLI.format(limit=MEMORY_LIMIT), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def _set(section: str, key: str, value):
    def edit(doc):
        doc[section][key] = value
    return edit


# Declared sizes that built for real would need from ~10 GB to ~50 TB.
HUGE = {
    "latent_1e9": (_set("model", "latent_dim", 1_000_000_000), "latent_dim must be in"),
    "latent_1e9_float": (_set("model", "latent_dim", 1e9), "latent_dim must be a whole number"),
    "channels_1e6": (_set("model", "channels", [1_000_000] * 5), "channels must be in"),
    "clip_frames_1e7": (_set("data", "clip_frames", 10_000_000), "clip_frames must be in"),
    # In range, but nothing like the stored weights: ~19 GB if built before checking.
    "wide_in_range": (_set("model", "channels", [8192] * 5), "weights do not match"),
    "latent_in_range": (_set("model", "latent_dim", 4096), "weights do not match"),
}


@pytest.mark.parametrize("case", sorted(HUGE))
def test_forged_geometry_is_refused_before_allocating(tmp_path, case):
    edit, reason = HUGE[case]
    path = forge(tmp_path, f"{case}.distill", edit)
    with pytest.raises(ModelFileError, match=reason) as info:
        load_model(path)
    assert info.value.path == path


@pytest.mark.parametrize("command", ["info", "generate", "reconstruct"])
def test_the_cli_refuses_forged_geometry_under_a_memory_limit(tmp_path, command):
    forged = {case: forge(tmp_path, f"{case}.distill", HUGE[case][0])
              for case in ("latent_1e9", "wide_in_range")}
    source = tmp_path / "in.wav"
    out = tmp_path / "out.wav"
    for case, path in forged.items():
        args = {"info": ["info", str(path)],
                "generate": ["generate", str(path), "-o", str(out)],
                "reconstruct": ["reconstruct", str(path), str(source), "-o", str(out)]}[command]
        result = run_limited(*args)
        assert result.returncode == 2, (case, result.stderr[-2000:])
        assert "Traceback" not in result.stderr and "allocate" not in result.stderr
        assert f"{path.name}:" in result.stderr and HUGE[case][1] in result.stderr
        assert not out.exists()


def test_shape_and_byte_size_must_agree(tmp_path):
    """A header may not declare a shape larger than the bytes it points at."""
    path = forge(tmp_path, "m.distill")
    raw = bytearray(path.read_bytes())
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    name = next(k for k in header if k.startswith("model."))
    header[name]["shape"] = [10**6, 10**6]
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + n:])
    with pytest.raises(ModelFileError, match="shape, dtype and size disagree"):
        load_model(path)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_weights_are_refused(tmp_path, value):
    def poison(tensors):
        for name, t in tensors.items():
            if name.startswith("model.") and t.is_floating_point():
                tensors[name] = torch.full_like(t, value)

    path = forge(tmp_path, "nan.distill", edit_tensors=poison)
    with pytest.raises(ModelFileError, match="weights hold NaN or infinite values"):
        load_model(path)


def test_one_nan_weight_is_enough(tmp_path):
    def poison(tensors):
        name = next(k for k in tensors if k.endswith("weight") and tensors[k].is_floating_point())
        tensors[name] = tensors[name].clone()
        tensors[name].view(-1)[0] = math.nan

    with pytest.raises(ModelFileError, match="NaN or infinite"):
        load_model(forge(tmp_path, "one.distill", edit_tensors=poison))


@pytest.mark.parametrize("key, value, match", [
    ("magnitude_scale", math.nan, "magnitude_scale"),
    ("magnitude_scale", math.inf, "statistics are not finite"),
])
def test_non_finite_normalisation_is_refused(tmp_path, key, value, match):
    path = forge(tmp_path, "stats.distill", _set("normalization", key, value))
    with pytest.raises(ModelFileError, match=match):
        load_model(path)


def test_nan_latent_statistics_are_refused(tmp_path):
    def poison(tensors):
        tensors["extra.latent.mean"] = torch.full((8,), math.nan)

    path = forge(tmp_path, "latent.distill", edit_tensors=poison)
    with pytest.raises(ModelFileError, match="latent statistics hold NaN"):
        load_model(path)


def test_generate_refuses_a_nan_model_and_writes_nothing(tmp_path, capsys):
    from distill.cli import main

    def poison(tensors):
        for name, t in tensors.items():
            if name.startswith("model.") and t.is_floating_point():
                tensors[name] = torch.full_like(t, math.nan)

    path = forge(tmp_path, "nan.distill", edit_tensors=poison)
    out = tmp_path / "x.wav"
    assert main(["generate", str(path), "-o", str(out), "--duration", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "NaN" in err and "nan.distill" in err and "Traceback" not in err
    assert not out.exists()


def test_info_refuses_a_nan_model(tmp_path, capsys):
    """``info`` reads weights with numpy, not torch: the same refusal as ``load_model``."""
    from distill.cli import main

    def poison(tensors):
        name = next(k for k in tensors if k.startswith("model.decoder") and k.endswith("weight"))
        tensors[name] = tensors[name].clone()
        tensors[name].view(-1)[-1] = math.inf

    path = forge(tmp_path, "inf.distill", edit_tensors=poison)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "weights hold NaN or infinite values" in err and "inf.distill" in err


def test_tensors_must_tile_the_data(tmp_path):
    """Two tensors over the same bytes (and bytes no tensor owns) make a corrupt file,
    even when every size and the file's length agree."""
    path = forge(tmp_path, "m.distill")
    raw = bytearray(path.read_bytes())
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    first = min((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
    start, end = header[first]["data_offsets"]
    header[first]["data_offsets"] = [end, 2 * end - start]  # onto the next tensor's bytes
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + n:])
    with pytest.raises(ModelFileError, match=r"corrupt .* (overlaps another|leaves a gap)"):
        load_model(path)

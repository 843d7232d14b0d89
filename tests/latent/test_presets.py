"""Presets: one JSON file per model, atomic, surviving restarts, never losing a damaged file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from distill.latent.presets import Preset, PresetError, PresetStore, model_key, presets_dir

D = 16


def _store(folder=None, name="drums", created="2026-11-30T06:00:00.123456", dim=D) -> PresetStore:
    return PresetStore(name, model_key(created, dim), dim, model_path=f"/models/{name}.distill",
                       folder=folder)


def _latent(seed: int, dim: int = D) -> list[float]:
    return np.random.default_rng(seed).standard_normal(dim).tolist()


def test_presets_round_trip_across_a_restart():
    store = _store()
    assert store.path.parent == presets_dir() and not store.path.exists()
    store.save("Dark hit", _latent(0), controls=[0.5, -1.0], mode="loop")
    store.save("Swell", _latent(1), morph=(_latent(2), _latent(3), 0.25))
    store.rename("Swell", "Long swell")
    store.save("Gone", _latent(4))
    store.delete("Gone")

    again = _store()  # a new process would build the store the same way
    assert again.names == ("Dark hit", "Long swell")
    hit = again.get("Dark hit")
    assert hit.latent == pytest.approx(tuple(_latent(0))) and hit.mode == "loop"
    assert hit.controls == (0.5, -1.0)
    swell = again.get("Long swell")
    assert swell.morph is not None and swell.morph[2] == 0.25
    assert swell.morph[1] == pytest.approx(tuple(_latent(3)))
    document = json.loads(store.path.read_text())
    assert document["model"]["name"] == "drums" and document["model"]["path"] == "/models/drums.distill"
    assert not list(store.path.parent.glob(".*.part"))  # written atomically, nothing left over


def test_models_do_not_share_presets_and_a_moved_model_keeps_them(tmp_path):
    a = _store(tmp_path, name="drums", created="2026-01-01T00:00:00")
    b = _store(tmp_path, name="drums", created="2026-02-02T00:00:00")  # same name, other model
    a.save("One", _latent(0))
    assert b.names == () and a.path != b.path
    moved = PresetStore("drums", model_key("2026-01-01T00:00:00", D), D,
                        model_path="/elsewhere/drums.distill", folder=tmp_path)
    assert moved.names == ("One",)


def test_bad_names_and_duplicates_are_refused_with_a_reason(tmp_path):
    store = _store(tmp_path)
    store.save("A", _latent(0))
    with pytest.raises(PresetError, match="exists already"):
        store.save("A", _latent(1))
    store.save("A", _latent(1), overwrite=True)
    assert store.get("A").latent == pytest.approx(tuple(_latent(1)))
    with pytest.raises(PresetError, match="needs a name"):
        store.save("   ", _latent(0))
    with pytest.raises(PresetError, match="latent has 16"):
        store.save("B", _latent(0, dim=8))
    with pytest.raises(PresetError, match="NaN"):
        store.save("C", [float("nan")] * D)
    store.save("B", _latent(2))
    with pytest.raises(PresetError, match="exists already"):
        store.rename("B", "A")
    with pytest.raises(PresetError, match="no preset called"):
        store.delete("nope")
    assert _store(tmp_path).names == ("A", "B")


def test_a_damaged_file_is_moved_aside_never_overwritten(tmp_path, caplog):
    store = _store(tmp_path)
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_text("{ this is not json")
    fresh = _store(tmp_path)
    assert fresh.names == ()
    aside = store.path.with_name(store.path.name + ".damaged")
    assert aside.read_text() == "{ this is not json"
    assert "cannot be read" in caplog.text and str(aside) in caplog.text
    fresh.save("New", _latent(0))
    assert _store(tmp_path).names == ("New",)


def test_entries_that_do_not_fit_are_skipped_but_kept_in_the_file(tmp_path, caplog):
    store = _store(tmp_path)
    store.save("Good", _latent(0))
    document = json.loads(store.path.read_text())
    document["presets"].append({"name": "Short", "latent": [0.0] * 3})
    document["presets"].append({"name": "Broken", "latent": "nope"})
    store.path.write_text(json.dumps(document))
    again = _store(tmp_path)
    assert again.names == ("Good",)
    assert "Short" in caplog.text and "latent has 3 values" in caplog.text
    again.save("Another", _latent(1))
    names = [p["name"] for p in json.loads(store.path.read_text())["presets"]]
    assert set(names) == {"Good", "Another", "Short", "Broken"}


def test_preset_json_round_trip_rejects_out_of_range_morph():
    preset = Preset("x", tuple(_latent(0)), morph=(tuple(_latent(1)), tuple(_latent(2)), 0.5))
    assert Preset.from_json(preset.to_json(), D) == preset
    data = preset.to_json()
    data["morph"]["position"] = 3.0
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        Preset.from_json(data, D)

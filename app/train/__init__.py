"""The Train tab: settings and presets, start/pause/cancel, loss curves, previews, checkpoints."""

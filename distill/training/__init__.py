"""Training: configuration, presets, the Trainer and its events.

Kept import-light on purpose: ``distill.audio`` imports the configuration from here.
"""

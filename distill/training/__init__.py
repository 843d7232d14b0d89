"""Training: configuration, presets, the Trainer and its events.

Kept import-light on purpose: ``distill.audio`` and ``distill.models`` import the
configuration from here, so nothing is re-exported (import the modules themselves):

- ``config``: every configuration dataclass, ``RunConfig`` (the four parts of a run);
- ``presets``: ``choose_preset`` / ``apply_preset`` (dataset-size presets, explicit wins);
- ``run``: ``train(folder_or_cache, output, setup, ...)`` — the entry of the CLI and the studio;
- ``events``: the events, ``TrainingControl`` (pause/resume/cancel from any thread);
- ``trainer``: ``Trainer`` (the loop), on ``state`` (``TrainState``), ``steps`` (train_step,
  validate, optimiser and schedule), ``batches``, ``preview``, ``checkpoint`` (+ ``codec``),
  ``device`` (CUDA, then MPS, then CPU; RNG state) and ``finalize`` (analysis + model file).
"""

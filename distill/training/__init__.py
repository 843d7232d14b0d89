"""Training: configuration, presets, the Trainer and its events.

The top of the core's layers below the CLI (it may import every other core package, none
imports it). Kept import-light: nothing is re-exported (import the modules themselves):

- ``config``: ``TrainingConfig``, ``RunConfig`` (the four parts of a run) and, re-exported,
  the configs of the other three parts, which live in ``distill.audio``, ``distill.data``
  and ``distill.models``;
- ``presets``: ``choose_preset`` / ``apply_preset`` (dataset-size presets, explicit wins);
- ``run``: ``train(folder_or_cache, output, setup, ...)`` — the entry of the CLI and the studio;
- ``child``: ``TrainingProcess``, the same ``train`` in a spawned child process (the studio's way);
- ``events``: the events, ``TrainingControl`` (pause/resume/cancel from any thread);
- ``trainer``: ``Trainer`` (the loop), on ``state`` (``TrainState``), ``steps`` (train_step,
  validate, optimiser and schedule), ``batches``, ``preview``, ``checkpoint`` (+ ``codec``),
  ``device`` (CUDA, then MPS, then CPU; RNG state) and ``finalize`` (analysis + model file).
"""

"""distill — the core of distill-studio: audio representation, VAE, datasets, training.

This package never imports Qt. Importing it sets the OpenMP wait policy to PASSIVE
(unless the environment already chose one) before torch loads OpenMP: on small
machines, spinning OpenMP workers collapse inference throughput whenever another
process is busy (see ``distill.threads`` and ``benchmarks/decode.py``).
"""

import os as _os

_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

"""Thread policy for torch on small machines.

Measured on 2-core machines (``benchmarks/decode.py``): with OpenMP's default active
spin-wait, small-op inference collapses 10-100x while another process is busy; a
PASSIVE wait policy (set by ``import distill``) keeps it steady. ``apply_thread_policy``
chooses the intra-op thread count for a role.
"""

from __future__ import annotations

import logging
import os

import torch

log = logging.getLogger(__name__)


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def apply_thread_policy(num_threads: int = 0) -> int:
    """Set torch's intra-op thread count; 0 means all available cores. Returns the count."""
    n = num_threads if num_threads > 0 else available_cores()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    log.debug("torch intra-op threads: %d (OMP_WAIT_POLICY=%s)", n, os.environ.get("OMP_WAIT_POLICY"))
    return n

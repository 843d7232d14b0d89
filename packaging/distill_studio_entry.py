"""The frozen app's entry script: ``distill-studio`` (and ``distill-studio --cli ...``).

``distill-studio --bundle-report`` prints, as JSON, what the bundle's smoke test asks of
the frozen app itself: which compiled kernels it runs (``distill.audio.kernels``) and
which packages left out of the bundle it can still import (none, when the spec is right).
"""

import multiprocessing
import sys

from app.main import main

#: Packages the spec leaves out; the report says whether the frozen app finds them anyway.
LEFT_OUT = ("numba", "llvmlite", "librosa", "sklearn", "scipy", "joblib", "threadpoolctl")


def bundle_report() -> dict:
    """The kernels' backend and, per left-out package, whether it can be imported."""
    import importlib.util

    from distill.audio import kernels

    return {"kernels": kernels.BACKEND,
            "importable": {name: importlib.util.find_spec(name) is not None for name in LEFT_OUT}}


if __name__ == "__main__":
    # Training runs in a spawned child (distill.training.child): in the frozen app that child
    # is this executable again, and freeze_support turns it into the child instead of a window.
    multiprocessing.freeze_support()
    if sys.argv[1:] == ["--bundle-report"]:
        import json

        print(json.dumps(bundle_report()))
        sys.exit(0)
    sys.exit(main())

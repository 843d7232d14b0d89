"""The frozen app's entry script: ``distill-studio`` (and ``distill-studio --cli ...``)."""

import multiprocessing
import sys

from app.main import main

if __name__ == "__main__":
    # Training runs in a spawned child (distill.training.child): in the frozen app that child
    # is this executable again, and freeze_support turns it into the child instead of a window.
    multiprocessing.freeze_support()
    sys.exit(main())

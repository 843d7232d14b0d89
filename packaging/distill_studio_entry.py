"""The frozen app's entry script: ``distill-studio`` (and ``distill-studio --cli ...``)."""

import sys

from app.main import main

if __name__ == "__main__":
    sys.exit(main())

"""``python -m distill`` runs the CLI."""

import sys

from distill.cli import main

sys.exit(main())

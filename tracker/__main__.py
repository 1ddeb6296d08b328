"""``python -m tracker`` runs the ``sporing`` command line."""

import sys

from tracker.cli import main

sys.exit(main())

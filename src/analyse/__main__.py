"""``python -m analyse`` runs the ``analyse`` command."""

import sys

from analyse.cli import main

sys.exit(main())

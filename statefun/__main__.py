"""``python -m statefun`` is the ``statefun`` command."""

import sys

from .cli import main

sys.exit(main())

"""``python -m gateway`` runs the ``ackgate`` command."""

import sys

from gateway.cli import main

sys.exit(main())

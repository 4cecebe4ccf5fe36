"""``python -m hostsim.cli``: the ``hostsim`` command."""

import sys

from hostsim.cli import main

sys.exit(main())

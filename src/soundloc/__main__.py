"""``python -m soundloc ...``: the same as the ``soundloc`` command."""

import sys

from soundloc.cli import main

sys.exit(main())

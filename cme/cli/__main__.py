"""`python -m cme.cli`: the same as the `cme` command."""

import sys

from cme.cli import main

sys.exit(main())

"""`python -m cme.cli`: the same as the `cme` command."""

import sys

from cme.cli import main

if __name__ == "__main__":  # not when a spawned API process imports it as __mp_main__
    sys.exit(main())

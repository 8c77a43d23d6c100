"""``python -m skhp`` is the ``skhp`` command (see :mod:`skhp.cli`)."""

import sys

from skhp.cli import main

if __name__ == "__main__":
    sys.exit(main())

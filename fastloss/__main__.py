"""``python -m fastloss``: the command-line interface (see :mod:`fastloss.cli`)."""

import sys

from fastloss.cli import main

if __name__ == "__main__":
    sys.exit(main())

"""``python -m puente.sandbox``: same as ``puente sandbox``."""

from __future__ import annotations

import sys

from puente.sandbox.cli import main

if __name__ == "__main__":
    sys.exit(main())

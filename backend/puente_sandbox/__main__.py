"""``python -m puente_sandbox``: same as ``puente sandbox``."""

from __future__ import annotations

import sys

from puente_sandbox.cli import main

if __name__ == "__main__":
    sys.exit(main())

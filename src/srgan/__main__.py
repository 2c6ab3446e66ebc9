"""``python -m srgan`` (and ``torchrun -m srgan``) entry point."""

import sys

from srgan.cli import main

sys.exit(main())

"""`python -m tui` runs the mathbench command line."""

import sys

from mathbench.tui.cli import main

sys.exit(main())

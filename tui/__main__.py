"""`python -m tui` runs the mathbench command line."""

import sys

from tui.cli import main

sys.exit(main())

"""Entry point of the sandbox fork server, run by pool.py as `python -I worker.py CONFIG_JSON`.

It loads the server's sibling modules (standard library only) as a private package rather than through
`mathbench`, so no project code or its imports sit in the memory every code block inherits.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import types

PRIVATE_PACKAGE = "_mathbench_sandbox"


def load_server():
    """The fork-server module, imported from this file's folder under a private package name."""
    pkg = types.ModuleType(PRIVATE_PACKAGE)
    pkg.__path__ = [os.path.dirname(os.path.abspath(__file__))]
    sys.modules[PRIVATE_PACKAGE] = pkg
    return importlib.import_module(PRIVATE_PACKAGE + ".forkserver")


if __name__ == "__main__":
    load_server().serve(json.loads(sys.argv[1]))

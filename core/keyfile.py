"""API keys handed to child processes: a 0600 file in a private folder, named in $MATHBENCH_API_KEY_FILE, never argv/env.

Foundation-level (standard library only) so that a job's tiny wrapper can delete a key its job never read.
"""

from __future__ import annotations

import os
import tempfile

API_KEY_FILE_ENV = "MATHBENCH_API_KEY_FILE"
API_KEY_ENV_VARS = ("MATHBENCH_API_KEY", "OPENAI_API_KEY")  # where a key may also be found, in this order
KEY_DIR_PREFIX = "mathbench-key-"


def write_key_file(key: str) -> str:
    """Put *key* in a new 0600 file inside a new 0700 folder (outside any run or job folder); returns its path.

    The child named in $MATHBENCH_API_KEY_FILE reads it once and deletes it (take_key_file).
    """
    folder = tempfile.mkdtemp(prefix=KEY_DIR_PREFIX)
    path = os.path.join(folder, "key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key)
    return path


def remove_key_file(path: str | None) -> None:
    """Delete a key file made by write_key_file, and its folder (quietly: the reader may have done it already).

    A file anywhere else (a user's own $MATHBENCH_API_KEY_FILE) is left alone.
    """
    if not path or not os.path.basename(os.path.dirname(path)).startswith(KEY_DIR_PREFIX):
        return
    for remove, target in ((os.unlink, path), (os.rmdir, os.path.dirname(path))):
        try:
            remove(target)
        except OSError:
            pass


def take_key_file(path: str) -> str | None:
    """The key in *path* (None if unreadable or empty); a file of ours is deleted once read."""
    try:
        with open(path, encoding="utf-8") as fh:
            key = fh.read().strip() or None
    except OSError:
        key = None
    remove_key_file(path)
    return key

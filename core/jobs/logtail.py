"""Reading growing log files: new complete lines since the last read, the last lines, the complete prefix."""

from __future__ import annotations

import os
from pathlib import Path


class IncrementalReader:
    """Reads a growing text file by complete lines, keeping a torn last line until it is finished."""

    def __init__(self, path: Path | str, *, offset: int = 0):
        self.path = Path(path)
        self.offset = offset
        self.line_no = 0
        self._partial = b""
        self._ino: int | None = None

    def read_lines(self, max_bytes: int = 8 << 20) -> list[str]:
        """New complete lines since the last call (restarting when the file was replaced or truncated)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        if (self._ino is not None and st.st_ino != self._ino) or st.st_size < self.offset:
            self.offset, self.line_no, self._partial = 0, 0, b""
        self._ino = st.st_ino
        if st.st_size == self.offset:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read(max_bytes)
        self.offset += len(chunk)
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        self.line_no += len(complete)
        return [c.decode("utf-8", "replace").rstrip("\r") for c in complete]

    def flush_partial(self) -> list[str]:
        """The unfinished last line, when the writer is known to be done."""
        if not self._partial:
            return []
        rest, self._partial = self._partial, b""
        self.line_no += 1
        return [rest.decode("utf-8", "replace").rstrip("\r")]


def tail_file(path: Path | str, n: int = 20, *, block: int = 65536, end: int | None = None) -> list[str]:
    """The last *n* lines of a text file (of its first *end* bytes when given), read from its end."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END) if end is None else end
            data = b""
            pos = size
            while pos > 0 and data.count(b"\n") <= n:
                step = min(block, pos)
                pos -= step
                fh.seek(pos)
                data = fh.read(step) + data
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[-n:] if n > 0 else []



def complete_prefix(path: Path, block: int = 65536) -> int:
    """The byte offset just past the file's last newline (0 when none)."""
    try:
        with open(path, "rb") as fh:
            pos = fh.seek(0, os.SEEK_END)
            while pos > 0:
                step = min(block, pos)
                fh.seek(pos - step)
                data = fh.read(step)
                idx = data.rfind(b"\n")
                if idx >= 0:
                    return pos - step + idx + 1
                pos -= step
    except FileNotFoundError:
        pass
    return 0


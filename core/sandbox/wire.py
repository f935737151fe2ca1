"""The fork server's wire format (length-prefixed JSON) and the capped capture of a block's output."""

from __future__ import annotations

import json
import socket
import struct


def send_msg(sock: socket.socket, obj: dict) -> None:
    """Send *obj* as one length-prefixed JSON message."""
    data = json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")
    sock.sendall(struct.pack("!I", len(data)) + data)


def recv_exact(sock: socket.socket, n: int) -> bytes:
    """Exactly *n* bytes from *sock*; EOFError when it closes first."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return bytes(buf)


def recv_msg(sock: socket.socket) -> dict:
    """One length-prefixed JSON message from *sock*."""
    (n,) = struct.unpack("!I", recv_exact(sock, 4))
    return json.loads(recv_exact(sock, n).decode("utf-8", "surrogatepass"))


class Capture:
    """Keeps the first and last *cap/2* bytes of a stream, counting what falls in between."""

    def __init__(self, cap: int):
        self.head_cap = cap // 2
        self.tail_cap = cap - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > 2 * self.tail_cap + 65536:
                del self.tail[: len(self.tail) - self.tail_cap]

    def text(self) -> tuple[str, bool]:
        tail = self.tail[-self.tail_cap:] if self.tail_cap else b""
        dropped = self.total - len(self.head) - len(tail)
        if dropped <= 0:
            return (bytes(self.head) + bytes(tail)).decode("utf-8", "replace"), False
        mark = f"\n... [{dropped} bytes of output truncated] ...\n"
        return self.head.decode("utf-8", "replace") + mark + bytes(tail).decode("utf-8", "replace"), True

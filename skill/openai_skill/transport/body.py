"""Reading a response body: in bounded pieces, decoded, with a cap on the decoded size.

Every read is `read1` of at most READ_CHUNK_BYTES decoded bytes: one `recv` at most (so the
socket timeout and the deadline watchdog bound it), and never more than that much inflated
at once (urllib3 >= 2.6 limits decompression per read, so a gzip bomb costs one piece of
memory before the cap refuses it). Errors are urllib3's; the call (`call.py`) maps them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

READ_CHUNK_BYTES = 64 * 1024
# The largest legitimate answer: 2048 inputs x 3072 float dimensions of embeddings is about
# 120-140 MB of JSON (one indented float per line); base64 is ~4x smaller. About twice that.
MAX_BODY_BYTES = 256 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024   # an image larger than this is refused, not buffered
MAX_ERROR_BODY_BYTES = 1024 * 1024      # enough for any error message; a gateway page is cut


class TooLarge(Exception):
    """The body is larger than the cap (raised before it is all in memory)."""

    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


def iter_pieces(response, check: Callable[[], None] | None = None) -> Iterator[bytes]:
    """The decoded body as it arrives; `check()` runs before every read (the deadline)."""
    raw = response.raw
    while True:
        if check is not None:
            check()
        piece = raw.read1(READ_CHUNK_BYTES, decode_content=True)
        if not piece:
            return
        yield piece


def read_capped(response, limit: int, *, check: Callable[[], None] | None = None,
                truncate: bool = False) -> bytearray:
    """The whole decoded body, or TooLarge once it passes `limit` bytes (with `truncate`,
    its first `limit` bytes instead). A bytearray, grown in place: an answer near the cap
    costs its size once, not twice (as a list of pieces joined at the end would)."""
    declared = response.headers.get("content-length", "")
    encoded = response.headers.get("content-encoding", "").strip().lower() not in ("", "identity")
    if not truncate and not encoded and declared.isdigit() and int(declared) > limit:
        raise TooLarge(limit)
    data = bytearray()
    for piece in iter_pieces(response, check):
        if len(data) + len(piece) > limit:
            if truncate:
                data += piece[: limit - len(data)]
                break
            raise TooLarge(limit)
        data += piece
    return data

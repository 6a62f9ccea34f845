"""Tiny but complete images, built here so the tests need no imaging library. Each one was
checked once to decode with Pillow: a 2x2 red PNG, an 8x8 grey baseline JPEG, a 1x1 WebP."""

from __future__ import annotations

import struct
import zlib


def make_png(width: int = 2, height: int = 2, rgb: tuple = (255, 0, 0)) -> bytes:
    def chunk(tag: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(tag + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))  # filter 0 per row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def make_jpeg() -> bytes:
    def segment(marker: int, payload: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload

    one_code_of_length_1 = bytes([1] + [0] * 15)
    return (b"\xff\xd8"
            + segment(0xDB, b"\x00" + b"\x01" * 64)                              # flat quant table
            + segment(0xC0, b"\x08" + struct.pack(">HH", 8, 8) + b"\x01\x01\x11\x00")  # 8x8 grey
            + segment(0xC4, b"\x00" + one_code_of_length_1 + b"\x00"             # DC: diff 0
                      + b"\x10" + one_code_of_length_1 + b"\x00")                # AC: EOB
            + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
            + b"\x3f"                                                            # DC 0, EOB, pad
            + b"\xff\xd9")


def make_webp() -> bytes:
    vp8l = bytes.fromhex("2f000000100710111188" "88fe07")  # 1x1 lossless bitstream
    chunk = b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l + b"\x00"  # padded to even length
    body = b"WEBP" + chunk
    return b"RIFF" + struct.pack("<I", len(body)) + body


PNG_BYTES = make_png()
JPEG_BYTES = make_jpeg()
WEBP_BYTES = make_webp()

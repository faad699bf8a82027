"""A tiny PNG plot of lateness CDFs, in pure Python (matplotlib is not a dependency).

x: lateness on a log scale from 1 ms to 1000 s; y: share of the burst delivered by then.
A design that did not deliver everything levels off below 100 %.
"""

import math
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

WIDTH, HEIGHT = 760, 440
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 60
X_MIN, X_MAX = -3, 3  # log10 seconds
WHITE, BLACK, GREY = (255, 255, 255), (0, 0, 0), (225, 225, 225)
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]

# 3x5 glyphs, drawn at SCALE: enough for numbers and short lowercase labels.
# fmt: off
FONT = {
    "0": ["111", "101", "101", "101", "111"], "1": ["010", "110", "010", "010", "111"],
    "2": ["111", "001", "111", "100", "111"], "3": ["111", "001", "111", "001", "111"],
    "4": ["101", "101", "111", "001", "001"], "5": ["111", "100", "111", "001", "111"],
    "6": ["111", "100", "111", "101", "111"], "7": ["111", "001", "010", "010", "010"],
    "8": ["111", "101", "111", "101", "111"], "9": ["111", "101", "111", "001", "111"],
    ".": ["000", "000", "000", "000", "010"], "%": ["101", "001", "010", "100", "101"],
    "(": ["010", "100", "100", "100", "010"], ")": ["010", "001", "001", "001", "010"],
    ",": ["000", "000", "000", "010", "100"], ":": ["000", "010", "000", "010", "000"],
    "-": ["000", "000", "111", "000", "000"], "/": ["001", "001", "010", "100", "100"],
    " ": ["000", "000", "000", "000", "000"], "a": ["000", "011", "101", "101", "011"],
    "b": ["100", "110", "101", "101", "110"], "c": ["000", "011", "100", "100", "011"],
    "d": ["001", "011", "101", "101", "011"], "e": ["000", "111", "111", "100", "011"],
    "f": ["011", "100", "110", "100", "100"], "g": ["011", "101", "011", "001", "110"],
    "h": ["100", "110", "101", "101", "101"], "i": ["010", "000", "010", "010", "010"],
    "k": ["100", "101", "110", "110", "101"], "l": ["110", "010", "010", "010", "111"],
    "m": ["000", "111", "111", "101", "101"], "n": ["000", "110", "101", "101", "101"],
    "o": ["000", "010", "101", "101", "010"], "p": ["000", "110", "101", "110", "100"],
    "q": ["000", "011", "101", "011", "001"], "r": ["000", "011", "100", "100", "100"],
    "s": ["000", "011", "110", "011", "110"], "t": ["010", "111", "010", "010", "011"],
    "u": ["000", "101", "101", "101", "011"], "v": ["000", "101", "101", "101", "010"],
    "w": ["000", "101", "101", "111", "111"], "x": ["000", "101", "010", "010", "101"],
    "y": ["000", "101", "011", "001", "110"], "j": ["001", "000", "001", "001", "110"],
}
# fmt: on
SCALE = 2


class Canvas:
    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.pixels = bytearray(WHITE * (width * height))

    def dot(self, x: int, y: int, colour: tuple[int, int, int]) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = 3 * (y * self.width + x)
            self.pixels[i : i + 3] = bytes(colour)

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour: tuple[int, int, int]) -> None:
        for y in range(min(y0, y1), max(y0, y1) + 1):
            for x in range(min(x0, x1), max(x0, x1) + 1):
                self.dot(x, y, colour)

    def text(self, x: int, y: int, s: str, colour=BLACK) -> None:
        for char in s.lower():
            for row, bits in enumerate(FONT.get(char, FONT[" "])):
                for col, bit in enumerate(bits):
                    if bit == "1":
                        self.rect(
                            x + col * SCALE,
                            y + row * SCALE,
                            x + col * SCALE + SCALE - 1,
                            y + row * SCALE + SCALE - 1,
                            colour,
                        )
            x += 4 * SCALE

    def png(self) -> bytes:
        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        stride = 3 * self.width
        raw = b"".join(
            b"\x00" + bytes(self.pixels[y * stride : (y + 1) * stride]) for y in range(self.height)
        )
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def _x(seconds: float) -> int:
    log = math.log10(max(seconds, 10.0**X_MIN))
    share = (min(log, X_MAX) - X_MIN) / (X_MAX - X_MIN)
    return LEFT + round(share * (WIDTH - LEFT - RIGHT))


def _y(share: float) -> int:
    return HEIGHT - BOTTOM - round(share * (HEIGHT - TOP - BOTTOM))


def _axes(canvas: Canvas) -> None:
    for exponent in range(X_MIN, X_MAX + 1):
        x = _x(10.0**exponent)
        canvas.rect(x, TOP, x, HEIGHT - BOTTOM, GREY)
        label = f"{10.0**exponent:g}"
        canvas.text(x - len(label) * 4, HEIGHT - BOTTOM + 8, label)
    for percent in range(0, 101, 25):
        y = _y(percent / 100)
        canvas.rect(LEFT, y, WIDTH - RIGHT, y, GREY)
        canvas.text(LEFT - 12 - 8 * len(f"{percent}%"), y - 5, f"{percent}%")
    canvas.rect(LEFT, TOP, LEFT, HEIGHT - BOTTOM, BLACK)
    canvas.rect(LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, HEIGHT - BOTTOM, BLACK)
    canvas.text(WIDTH // 2 - 90, HEIGHT - 26, "lateness (s, log scale)")
    canvas.text(LEFT, 12, "share of the burst delivered, by lateness")


def _cdf(canvas: Canvas, lateness_s: Sequence[float], total: int, colour) -> None:
    share, x_prev = 0.0, _x(10.0**X_MIN)
    for i, value in enumerate(sorted(lateness_s), start=1):
        x, new_share = _x(value), i / total
        canvas.rect(x_prev, _y(share), x, _y(share) + 1, colour)
        canvas.rect(x, _y(new_share), x + 1, _y(share), colour)
        share, x_prev = new_share, x
    canvas.rect(x_prev, _y(share), WIDTH - RIGHT, _y(share) + 1, colour)


def lateness_cdf(path: Path, series: dict[str, tuple[Sequence[float], int]]) -> None:
    """Write the plot. `series`: label -> (lateness in seconds of each delivered action,
    number of actions in the burst)."""
    canvas = Canvas(WIDTH, HEIGHT)
    _axes(canvas)
    for i, (label, (lateness_s, total)) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        _cdf(canvas, lateness_s, max(total, 1), colour)
        y = TOP + 10 + 18 * i
        canvas.rect(LEFT + 12, y, LEFT + 30, y + 9, colour)
        canvas.text(LEFT + 38, y, f"{label}: {len(lateness_s)} of {total} delivered")
    path.write_bytes(canvas.png())

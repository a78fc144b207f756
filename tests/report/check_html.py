#!/usr/bin/env python3
"""Renders a scalelab report.html in headless Chromium and checks that it really shows.

Usage: check_html.py HTML_FILE OUT_DIR

Two Chromium runs, each time-boxed to 60 s, with a throwaway profile in OUT_DIR:
  1. --screenshot: OUT_DIR/report.png of the page in a 1200x2000 window;
  2. --dump-dom: OUT_DIR/dom.html, the page as Chromium parsed it.
Fails (exit 1, one line saying why) when Chromium exits non-zero or hangs, when the page logs
anything to the console (report.html has no scripts, and Chromium logs every page message at
INFO whatever its console level, so any CONSOLE line counts, and "Uncaught" always does), when
Chromium shows an error page instead of the file, when the PNG is missing or does not decode, or
when the screenshot is blank: at most 1 % of pixels not white, or a handful of colours.
Prints one summary line and exits 0 otherwise.

Standard library only: the PNG is decoded here (zlib, then the five PNG row filters) so the check
needs nothing beyond Python and Chromium.
"""

import os
import pathlib
import signal
import struct
import subprocess
import sys
import zlib

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_S = 60
WINDOW = (1200, 2000)
MIN_INK_SHARE = 0.01  # of pixels not (near) white
MIN_COLOURS = 8  # distinct colours: text, axes, grid, a few series


class CheckFailed(Exception):
    pass


def run_chromium(url, out_dir, extra):
    """Runs Chromium on url with extra flags; returns (stdout, stderr) as text."""
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={out_dir / 'chromium-profile'}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        # Lets the page finish loading (and any script run) before the capture.
        "--virtual-time-budget=5000",
        "--hide-scrollbars",
        *extra,
        url,
    ]
    # A session of its own, so a hung Chromium goes down with all its helper processes.
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise CheckFailed(f"chromium {' '.join(extra)} did not finish within {TIMEOUT_S} s")
    out = out.decode("utf-8", "replace")
    err = err.decode("utf-8", "replace")
    if proc.returncode != 0:
        tail = " | ".join(err.strip().splitlines()[-3:])
        raise CheckFailed(f"chromium {' '.join(extra)} exited {proc.returncode}: {tail}")
    return out, err


def console_problems(stderr):
    """Console messages in Chromium's log: '[...:INFO:CONSOLE:12] "text", source: ...'."""
    lines = [line.strip() for line in stderr.splitlines()
             if ":CONSOLE" in line or "Uncaught" in line]
    # Uncaught exceptions first: they are what a reader of the one-line failure needs to see.
    return sorted(lines, key=lambda line: "Uncaught" not in line)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data):
    """(width, height, bytes per pixel, rows of raw pixel bytes) of an 8-bit, non-interlaced
    greyscale, RGB, grey+alpha or RGBA PNG — what Chromium's screenshots are."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise CheckFailed("screenshot is not a PNG")
    pos, idat, header = 8, bytearray(), None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None:
        raise CheckFailed("screenshot PNG has no IHDR")
    width, height, depth, colour_type, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour_type)
    if depth != 8 or channels is None or interlace != 0:
        raise CheckFailed(f"screenshot PNG format not handled: depth {depth}, colour type "
                          f"{colour_type}, interlace {interlace}")
    raw = zlib.decompress(bytes(idat))
    bpp, stride = channels, width * channels
    if len(raw) != height * (stride + 1):
        raise CheckFailed("screenshot PNG data is truncated")
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        row = bytearray(raw[start + 1:start + 1 + stride])
        # Undo the row filter (PNG spec, section 9): each byte is stored as a difference from
        # its left neighbour (Sub), the byte above (Up), their mean (Average) or Paeth's guess.
        if kind == 1:
            for i in range(bpp, stride):
                row[i] = (row[i] + row[i - bpp]) & 0xFF
        elif kind == 2:
            for i in range(stride):
                row[i] = (row[i] + previous[i]) & 0xFF
        elif kind == 3:
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                if i >= bpp:
                    row[i] = (row[i] + paeth(row[i - bpp], previous[i], previous[i - bpp])) & 0xFF
                else:
                    row[i] = (row[i] + previous[i]) & 0xFF
        elif kind != 0:
            raise CheckFailed(f"screenshot PNG row {y} has unknown filter {kind}")
        rows.append(row)
        previous = row
    return width, height, bpp, rows


def ink(width, height, bpp, rows):
    """(share of pixels that are not near-white, number of distinct colours)."""
    colour_bytes = 1 if bpp <= 2 else 3  # alpha left out: the page is opaque
    inked, colours = 0, set()
    for row in rows:
        for x in range(0, width * bpp, bpp):
            pixel = bytes(row[x:x + colour_bytes])
            colours.add(pixel)
            if min(pixel) < 245:
                inked += 1
    return inked / (width * height), len(colours)


def check(html_file, out_dir):
    html = pathlib.Path(html_file).resolve()
    if not html.is_file():
        raise CheckFailed(f"{html_file}: no such file")
    out_dir = pathlib.Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "report.png"
    if png.exists():
        png.unlink()
    url = html.as_uri()

    _, err = run_chromium(url, out_dir, [f"--screenshot={png}"])
    problems = console_problems(err)
    dom, err = run_chromium(url, out_dir, ["--dump-dom"])
    problems += console_problems(err)
    (out_dir / "dom.html").write_text(dom, encoding="utf-8")
    (out_dir / "chromium-stderr.txt").write_text(err, encoding="utf-8")
    if problems:
        raise CheckFailed(f"console message(s) from the page: {problems[0]}"
                          + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    if "chrome-error://" in dom or "<html" not in dom:
        raise CheckFailed("chromium showed an error page instead of the report")

    if not png.is_file() or png.stat().st_size == 0:
        raise CheckFailed(f"no screenshot at {png}")
    width, height, bpp, rows = decode_png(png.read_bytes())
    share, colours = ink(width, height, bpp, rows)
    if share <= MIN_INK_SHARE or colours <= MIN_COLOURS:
        raise CheckFailed(f"screenshot looks blank: {share:.2%} of pixels not white, "
                          f"{colours} distinct colours (need > {MIN_INK_SHARE:.0%} and "
                          f"> {MIN_COLOURS})")
    svgs = dom.count("<svg")
    return (f"ok: {html.name} rendered {width}x{height}, {share:.1%} of pixels inked, "
            f"{colours} colours, {svgs} svg charts in the DOM, no console messages; "
            f"screenshot {png}")


def main(argv):
    if len(argv) != 3:
        print("usage: check_html.py HTML_FILE OUT_DIR", file=sys.stderr)
        return 2
    try:
        print(check(argv[1], argv[2]))
        return 0
    except CheckFailed as failure:
        print(f"check_html.py: FAIL: {failure}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""The leadership report in a real headless browser (Debian's chromium): it loads without a
single console message and its charts paint (a screenshot with coloured chart marks).

`make test` installs chromium (the `browser` target). Without it this test skips on a laptop but
fails under CI=true, so CI cannot pass without having looked at the report.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import duckdb
import numpy as np
import pytest

from fiscal_intel.leadership.report import render_report, write_report

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
]  # fmt: skip
# Console messages reach stderr as "...:INFO:CONSOLE:12] "message", source: file:///..." lines.
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]\s*(.*)")


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    message = "chromium is not installed (make browser installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def decode_png(data: bytes) -> np.ndarray:
    """RGB pixels of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0 and color in (2, 6), header
    bpp = 3 if color == 2 else 4
    stride = width * bpp
    rows = np.frombuffer(zlib.decompress(b"".join(chunks)), np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), np.uint8)
    prev = np.zeros(stride, np.int64)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:].astype(np.int64)
        if kind == 0:
            cur = line
        elif kind == 1:  # Sub: running sum per channel
            cur = np.empty_like(line)
            for c in range(bpp):
                cur[c::bpp] = np.cumsum(line[c::bpp]) & 255
        elif kind == 2:  # Up
            cur = (line + prev) & 255
        else:  # Average or Paeth: each byte needs the one decoded just before it
            values, above, done = line.tolist(), prev.tolist(), [0] * stride
            for x in range(stride):
                left = done[x - bpp] if x >= bpp else 0
                if kind == 3:
                    predictor = (left + above[x]) >> 1
                else:
                    corner = above[x - bpp] if x >= bpp else 0
                    p = left + above[x] - corner
                    pa, pb, pc = abs(p - left), abs(p - above[x]), abs(p - corner)
                    predictor = left if pa <= pb and pa <= pc else above[x] if pb <= pc else corner
                done[x] = (values[x] + predictor) & 255
            cur = np.array(done, np.int64)
        out[y] = cur
        prev = cur
    return out.reshape(height, width, bpp)[:, :, :3]


def load(page: Path, screenshot: Path, tmp: Path) -> list[str]:
    """Open ``page`` in headless chromium, screenshot it, return the console messages."""
    result = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={tmp / 'profile'}", "--window-size=1280,2400",
         f"--screenshot={screenshot}", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert screenshot.is_file(), result.stderr[-2000:]
    return [m.group(1) for m in map(CONSOLE.search, result.stderr.splitlines()) if m]


def paint(screenshot: Path) -> tuple[float, int]:
    """Share of non-white pixels, and how many are strongly coloured (chart marks, not text)."""
    rgb = decode_png(screenshot.read_bytes()).astype(np.int16)
    non_white = (rgb.min(axis=2) < 235).mean()
    # Chart colours are saturated; text is grey and the header band dark blue (spread 81).
    coloured = int(((rgb.max(axis=2) - rgb.min(axis=2)) > 100).sum())
    return float(non_white), coloured


def test_report_renders_in_headless_chromium(demo_run, tmp_path: Path) -> None:
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        page = tmp_path / "report.html"
        write_report(render_report(con), page)
    shot = tmp_path / "report.png"
    assert load(page, shot, tmp_path) == []
    non_white, coloured = paint(shot)
    assert non_white > 0.05, non_white
    assert coloured > 20_000, coloured


def test_the_checks_catch_a_broken_page(tmp_path: Path) -> None:
    # Negative control: a page that fetches from the network and throws, and draws nothing.
    page = tmp_path / "broken.html"
    page.write_text(
        '<!doctype html><html><head><meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; script-src 'unsafe-inline'\"></head><body>"
        '<img src="https://cdn.example.com/chart.png"><script>throw new Error("boom")</script>'
        "</body></html>",
        encoding="utf-8",
    )
    shot = tmp_path / "broken.png"
    messages = load(page, shot, tmp_path)
    assert any("boom" in m for m in messages), messages
    assert any("cdn.example.com" in m for m in messages), messages
    non_white, coloured = paint(shot)
    assert non_white < 0.01 and coloured < 500  # a broken-image icon at most


# --- Phone and desktop widths: no sideways overflow, no text too small to read -----------------

PROBE = """<script>
(function () {
  var min = 1e9, where = '';
  document.querySelectorAll('body *').forEach(function (el) {
    var text = false;
    el.childNodes.forEach(function (n) {
      if (n.nodeType === 3 && n.textContent.trim()) text = true;
    });
    var box = el.getBoundingClientRect();
    if (!text || !box.width || !box.height) return;
    var size = parseFloat(getComputedStyle(el).fontSize);
    if (el instanceof SVGElement) { var m = el.getScreenCTM(); size = size * (m ? m.a : 1); }
    if (size < min) { min = size; where = el.tagName + ': ' + el.textContent.slice(0, 40); }
  });
  parent.document.body.setAttribute('data-probe', JSON.stringify({
    scroll: document.documentElement.scrollWidth, viewport: window.innerWidth,
    font: min, where: where}));
})();
</script>"""


def measure(page_html: str, width: int, tmp: Path) -> dict:
    """Lay ``page_html`` out ``width`` CSS pixels wide in headless chromium (inside a frame of
    that width: a headless window is never narrower than 500 px) and measure the rendered page.
    The probe is a script, which the report's own policy forbids: it runs on a copy without it."""
    import html
    import json

    probed = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page_html)
    probed = probed.replace("</body>", PROBE + "</body>")
    outer = tmp / f"outer{width}.html"
    outer.write_text(
        f'<!doctype html><html><body style="margin:0"><iframe style="width:{width}px;'
        f'height:3000px;border:0" srcdoc="{html.escape(probed)}"></iframe></body></html>',
        encoding="utf-8",
    )
    result = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={tmp / 'profile'}", "--window-size=1300,2000",
         "--dump-dom", outer.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r'data-probe="([^"]*)"', result.stdout)
    assert found, result.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))


MIN_FONT_PX = 10


def test_report_reads_at_phone_and_desktop_widths(demo_run, tmp_path: Path) -> None:
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        page = render_report(con)
    assert "fig-note" in page  # the notes under the figures are on the page
    for width in (390, 1280):
        m = measure(page, width, tmp_path)
        assert m["viewport"] == width, m
        assert m["scroll"] <= m["viewport"], m  # nothing sticks out sideways
        assert m["font"] >= MIN_FONT_PX, m
    # Negative control: without the phone rules, the charts shrink their text to ~4 px.
    bare = re.sub(r"@media \(max-width: 640px\) \{.*?\n\}\n", "", page, flags=re.S)
    assert bare != page
    assert measure(bare, 390, tmp_path)["font"] < 6

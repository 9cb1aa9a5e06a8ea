"""The report in a real browser: headless Chromium opens index.html from disk and
every figure on the page loads with a non-zero natural size.

The page itself is opened unchanged, through a copy beside it that adds one
script: on ``load`` it writes each image's natural size into the DOM, which
``--dump-dom`` prints.  A broken image has a natural size of 0, which the
second test checks on purpose, so the first cannot pass by accident.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_report_helpers import synthetic_run, write_run

from reports import render
from reports.figures import FIGURES

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_PROBE = """<script>
window.addEventListener("load", function () {
  var out = document.createElement("pre");
  out.id = "vecbench-natural-sizes";
  out.textContent = JSON.stringify(Array.prototype.map.call(document.images, function (img) {
    return {src: img.getAttribute("src"), width: img.naturalWidth, height: img.naturalHeight};
  }));
  document.body.appendChild(out);
});
</script>
"""


def _chromium() -> str:
    found = os.environ.get("VECBENCH_CHROMIUM") or next(
        (p for p in map(shutil.which, _NAMES) if p), None)
    if not found:
        pytest.skip("chromium not found on PATH (nor VECBENCH_CHROMIUM): `make test` installs "
                    "Debian's chromium package; without root, install it and re-run")
    return found


def natural_sizes(page: Path, tmp_path: Path) -> list[dict]:
    """Open ``page`` in headless Chromium; the natural size of each of its images."""
    probe = page.with_name("_browser_probe.html")
    probe.write_text(page.read_text().replace("</body>", _PROBE + "</body>"))
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
           "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    finally:
        probe.unlink()
    found = re.search(r'<pre id="vecbench-natural-sizes">(.*?)</pre>', proc.stdout, re.DOTALL)
    assert found, f"page did not load (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture
def report(tmp_path) -> Path:
    _chromium()  # skip before rendering when there is no browser
    run = write_run(tmp_path / "run.json", synthetic_run())
    return render([run], tmp_path / "out")


def test_every_figure_loads_in_chromium(report, tmp_path):
    images = natural_sizes(report, tmp_path)
    expected = re.findall(r'<img src="([^"]+)"', report.read_text())
    assert [i["src"] for i in images] == expected
    assert len(images) == len(FIGURES) + 1 == 8  # the seven, and the history
    for image in images:
        assert image["width"] > 0 and image["height"] > 0, image


def test_a_broken_figure_is_caught(report, tmp_path):
    (report.parent / "3-throughput.png").write_bytes(b"not a png")
    (report.parent / "5-jit.png").unlink()
    sizes = {i["src"]: i["width"] for i in natural_sizes(report, tmp_path)}
    assert sizes["3-throughput.png"] == 0
    assert sizes["5-jit.png"] == 0
    assert sizes["1-headline.png"] > 0

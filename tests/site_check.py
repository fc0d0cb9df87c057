"""Load built pages in headless Chromium (Debian's package) and report what a reader sees."""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import threading
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` on a free loopback port for the duration of the block."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


INSPECT = r"""async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const imgs = [...document.querySelectorAll('article img, main img')];
  const outputs = [...document.querySelectorAll('.cell_output, .output')];
  const column = article.getBoundingClientRect();
  const scrolls = (t) => {  // inside an element that scrolls sideways and fits the column
    for (let e = t; e && e !== article; e = e.parentElement) {
      const ox = getComputedStyle(e).overflowX;
      if ((ox === 'auto' || ox === 'scroll') && e.getBoundingClientRect().right <= column.right + 1) return true;
    }
    return false;
  };
  return {
    title: document.title,
    figures: document.querySelectorAll('figure').length,
    captions: [...document.querySelectorAll('figcaption')].map(c => c.innerText.trim()),
    images: imgs.length,
    broken_images: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
    images_without_alt: imgs.filter(i => {  // Sphinx writes the file name when a figure has no alt text
      const alt = (i.getAttribute('alt') || '').trim();
      return !alt || /\.(png|jpe?g|svg|gif)$/i.test(alt);
    }).map(i => i.src),
    error_outputs: document.querySelectorAll('.output.traceback, .output.error, .ansi-red-fg').length,
    stderr_outputs: [...document.querySelectorAll('.output.stderr')].map(o => o.innerText.slice(0, 300)),
    warning_text: outputs.map(o => o.innerText).filter(t => /Warning|Traceback|Error:/.test(t)).map(t => t.slice(0, 300)),
    math: document.querySelectorAll('.math').length,
    rendered_math: document.querySelectorAll('mjx-container').length,
    raw_tex: (article.innerText.match(/\\\(|\\\[|\\begin\{|\$\$/g) || []).length,
    overflowing_tables: [...article.querySelectorAll('table')]
      .filter(t => t.getBoundingClientRect().right > column.right + 1 && !scrolls(t))
      .map(t => t.innerText.slice(0, 80)),
    clipped: [...article.querySelectorAll('table, pre')]  // text hidden behind a sideways scroll bar
      .filter(t => { for (let e = t; e && e !== article; e = e.parentElement) {
                       if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible') return true; }
                     return false; })
      .map(t => t.innerText.slice(0, 80)),
    text: document.body.innerText,
  };
}"""


def inspect_pages(html_dir: Path, pages: list[str], screenshot_dir: Path | None = None,
                  width: int = 1280) -> dict[str, dict]:
    """Open each page in a window ``width`` pixels wide, wait for it and its math to load, and
    return what the INSPECT script reports. The browser reaches nothing but the local server, so
    a page that needs the network to render (a CDN's MathJax) shows it."""
    from playwright.sync_api import sync_playwright

    report = {}
    with serve(html_dir) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.route(lambda url: not url.startswith(base), lambda route: route.abort())  # the network is unplugged
        for name in pages:
            page.goto(f"{base}/{name}", wait_until="load")
            report[name] = page.evaluate(INSPECT)
            if screenshot_dir is not None:
                screenshot_dir.mkdir(parents=True, exist_ok=True)
                shot = f"{name.replace('/', '_')}-{width}.png"
                page.screenshot(path=str(screenshot_dir / shot), full_page=True)
        browser.close()
    return report


if __name__ == "__main__":  # python tests/site_check.py _build/html /tmp/shots page.html ...
    import json
    import sys

    result = inspect_pages(Path(sys.argv[1]), sys.argv[3:], Path(sys.argv[2]))
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "text"} for k, v in result.items()}, indent=1))

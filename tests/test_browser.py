"""The published book in a real browser (Debian's Chromium driven by Playwright): every page of ``_build/html`` is
loaded from a local HTTP server and checked the way a reader meets it — offline.

Needs /usr/bin/chromium (``apt-get install chromium``); .ci/run installs it and sets LSGAN_REQUIRE_BROWSER=1, which
turns a missing browser into a failure instead of a skip. Full-page screenshots go to ``_build/screenshots/``.

``LSGAN_BROWSER_CHAPTERS=DIR`` builds the book from the executed chapters in DIR instead of ``book/`` (for example
``_build/runs/smoke`` after ``lsgan-book run --profile smoke``), to try these checks on a fresh run.
"""

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from lsgan_lib.book import overview, parameters as profile_params

from .conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "_build" / "screenshots"

if not CHROMIUM.exists():
    if os.environ.get("LSGAN_REQUIRE_BROWSER"):
        raise RuntimeError("LSGAN_REQUIRE_BROWSER is set but /usr/bin/chromium is missing: apt-get install chromium")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The published book (the committed executed chapters in book/), built into a scratch copy of the sources."""
    root = tmp_path_factory.mktemp("published")
    for name in ("_config.yml", "_toc.yml", "references.bib"):
        shutil.copy(ROOT / name, root / name)
    for folder in ("book", "book_assets", "notebooks"):
        shutil.copytree(ROOT / folder, root / folder)
    if os.environ.get("LSGAN_BROWSER_CHAPTERS"):
        for executed in Path(os.environ["LSGAN_BROWSER_CHAPTERS"]).glob("*.ipynb"):
            shutil.copy(executed, root / "book" / executed.name)
    result = subprocess.run([sys.executable, "-m", "lsgan_lib", "build"], cwd=root, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return root


@pytest.fixture(scope="module")
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site / "_build" / "html"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"])
        yield chromium
        chromium.close()


def visit(browser, url):
    """Load ``url``; return the page and what happened: local responses, failed requests, outside requests, console
    errors, every URL requested. Requests that leave this machine are blocked (the book must work offline) and
    recorded."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = {"bad": [], "failed": [], "outside": [], "errors": [], "all": []}
    host = urlparse(url).netloc

    def route(r):
        if urlparse(r.request.url).netloc in (host, "") or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            seen["outside"].append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("request", lambda r: seen["all"].append(r.url))
    page.on("response", lambda r: r.status >= 400 and seen["bad"].append((r.status, r.url)))
    page.on("requestfailed", lambda r: urlparse(r.url).netloc == host and seen["failed"].append((r.url, r.failure)))
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.goto(url, wait_until="load")
    page.wait_for_timeout(1500)
    return page, seen


def html_pages(site):
    html = site / "_build" / "html"
    return sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html") if "_static" not in p.parts)


def test_every_page_loads_offline_without_errors(site, server, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = html_pages(site)
    assert "index.html" in pages and "book/claims.html" in pages
    for name in pages:
        page, seen = visit(browser, f"{server}/{name}")
        assert not seen["bad"] and not seen["failed"], (name, seen)
        assert not seen["outside"], (name, "requests leaving the machine", seen["outside"])
        assert not seen["errors"], (name, "console errors", seen["errors"])
        broken = page.evaluate("() => Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                               ".map(i => i.src)")
        assert not broken, (name, "images that did not decode", broken)
        page.screenshot(path=str(SCREENSHOTS / (name.replace("/", "__") + ".png")), full_page=True)
        page.close()


@pytest.mark.parametrize("chapter", profile_params.chapters(ROOT))
def test_chapter_pages_show_figures_claims_and_a_working_slider(chapter, site, server, browser):
    if not (site / "book" / f"{chapter}.ipynb").exists():
        pytest.fail(f"book/{chapter}.ipynb is missing: run `lsgan-book run {chapter}` and commit it")
    page, seen = visit(browser, f"{server}/book/{chapter}.html")
    figures = page.locator("figure img")
    assert figures.count() >= 2, "the chapter's figures (with captions) are missing"
    captions = page.locator("figure figcaption").all_inner_texts()
    assert all("Fig" in c or "figure" in c.lower() for c in captions), captions
    assert page.locator(f"#{overview.claims_label(chapter)}").count() == 1
    assert "criterion (fixed before the run)" in page.inner_text("main")

    slider = page.locator(".widget-slider").first
    slider.wait_for(state="visible", timeout=15_000)
    visible_image = """() => { const box = document.querySelector('.widget-slider').closest('.widget-vbox');
        return Array.from(box.querySelectorAll('img')).filter(i => i.offsetParent !== null).map(i => i.src); }"""
    before = page.evaluate(visible_image)
    readout = page.locator(".widget-slider .widget-readout").first.inner_text()
    handle = page.locator(".widget-slider .noUi-handle").first
    handle.focus()
    page.keyboard.press("ArrowLeft")
    page.wait_for_timeout(300)
    after = page.evaluate(visible_image)
    assert len(before) == 1 and len(after) == 1, (before, after)
    assert before != after, "moving the slider did not change the shown snapshot"
    assert page.locator(".widget-slider .widget-readout").first.inner_text() != readout

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = urlparse(config["repository"]["url"]).path.strip("/")
    binder = [a for a in page.eval_on_selector_all("a", "as => as.map(a => a.href)") if "mybinder.org" in a]
    assert binder, "no Binder launch button"
    assert all(f"/v2/gh/{repo}/" in link and f"urlpath=lab/tree/book/{chapter}.ipynb" in link for link in binder), \
        binder
    page.close()


def test_claims_overview_lists_every_chapters_claims(site, server, browser):
    page, _ = visit(browser, f"{server}/book/claims.html")

    def plain(value: str) -> str:  # Sphinx's smart quotes turn ' and " into typographic ones
        for fancy, ascii_ in (("\u2018", "'"), ("\u2019", "'"), ("\u201c", '"'), ("\u201d", '"')):
            value = value.replace(fancy, ascii_)
        return " ".join(value.split())

    text = plain(page.inner_text("main"))
    executed = [c for c in profile_params.chapters(ROOT) if (site / "book" / f"{c}.ipynb").exists()]
    assert executed
    for chapter in executed:
        claims = overview.chapter_claims(site / "book" / f"{chapter}.ipynb")
        assert claims, chapter
        for claim in claims:
            assert plain(claim["claim"]) in text, claim["claim"]
    links = page.eval_on_selector_all("main a", "as => as.map(a => a.getAttribute('href'))")
    for chapter in executed:
        assert any(href and href.endswith(f"{chapter}.html#{overview.claims_label(chapter)}") for href in links), links
    page.close()


def test_equations_render_offline_with_the_shipped_mathjax(site, server, browser):
    html = site / "_build" / "html"
    with_math = [name for name in html_pages(site) if 'class="math' in (html / name).read_text()]
    assert with_math, "no page has an equation: this test would check nothing"
    for name in with_math:
        page, seen = visit(browser, f"{server}/{name}")
        assert any("_static/mathjax/tex-mml-chtml.js" in url for url in seen["all"]), (name, "MathJax not loaded")
        page.wait_for_selector("mjx-container", timeout=15_000)
        assert page.locator("mjx-container").count() >= page.locator("div.math, span.math").count()
        assert not page.locator("mjx-merror").count(), (name, "MathJax reported a TeX error")
        page.close()


# What a reader must not meet: a progress bar (stuck at 0% when the runs came from the cache, or frozen when finished),
# an absolute path of the machine that ran the chapter, a verdict cut off or behind a horizontal scroll.
PROGRESS_TEXT = re.compile(r"\b\d+/\d+ \[\d\d:\d\d<")  # tqdm's "0/200 [00:00<?, ? it/s]"
MACHINE_PATH = re.compile(r"(?<![\w.~-])(/home/[\w.-]+|/Users/[\w.-]+|/root|C:\\Users\\[\w.-]+)[/\\]")
VERDICT_CELLS = """() => {
    const problems = [];
    let tables = 0;
    for (const table of document.querySelectorAll('main table')) {
        const heads = Array.from(table.querySelectorAll('thead th')).map(th => th.innerText.trim().toLowerCase());
        const col = heads.indexOf('verdict');
        if (col < 0) continue;
        tables += 1;
        let box = table.parentElement;
        while (box && !['auto', 'scroll', 'hidden'].includes(getComputedStyle(box).overflowX)) box = box.parentElement;
        const view = (box || document.querySelector('main')).getBoundingClientRect();
        for (const row of table.querySelectorAll('tbody tr')) {
            const cell = row.children[col];
            const r = cell.getBoundingClientRect();
            if (r.left < view.left - 1 || r.right > view.right + 1 || cell.scrollWidth > cell.clientWidth + 1)
                problems.push(cell.innerText.trim());
        }
    }
    return {tables, problems}; }"""


def private_paths(site):
    paths = {str(Path.home()), str(ROOT), str(site)}
    if os.environ.get("LSGAN_DATA"):
        paths |= {os.environ["LSGAN_DATA"].rstrip("/"), str(Path(os.environ["LSGAN_DATA"]).resolve())}
    return sorted(p for p in paths if len(Path(p).parts) >= 2)


def test_no_page_shows_a_progress_bar_or_a_machine_path(site, server, browser):
    problems = []
    for name in html_pages(site):
        page, _ = visit(browser, f"{server}/{name}")
        text = page.inner_text("body")
        bars = page.locator(".widget-hprogress, .widget-vprogress, progress").count()  # ipywidgets' progress bars
        if bars or PROGRESS_TEXT.search(text):
            problems.append((name, f"{bars} progress widget(s)", PROGRESS_TEXT.findall(text)[:3]))
        leaked = [p for p in private_paths(site) if p in text] + MACHINE_PATH.findall(text)
        if leaked:
            problems.append((name, "absolute paths of the machine", leaked))
        page.close()
    assert not problems, problems


@pytest.mark.parametrize("name", ["book/claims.html", *[f"book/{c}.html" for c in profile_params.chapters(ROOT)]])
def test_the_verdict_column_is_visible_without_scrolling_sideways(name, site, server, browser):
    page, _ = visit(browser, f"{server}/{name}")
    found = page.evaluate(VERDICT_CELLS)
    assert found["tables"] >= 1, (name, "no table with a verdict column")
    assert not found["problems"], (name, "verdicts cut off or behind a horizontal scroll", found["problems"][:5])
    page.close()

"""The course site: built with ``mkdocs build --strict`` and checked in headless Chromium.

The site is built once per test session into a temporary directory (the build executes every
solution notebook, so a lab that fails to run fails here). Then a local HTTP server serves it on
127.0.0.1 and Chromium loads every page, failing on console errors, requests to other hosts,
broken images, blank widget areas, pages wider than the screen (at 1280 and 390 px), code blocks
and text diagrams that are cut off instead of scrolling, figures shown wider than they are drawn
or without alt text, exercise answers not collapsed, and broken internal links.

Chromium is Debian's ``chromium`` (``/usr/bin/chromium``; .ci/run installs it), driven by
playwright-python with ``executable_path``: playwright's own browser download is never used.
If Chromium is missing the browser tests **fail** with a message; they are never skipped.

Screenshots of the home page, a chapter, a lab and the reference at laptop and phone widths are
written to ``$ESMLAB_SITE_SCREENSHOTS`` (default: a ``screenshots`` folder in the test's
temporary directory) so that a person can look at them.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
CHROMIUM_FLAGS = [
    # --headless and --user-data-dir are passed by playwright (headless=True, user_data_dir).
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LAPTOP = {"width": 1280, "height": 850}
PHONE = {"width": 390, "height": 844}
SCREENSHOT_PAGES = {
    "home": "",
    "chapter": "chapters/02-batching/",
    "lab": "labs/00-first-mapping/",
    "reference": "reference/parameters/",
}
WIDGET_TEXT = re.compile(r"^\s*(VBox|HBox|Box|Output|IntSlider|FloatSlider|Dropdown|Tab|"
                         r"Accordion|Button|interactive)\(", re.MULTILINE)


# --- the build ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONUNBUFFERED="1")
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-f",
         str(ROOT / "mkdocs.yml"), "-d", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    seconds = time.perf_counter() - started
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed ({seconds:.0f} s):\n{log[-6000:]}"
    print(f"site built in {seconds:.1f} s")
    return out


def pages(site: Path) -> list[str]:
    """Site-relative URL of every HTML page (directory URLs end with '/')."""
    urls = []
    for path in sorted(site.rglob("*.html")):
        rel = path.relative_to(site).as_posix()
        if rel == "404.html":
            continue
        urls.append(rel.removesuffix("index.html"))
    return urls


def html(site: Path, url: str) -> str:
    path = site / url
    if url.endswith("/") or url == "":
        path = path / "index.html"
    return path.read_text(encoding="utf-8")


def text_of(page_html: str) -> str:
    return re.sub(r"<[^>]+>", " ", page_html)


def test_every_page_is_built(site):
    urls = pages(site)
    expected = {"", "setup/", "chapters/", "errata/", "glossary/", "simulator/", "instructor/",
                "api/", "reference/", "reference/parameters/", "reference/events/",
                "reference/destinations/", "reference/errors/", "reference/iam/",
                "reference/metrics/"}
    labs = sorted(p.stem for p in (ROOT / "solutions").glob("[0-9][0-9]-*.ipynb"))
    assert labs, "no solution notebooks"
    for lab in labs:
        expected |= {f"labs/{lab}/", f"chapters/{lab}/"}
    missing = expected - set(urls)
    assert not missing, f"pages missing from the site: {sorted(missing)}"
    assert (site / "assets/js/plotly.min.js").stat().st_size > 1_000_000
    assert (site / "assets/img/pipeline.svg").exists()


def test_labs_are_rendered_executed_without_widget_text_or_tags(site):
    for nb in sorted((ROOT / "solutions").glob("[0-9][0-9]-*.ipynb")):
        page = html(site, f"labs/{nb.stem}/")
        assert "jp-OutputArea-output" in page, f"{nb.name}: no outputs on the page"
        visible = text_of(page)
        assert not WIDGET_TEXT.search(visible), f"{nb.name}: a widget shows as text"
        assert "application/vnd.jupyter.widget-state+json" not in page
        assert 'class="celltoolbar"' not in page, f"{nb.name}: cell tags are shown"
        assert "Traceback (most recent call last)" not in visible, f"{nb.name}: an error output"
        source = json.loads(nb.read_text())
        widget_cells = [c for c in source["cells"] if c["cell_type"] == "code"
                        and re.search(r"\bexplore\(|ipywidgets|interact\(", "".join(c["source"]))
                        and "import" not in "".join(c["source"]).split("\n")[0]]
        if widget_cells:
            assert "esm-widget-note" in page, f"{nb.name}: widget cells without the note"


def test_no_resource_from_another_host(site):
    external = re.compile(r'<(script|img|iframe|source)\b[^>]*\bsrc="((?:https?:)?//[^"]+)"'
                          r'|<link\b[^>]*rel="stylesheet"[^>]*href="((?:https?:)?//[^"]+)"', re.IGNORECASE)
    for url in pages(site):
        found = external.findall(html(site, url))
        assert not found, f"{url or 'home'} loads from another host: {found}"
    assert "fonts.googleapis" not in html(site, "")


def test_reference_is_generated_from_esmlab(site):
    sys.path.insert(0, str(ROOT))
    from esmlab import limits, metrics, permissions

    errors = text_of(html(site, "reference/errors/"))
    for ident, message in limits.MESSAGES.items():
        head = message.split("{")[0][:60]
        assert head.replace("'", "&#x27;") in errors or head in errors.replace("&#x27;", "'") \
            .replace("&quot;", '"'), f"{ident} missing from the errors page"
    iam = html(site, "reference/iam/")
    for kind in permissions.SOURCE_ACTIONS:
        for action in permissions.required_actions(kind):
            assert action in iam, action
    for kind in permissions.DESTINATION_ACTIONS:
        for action in permissions.destination_actions(kind):
            assert action in iam, action
    page = html(site, "reference/metrics/")
    for name in metrics.COUNTS:
        assert f"<code>{name}</code>" in page, name
    params = html(site, "reference/parameters/")
    for param, (low, high) in limits.RANGES.items():
        assert param in params and f"{high:,}" in params, param


def test_errata_page_lists_every_erratum_with_a_source(site):
    page = html(site, "errata/")
    for n in range(1, 41):
        row = re.search(rf"<tr>\s*<td>E{n}</td>(.*?)</tr>", page, re.DOTALL)
        assert row, f"E{n} is missing from the errata page"
        assert "https://docs.aws.amazon.com/" in row.group(1), f"E{n} has no AWS source"
        assert re.search(r"<td>(Wrong|Misleading)</td>", row.group(1)), f"E{n} has no verdict"


def test_site_claims_link_their_sources(site):
    """Every chapter page cites AWS documentation (no claim without a source)."""
    for chapter in (ROOT / "docs" / "chapters").glob("[0-9][0-9]-*.md"):
        text = chapter.read_text()
        assert text.count("https://docs.aws.amazon.com/") >= 5, chapter.name


def _solution_cells(nb: Path) -> list[str]:
    source = json.loads(nb.read_text())
    return [c["id"] for c in source["cells"]
            if c.get("metadata", {}).get("nbgrader", {}).get("solution")]


def test_lab_pages_collapse_answers_box_objectives_and_offer_the_notebook(site):
    for nb in sorted((ROOT / "solutions").glob("[0-9][0-9]-*.ipynb")):
        page = html(site, f"labs/{nb.stem}/")
        answers = _solution_cells(nb)
        assert answers, f"{nb.name}: no exercise answers (nbgrader solution cells)"
        for cell_id in answers:
            assert re.search(r'<details class="esm-answer"><summary>Show the answer</summary>'
                             rf'<div[^>]*id="cell-id={re.escape(cell_id)}"', page), \
                f"{nb.name}: the answer {cell_id} is not collapsed behind 'Show the answer'"
        assert "<details open" not in page
        assert re.search(r'class="admonition abstract"><p class="admonition-title">By the end of '
                         r'this lab', page), f"{nb.name}: objectives are not an admonition"
        assert re.search(r'class="admonition success"><p class="admonition-title">Key points',
                         page), f"{nb.name}: key points are not an admonition"
        download = re.search(r'class="md-button esm-download" download="([^"]+)" href="([^"]+)"',
                             page)
        assert download, f"{nb.name}: no download button"
        served = site / "labs" / nb.stem / download.group(2)
        assert served.resolve().read_bytes() == (ROOT / "labs" / nb.name).read_bytes(), \
            f"{nb.name}: the download is not the learner's copy from labs/"
        for alt in re.findall(r'<div class="jp-RenderedImage[^"]*">\s*<img alt="([^"]*)"', page):
            assert len(alt) > 20 and "No description" not in alt, f"{nb.name}: alt {alt!r}"
        assert "No description has been provided" not in page, f"{nb.name}: a figure has no alt"
        if "esm-widget-note" in page:
            assert re.search(r'esm-widget-note.*?<a href="\.\./\.\./setup/">Setup</a>', page,
                             re.DOTALL), f"{nb.name}: the widget note does not link Setup"
        assert 'class="anchor-link"' not in page


def test_no_fact_base_references_and_no_bare_urls_in_the_docs():
    """The docs cite AWS pages as links; the course's private fact base is never mentioned."""
    sources = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT)
        assert "fact base" not in text.lower() and "§" not in text, f"{name} cites the fact base"
        prose = re.sub(r"```.*?```|`[^`\n]*`", "", text, flags=re.DOTALL)
        bare = re.findall(r"(?<![(<\"'])\bhttps?://\S+", prose)
        assert not bare, f"{name}: plain-text URLs, not links: {bare[:3]}"


def test_glossary_anchors_tooltips_and_search(site):
    glossary = html(site, "glossary/")
    terms = re.findall(r"<dt([^>]*)>", glossary)
    assert len(terms) > 15 and all('id="' in t for t in terms), "a glossary term has no anchor"
    chapter = html(site, "chapters/01-polling/")
    assert re.search(r'<abbr title="[^"]{20,}">long polling</abbr>', chapter), \
        "glossary terms are not tooltips in the chapters"
    index = json.loads((site / "search" / "search_index.json").read_text())
    docs = index["docs"]
    assert not [d["title"] for d in docs if d["title"].rstrip().endswith("¶")]
    boost = {d["location"].split("#")[0]: d.get("boost") for d in docs}
    assert boost.get("glossary/") and boost.get("reference/parameters/")
    assert all(not boost.get(loc) for loc in boost if loc.startswith("labs/"))
    lab = html(site, "labs/00-first-mapping/")
    assert re.search(r'<div[^>]*class="jp-Cell jp-CodeCell[^"]*"[^>]*data-search-exclude', lab) \
        or re.search(r'<div[^>]*data-search-exclude[^>]*class="jp-Cell jp-CodeCell', lab)
    home = html(site, "")
    assert 'data-md-color-media="(prefers-color-scheme: dark)"' in home, "no dark palette"
    assert 'data-md-color-media="(prefers-color-scheme)"' in home, "no system palette"


def test_instructor_guide_lists_render_as_lists(site):
    page = html(site, "instructor/")
    assert re.search(r"<li>\s*(?:<p>)?Read each lab's solution notebook", page), \
        "a numbered item of the instructor guide merged into the paragraph above it"
    merged = re.findall(r"<p>(?:(?!</p>).)*?</code>\.\s+\d\. [A-Z]", page, re.DOTALL)
    assert not merged, f"list items merged into paragraphs: {merged[:1]}"


def test_api_page_shows_public_names_without_sphinx_roles(site):
    page = html(site, "api/")
    text = text_of(page)
    assert not re.search(r":(?:func|class|data|mod|meth|attr|exc):", text), "raw Sphinx roles"
    for public in ("esmlab.lab.Lab.run", "esmlab.lab.Lab.function", "esmlab.trace.Trace.frame"):
        assert f'id="{public}"' in page, public
    for internal in ("esmlab.lab.Lab.internal_client", "esmlab.lab.Lab.settle",
                     "esmlab.trace.Trace.add"):
        assert f'id="{internal}"' not in page, f"{internal} is internal but on the API page"


def test_a_notebook_that_fails_to_execute_fails_the_build(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    import nbformat
    import site_hooks
    from mkdocs.exceptions import PluginError

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("1 + 1"),
                nbformat.v4.new_code_cell("raise RuntimeError('this lab is broken')")]
    source = tmp_path / "99-broken.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(PluginError, match="this lab is broken"):
        site_hooks.execute_notebook(source, tmp_path / "out.ipynb")


def test_widget_outputs_and_tags_are_cleaned():
    sys.path.insert(0, str(ROOT / "scripts"))
    import nbformat
    import site_hooks

    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    widget = nbformat.v4.new_code_cell("explore(...)", metadata={"tags": ["widget"]})
    widget.outputs = [nbformat.v4.new_output("display_data", data={
        "text/plain": "VBox(children=(IntSlider(value=10),))",
        "application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2}})]
    hidden = nbformat.v4.new_code_cell("secret = 1", metadata={"tags": ["remove-cell"]})
    quiet = nbformat.v4.new_code_cell("print(1)", metadata={"tags": ["remove-output"]})
    quiet.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    empty = nbformat.v4.new_code_cell("print()")
    empty.outputs = [nbformat.v4.new_output("stream", text="\n"),
                     nbformat.v4.new_output("execute_result", data={"text/plain": "''"}),
                     nbformat.v4.new_output("execute_result", data={"text/plain": " "})]
    cleaned = site_hooks.clean_notebook(nbformat.from_dict(
        {**nb, "cells": [widget, hidden, quiet, empty]}))
    assert "widgets" not in cleaned.metadata
    assert [c.source for c in cleaned.cells] == ["explore(...)", "print(1)", "print()"]
    (note,) = cleaned.cells[0].outputs
    assert "esm-widget-note" in note["data"]["text/html"] and "text/plain" not in note["data"]
    assert cleaned.cells[1].outputs == []
    assert [o.get("data") for o in cleaned.cells[2].outputs] == [{"text/plain": "''"}]
    assert all("tags" not in c.metadata for c in cleaned.cells)


# --- the browser ----------------------------------------------------------------------------


def chromium_path() -> str:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is not installed, so the site cannot be checked in a browser. "
                "Install Debian's chromium (apt-get install -y chromium); .ci/run does this "
                "on a fresh machine.", pytrace=False)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def server(site):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -r requirements-dev.txt",
                    pytrace=False)
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=CHROMIUM_FLAGS,
            viewport=LAPTOP)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    where = os.environ.get("ESMLAB_SITE_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


PAGE_CHECK = """() => {
  const problems = [];
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) problems.push('broken image: ' + img.src);
  }
  for (const out of document.querySelectorAll('.jp-OutputArea-output')) {
    const hasMedia = out.querySelector('img, svg, canvas, table, iframe, .esm-widget-note');
    // innerText is what is rendered: inside a collapsed answer, read the text itself
    const text = out.closest('details:not([open])') ? out.textContent : out.innerText;
    if (!hasMedia && text.trim() === '') problems.push('blank output area');
  }
  const widgets = '.jupyter-widgets, .widget-area, .jp-LinkedOutputView';
  for (const w of document.querySelectorAll(widgets)) problems.push('an unrendered widget area');
  for (const fig of document.querySelectorAll('.esm-plotly')) {
    if (!fig.querySelector('.main-svg')) problems.push('a plotly figure did not render');
    if (!fig.querySelector('.slider-container')) problems.push('a plotly figure has no slider');
  }
  // Text diagrams and code: wider than their box only where the box scrolls sideways.
  const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  for (const pre of document.querySelectorAll('.md-content pre')) {
    const inner = pre.querySelector(':scope > code') || pre;
    const wide = Math.max(pre.scrollWidth - pre.clientWidth, inner.scrollWidth - inner.clientWidth);
    const box = [inner, pre, pre.parentElement].find(e => e && scrolls(e) && e.scrollWidth > e.clientWidth + 1);
    if (wide > 1 && !box) problems.push('a clipped diagram or code block: ' + inner.textContent.slice(0, 40));
    if (inner.getBoundingClientRect().right > window.innerWidth + 1 && !scrolls(inner) && !scrolls(pre))
      problems.push('a code block runs off the screen: ' + inner.textContent.slice(0, 40));
  }
  // Raster figures are drawn at least as wide as they are shown.
  for (const img of document.querySelectorAll('.md-content img')) {
    if (img.src.endsWith('.svg') || !img.complete || !img.checkVisibility()) continue;
    if (img.naturalWidth + 1 < img.getBoundingClientRect().width)
      problems.push(`a figure shown at ${Math.round(img.getBoundingClientRect().width)} px is ` +
                    `drawn ${img.naturalWidth} px wide`);
    if (!img.alt) problems.push('a figure without alt text');
  }
  // Exercise answers start collapsed.
  for (const answer of document.querySelectorAll('details.esm-answer')) {
    if (answer.open) problems.push('an answer is open');
    const cell = answer.querySelector('.jp-Cell');
    if (cell && cell.checkVisibility()) problems.push('an answer is visible');
  }
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  const overflow = document.documentElement.scrollWidth - window.innerWidth;
  return {problems, links, ids, overflow};
}"""


def visit(context, url, viewport=LAPTOP):
    """Load a page; return (check result, console errors, requests to other hosts)."""
    page = context.new_page()
    page.set_viewport_size(viewport)
    errors, foreign = [], []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("request", lambda req: (not req.url.startswith(("http://127.0.0.1:", "data:",
                                                             "blob:", "about:")))
            and foreign.append(req.url))
    response = page.goto(url, wait_until="load")
    status = response.status if response is not None else None
    assert status == 200, f"{url}: HTTP {status}"
    if page.locator(".esm-plotly").count():
        # plotly draws once its script has run; give it a moment on a busy machine
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        with contextlib.suppress(PlaywrightTimeout):  # PAGE_CHECK reports a figure not drawn
            page.wait_for_selector(".esm-plotly .main-svg", timeout=15_000)
    page.wait_for_timeout(150)
    result = page.evaluate(PAGE_CHECK)
    return page, result, errors, foreign


def test_every_page_in_chromium(site, server, browser):
    started = time.perf_counter()
    failures, links, ids = [], {}, {}
    for rel in pages(site):
        url = server + rel
        page, result, errors, foreign = visit(browser, url)
        page.close()
        name = rel or "home"
        failures += [f"{name}: console error: {e}" for e in errors]
        failures += [f"{name}: request to another host: {u}" for u in foreign]
        failures += [f"{name}: {p}" for p in result["problems"]]
        if result["overflow"] > 1:
            failures.append(f"{name} is {result['overflow']} px wider than a laptop screen")
        links[url] = result["links"]
        ids[url.split("#")[0]] = set(result["ids"])
    # Internal links: the target exists, and so does its anchor.
    for source, targets in links.items():
        for target in targets:
            if not target.startswith(server):
                continue
            base, _, fragment = target.partition("#")
            if base not in ids:
                status = _status(base)
                if status != 200:
                    failures.append(f"{source}: broken link {target} (HTTP {status})")
                    continue
                if not fragment:
                    continue
                ids[base] = set(re.findall(r'\bid="([^"]+)"', _get(base)))
            if fragment and urllib.parse.unquote(fragment) not in ids[base]:
                failures.append(f"{source}: link to a missing anchor {target}")
    print(f"{len(links)} pages checked in Chromium in {time.perf_counter() - started:.1f} s")
    assert not failures, "\n".join(sorted(set(failures)))


def _status(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8", "replace")


def test_every_page_on_a_phone(site, server, browser):
    """At 390 px: no page wider than the screen, no clipped diagram, answers still collapsed."""
    failures = []
    for rel in pages(site):
        page, result, _errors, _ = visit(browser, server + rel, PHONE)
        page.close()
        name = rel or "home"
        failures += [f"{name}: {p}" for p in result["problems"] if not p.startswith("broken")]
        if result["overflow"] > 1:
            failures.append(f"{name} is {result['overflow']} px wider than a phone screen")
    assert not failures, "\n".join(sorted(set(failures)))


def test_answers_open_on_click(site, server, browser):
    page = browser.new_page()
    page.set_viewport_size(LAPTOP)
    page.goto(server + "labs/02-batching/", wait_until="load")
    answer = page.locator("details.esm-answer").first
    assert not answer.locator(".jp-Cell").is_visible()
    answer.locator("summary").click()
    assert answer.locator(".jp-Cell").is_visible()
    page.close()


@pytest.mark.parametrize("width", ["laptop", "phone"])
def test_screenshots_and_no_horizontal_overflow(site, server, browser, screenshot_dir, width):
    viewport = LAPTOP if width == "laptop" else PHONE
    failures = []
    for name, rel in SCREENSHOT_PAGES.items():
        page, result, _errors, _ = visit(browser, server + rel, viewport)
        page.screenshot(path=str(screenshot_dir / f"{name}-{width}.png"), full_page=False)
        if name in ("chapter", "lab"):
            page.screenshot(path=str(screenshot_dir / f"{name}-{width}-full.png"), full_page=True)
        if result["overflow"] > 1:
            failures.append(f"{name} is {result['overflow']} px wider than a {width} screen")
        page.close()
    print(f"screenshots in {screenshot_dir}")
    assert not failures, "\n".join(failures)

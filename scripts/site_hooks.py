"""MkDocs hooks of the course site (registered in mkdocs.yml under ``hooks:``).

At every build:

1. **Labs.** Every ``solutions/NN-*.ipynb`` is executed with nbclient (in parallel, in this
   interpreter's kernel). A cell that raises stops the build: a lab that does not run is never
   published. The executed copy is cleaned for the page and served as ``labs/NN-*.ipynb``, which
   mkdocs-jupyter renders (it does not execute again):

   * a widget output (an ``ipywidgets`` view, which would show as a blank area or as
     ``VBox(...)`` text without a kernel) is replaced by a short note: the labs draw the default
     case with the same scenario function in the cell above the widget, so the page still shows it;
   * cells tagged ``remove-cell`` / ``remove-input`` / ``remove-output`` (or with ``_``) lose
     that part; all tags are then dropped, so none is shown on the page;
   * the widget state in the notebook metadata is dropped (mkdocs-jupyter would otherwise load
     the widget manager from a CDN).

2. **Reference.** ``scripts/site_reference.py`` writes ``reference/*.md`` from esmlab's data
   modules and a tiny simulated run.

3. **Batching figure.** The batching chapter's ``<!-- plotly: batching -->`` placeholder becomes
   a plotly figure (frames behind a slider, no autoplay), and plotly.min.js from the installed
   plotly package is copied into the site: nothing is loaded from a CDN.

4. **Offline.** Every built page is checked: a script, stylesheet, image or iframe loaded from
   another host fails the build. Known notebook leftovers (an empty MathJax ``<script src="">``,
   the mermaid import nbconvert adds) are removed first.

5. **Lab pages** (``lab_page``): exercise answers collapsed behind "Show the answer", objectives
   and key points as admonitions, a button that downloads the learner's notebook from ``labs/``
   (served under ``notebooks/``), alt text on figures, Material's heading anchors, code cells
   left out of search.

6. **Glossary and search.** The glossary's terms become abbreviations appended to every page
   (tooltips where a term is used; not on the reference pages, which quote AWS verbatim); the
   glossary and the reference are boosted in search; Sphinx roles on the API page are shown as
   code.

7. **Missing pages.** A page in the nav that is written by someone else and does not exist yet
   (``instructor.md``) or a lab whose solution notebook does not exist yet gets a short
   placeholder page, so that the nav and ``--strict`` builds stay valid.
"""

from __future__ import annotations

import concurrent.futures
import copy
import logging
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _importable():
    """Make esmlab and the sibling scripts importable (plugins may reset sys.path)."""
    for path in (ROOT / "scripts", ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


_importable()

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.esmlab")

SOLUTIONS = ROOT / "solutions"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
SETUP_LINK = "esmlab-setup-page"  # replaced by the Setup page's URL, relative to the lab page
WIDGET_NOTE = (
    '<div class="esm-widget-note"><strong>Interactive in JupyterLab.</strong> Run the lab '
    f'(see <a href="{SETUP_LINK}">Setup</a>) to get controls here that re-run the simulation as '
    "you move them. On this page, the figure drawn above by the same scenario function shows the "
    "default case.</div>"
)
ANSWER_SUMMARY = "Show the answer"
NOTEBOOKS = "notebooks"  # the learner's copies (labs/NN-*.ipynb) are served under this folder
# Figures drawn by these functions get the first paragraph of the function's docstring as alt text.
FIGURE_FUNCTIONS = ("esmlab.course.plots", "esmlab.course.scenarios.polling",
                    "esmlab.course.scenarios.batching")
REMOVE_CELL = {"remove-cell", "remove_cell"}
REMOVE_INPUT = {"remove-input", "remove_input"}
REMOVE_OUTPUT = {"remove-output", "remove_output"}
PLOTLY_PLACEHOLDER = "<!-- plotly: batching -->"
PLOTLY_JS = "assets/js/plotly.min.js"
CELL_TIMEOUT = int(os.environ.get("ESMLAB_SITE_CELL_TIMEOUT", "300"))
# ESMLAB_SITE_EXECUTE=0 (for a quick `mkdocs serve` while writing prose): the labs are shown
# without running them, so without outputs. Tests and CI always execute.
EXECUTE = os.environ.get("ESMLAB_SITE_EXECUTE", "1") != "0"

# The esmlab API page: these modules in this order, then every scenarios/ and checks/ module
# that exists (other modules are internal: see docs/simulator.md).
API_MODULES = [
    ("The lab", ["esmlab.lab", "esmlab.trace"]),
    ("Pictures and widgets", ["esmlab.course.plots", "esmlab.course.widgets"]),
    ("Scenarios behind the labs", ["esmlab.course.scenarios.*"]),
    ("Checks", ["esmlab.course.checks", "esmlab.course.checks.*"]),
    ("Data and rules", ["esmlab.limits", "esmlab.metrics", "esmlab.permissions",
                        "esmlab.filtering", "esmlab.streams.destinations", "esmlab.batch_response"]),
]

# What the API page shows of a module, where not everything without an underscore is for the
# reader: Lab's other methods are the interface the pollers call, Trace.add is how they record.
API_MEMBERS = {
    "esmlab.lab": {"Lab": ["now", "client", "function", "run", "conservation",
                           "stream_conservation", "close", "trace", "clock", "random"]},
    "esmlab.trace": {"Trace": ["events", "invocations", "of", "count", "empty_receives", "frame",
                               "invocations_frame", "fingerprint"],
                     "Event": None, "Invocation": None, "peak_concurrency": None},
}
# Sphinx roles (:func:`x`) in docstrings, which mkdocstrings would show as written.
_SPHINX_ROLE = re.compile(r":(?:py:)?(?:func|class|data|mod|meth|attr|exc|obj|const):(?=<code>)")

# Pages of the nav written by other people: a placeholder is served while they do not exist.
PLACEHOLDERS = {
    "instructor.md": (
        "# Instructor guide\n\n"
        "!!! note \"Being written\"\n"
        "    The instructor guide (workshop timings, one-command grading to a CSV, nbgrader) "
        "is being written. Meanwhile: `solutions/` holds every lab with its answers, "
        "`labs/` is generated from it by `scripts/make_labs.py`, and `make test` checks that "
        "solutions score full marks and untouched labs fail their checks.\n"
    ),
}

# Glossary terms that are not shown as tooltips: everyday words that would mark half the prose.
NO_TOOLTIP = {"Batch", "Trace", "Poller", "Shard", "Iterator", "Bisect", "Modelling choice",
              "Simulated time"}

_state: dict = {}


# --- glossary tooltips -----------------------------------------------------------------------


def glossary_abbreviations(text: str) -> str:
    """Markdown abbreviations (``*[term]: definition``) for the terms of docs/glossary.md.

    pymdownx.snippets appends them to every page, so a glossary term used in the prose shows its
    definition's first sentence on hover (Material's tooltips). A term is matched as written in
    the glossary and with a lower-case first letter; an acronym in brackets (DLQ) is matched too.
    """
    lines, out = text.split("\n"), []
    for number, line in enumerate(lines[:-1]):
        definition = lines[number + 1]
        if not line or line[0] in " :#[" or not definition.startswith(":   "):
            continue
        term = re.sub(r"\s*\{[^}]*\}\s*$", "", line)
        name, _, alias = term.partition(" (")
        if name in NO_TOOLTIP:
            continue
        body = [definition[4:]]
        for rest in lines[number + 2:]:
            if not rest.startswith("    "):
                break
            body.append(rest.strip())
        body = re.sub(r"\(\[[^\]]+\]\([^)]+\)(?:,\s*\[[^\]]+\]\([^)]+\))*\)", "",
                      " ".join(body))  # the sources in brackets
        body = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", body).replace("`", "").replace("*", "")
        sentence = re.split(r"(?<=\.)\s(?=[A-Z])", body.strip(), maxsplit=1)[0]
        sentence = sentence.replace('"', "'").replace("]", ")").replace("[", "(")
        names = {name, name[0].lower() + name[1:]}
        if alias.rstrip(")").isupper():
            names.add(alias.rstrip(")"))
        out += [f"*[{n}]: {sentence}" for n in sorted(names)]
    return "\n".join(out) + "\n"


# --- 1. labs ---------------------------------------------------------------------------------


def clean_notebook(nb):
    """The executed notebook as the site shows it (see the module docstring)."""
    import nbformat

    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = set(cell.metadata.get("tags", []))
        if tags & REMOVE_CELL:
            continue
        if cell.cell_type == "code":
            if tags & REMOVE_OUTPUT:
                cell.outputs = []
            outputs, noted = [], False
            for output in cell.get("outputs", []):
                if WIDGET_MIME in output.get("data", {}):
                    if not noted:
                        outputs.append(nbformat.v4.new_output(
                            "display_data", data={"text/html": WIDGET_NOTE}))
                        noted = True
                    continue
                if _blank(output):
                    continue  # an empty line or an empty repr would show as a blank box
                outputs.append(output)
            cell.outputs = outputs
        # Tags are shown on the page by mkdocs-jupyter: drop them, except remove-input, which
        # mkdocs-jupyter's remove_tag_config consumes (the input, and so the tag, is not shown).
        kept = sorted(tags & REMOVE_INPUT)[:1] if cell.cell_type == "code" else []
        if kept:
            cell.metadata["tags"] = ["remove-input"]
        else:
            cell.metadata.pop("tags", None)
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    return nb


def answer_cells(nb) -> set[str]:
    """Ids of the exercise answers: the cells nbgrader marks as solutions (see make_labs.py)."""
    return {cell.get("id") for cell in nb.cells
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution") and cell.get("id")}


def check_cells(nb) -> set[str]:
    """Ids of the graded check cells (their output, run on the answer, gives the answer away)."""
    return {cell.get("id") for cell in nb.cells
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade")
            and not cell.get("metadata", {}).get("nbgrader", {}).get("solution") and cell.get("id")}


def figure_alts(nb) -> dict[str, str]:
    """Alt text for each code cell that draws a figure, by cell id.

    A figure drawn by one of the course's drawing functions is described by the first paragraph of
    that function's docstring (which says what the picture shows); any other figure by the heading
    of the section it is in.
    """
    import importlib
    import inspect

    described = {}
    for module in FIGURE_FUNCTIONS:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        for name, function in inspect.getmembers(mod, inspect.isfunction):
            if name.startswith("draw") or name.endswith("timeline"):
                doc = inspect.getdoc(function) or ""
                text = " ".join(doc.split("\n\n")[0].split())
                if text.startswith("Draw "):  # "Draw one bar per ..." describes the picture
                    text = text[5].upper() + text[6:]
                described.setdefault(name, text)
    alts, heading = {}, ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found = re.findall(r"^#{1,4}\s+(.+)$", cell.source, re.MULTILINE)
            heading = found[-1].replace("`", "").strip() if found else heading
            continue
        if cell.cell_type != "code" or not any(
                "image/png" in o.get("data", {}) for o in cell.get("outputs", [])):
            continue
        called = [n for n in re.findall(r"\b(\w+)\(", cell.source) if described.get(n)]
        text = described[called[0]] if called else f"Figure for the section: {heading}."
        alts[cell.get("id")] = text
    return alts


def _blank(output) -> bool:
    """True for an output that would render as an empty box: whitespace text and nothing else."""
    if output.get("output_type") == "stream":
        return not "".join(output.get("text", "")).strip()
    data = output.get("data")
    if output.get("output_type") in ("display_data", "execute_result") and data is not None:
        return set(data) <= {"text/plain"} and not "".join(data.get("text/plain", "")).strip()
    return False


def execute_notebook(source: Path, target: Path) -> float:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    started = time.perf_counter()
    name = source.relative_to(ROOT) if source.is_relative_to(ROOT) else source
    nb = nbformat.read(source, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            allow_errors=False, record_timing=False,
                            resources={"metadata": {"path": str(source.parent)}})
    try:
        if EXECUTE:
            client.execute()
    except CellExecutionError as error:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # the traceback's terminal colours
        raise PluginError(f"{name} failed to execute; the site is not "
                          f"built with a broken lab.\n{text}") from None
    except Exception as error:  # noqa: BLE001 - a timeout, a dead kernel: fail the build
        raise PluginError(f"{name} failed to execute: "
                          f"{type(error).__name__}: {error}") from None
    cleaned = clean_notebook(nb)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(cleaned, target)
    return time.perf_counter() - started


def execute_labs(out_dir: Path) -> dict[str, Path]:
    notebooks = sorted(SOLUTIONS.glob("[0-9][0-9]-*.ipynb"))
    results: dict[str, Path] = {}
    started = time.perf_counter()
    workers = max(1, min(len(notebooks), int(os.environ.get("ESMLAB_SITE_WORKERS", "3"))))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(execute_notebook, nb, out_dir / "labs" / nb.name): nb
                   for nb in notebooks}
        for future in concurrent.futures.as_completed(futures):
            nb = futures[future]
            seconds = future.result()  # re-raises the PluginError of a failed notebook
            log.info("executed %s in %.1f s", nb.relative_to(ROOT), seconds)
            results[f"labs/{nb.name}"] = out_dir / "labs" / nb.name
    log.info("executed %d lab notebook(s) in %.1f s", len(notebooks),
             time.perf_counter() - started)
    return results


def nav_paths(nav) -> list[str]:
    found = []
    if isinstance(nav, str):
        found.append(nav)
    elif isinstance(nav, list):
        for item in nav:
            found += nav_paths(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            found += nav_paths(value)
    return found


def api_page() -> str:
    """The esmlab API page: mkdocstrings renders each module from its docstrings."""
    lines = [
        "# `esmlab` API",
        "",
        ("Generated from the docstrings of the simulator's public modules (mkdocstrings). Start "
        "with `Lab`; how the pieces fit together is in [How the simulator works](simulator.md)."),
        "",
    ]
    for title, modules in API_MODULES:
        names = []
        for module in modules:
            if module.endswith(".*"):
                package = ROOT / Path(*module[:-2].split("."))
                names += [f"{module[:-2]}.{p.stem}" for p in sorted(package.glob("[a-z]*.py"))]
            elif (ROOT / Path(*module.split("."))).with_suffix(".py").exists() or \
                    (ROOT / Path(*module.split(".")) / "__init__.py").exists():
                names.append(module)
        if names:
            lines += [f"## {title}", ""]
            for name in names:
                if name not in API_MEMBERS:
                    lines += [f"::: {name}", "    options:", "      heading_level: 3", ""]
                    continue
                lines += [f"::: {name}", "    options:", "      heading_level: 3",
                          "      members: false", ""]
                for member, shown in API_MEMBERS[name].items():
                    lines += [f"::: {name}.{member}", "    options:", "      heading_level: 4"]
                    if shown is not None:
                        lines += [f"      members: [{', '.join(shown)}]"]
                    lines += [""]
    return "\n".join(lines)


def _notebook_file(file: File, config):
    """mkdocs-jupyter renders the files its on_files wrapped; hooks run after it, so wrap here."""
    from mkdocs_jupyter.plugin import NotebookFile

    wrapped = NotebookFile(file, **config)
    # File.abs_src_path is a cached_property computed from src_dir, which a generated file has
    # not: give the wrapper the generated file's path.
    wrapped.abs_src_path = file.abs_src_path
    return wrapped


def _placeholder_lab(path: str, out: Path) -> Path:
    """A one-cell notebook saying the lab does not exist yet."""
    import nbformat

    name = Path(path).stem
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(
        f"# Lab {name[:2]}\n\n**Being written.** `solutions/{name}.ipynb` does not exist yet. "
        "When it does, this page shows it, executed at build time, with its outputs.")]
    target = out / "placeholders" / path
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


# --- hooks -----------------------------------------------------------------------------------


def on_config(config):
    # The lab kernels import the esmlab of this checkout (an editable install elsewhere, or a
    # worktree, would otherwise give them another copy).
    paths = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    os.environ["MATPLOTLIBRC"] = str(ROOT / "scripts" / "site_matplotlibrc")  # larger text
    _state["tmp"] = tempfile.TemporaryDirectory(prefix="esmlab-site-")
    terms = Path(_state["tmp"].name) / "glossary-terms.md"
    terms.write_text(glossary_abbreviations(
        (Path(config["docs_dir"]) / "glossary.md").read_text(encoding="utf-8")), encoding="utf-8")
    snippets = config["mdx_configs"].setdefault("pymdownx.snippets", {})
    base = snippets.get("base_path", ["."])
    snippets["base_path"] = [*([base] if isinstance(base, str) else base), str(terms.parent)]
    snippets["auto_append"] = [*snippets.get("auto_append", []), terms.name]
    _state["started"] = time.perf_counter()
    return config


def on_files(files, config):
    out = Path(_state["tmp"].name)
    # 1. labs
    executed = execute_labs(out)
    import nbformat

    _state["labs"] = {}
    for src_uri, abs_path in sorted(executed.items()):
        file = File.generated(config, src_uri, abs_src_path=str(abs_path))
        files.append(_notebook_file(file, config))
        nb = nbformat.read(abs_path, as_version=4)
        learner = ROOT / "labs" / Path(src_uri).name
        download = f"{NOTEBOOKS}/{learner.name}" if learner.exists() else None
        if download:  # the learner's copy (answers removed), for the page's download button
            files.append(File.generated(config, download, abs_src_path=str(learner)))
        _state["labs"][src_uri] = {"answers": answer_cells(nb), "checks": check_cells(nb),
                                   "alts": figure_alts(nb),
                                   "download": download}
    # 2. reference
    _importable()
    import site_reference

    started = time.perf_counter()
    for src_uri, text in site_reference.pages().items():
        files.append(File.generated(config, src_uri, content=text))
    log.info("generated the reference pages in %.1f s", time.perf_counter() - started)
    files.append(File.generated(config, "api.md", content=api_page()))
    # 3. plotly.js, served locally
    import plotly

    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    files.append(File.generated(config, PLOTLY_JS, abs_src_path=str(plotly_js)))
    # 5. placeholders for pages that do not exist yet
    present = {f.src_uri for f in files}
    for path in nav_paths(config["nav"]):
        if path in present or "://" in path:
            continue
        if path in PLACEHOLDERS:
            files.append(File.generated(config, path, content=PLACEHOLDERS[path]))
        elif path.startswith("labs/") and path.endswith(".ipynb"):
            target = _placeholder_lab(path, out)
            files.append(_notebook_file(
                File.generated(config, path, abs_src_path=str(target)), config))
        else:
            continue
        log.info("%s does not exist yet: serving a placeholder page", path)
    return files


def on_page_markdown(markdown, page, config, files):
    # Search finds the glossary and the reference before a lab's code (Material's search boost).
    uri = page.file.src_uri
    if uri == "glossary.md" or uri.startswith("reference/"):
        page.meta.setdefault("search", {"boost": 4})
    elif uri in ("simulator.md", "errata.md") or uri.startswith("chapters/"):
        page.meta.setdefault("search", {"boost": 2})
    return markdown


def on_page_content(html_text, page, config, files):
    if PLOTLY_PLACEHOLDER in html_text:
        html_text = html_text.replace(PLOTLY_PLACEHOLDER, plotly_block(page, files))
    if page.file.src_uri.endswith(".ipynb"):
        html_text = lab_page(html_text, page, files)
    if page.file.src_uri.startswith("reference/"):
        # The reference quotes AWS's messages and parameter names verbatim: no tooltips in them.
        html_text = re.sub(r"<abbr[^>]*>(.*?)</abbr>", r"\1", html_text, flags=re.DOTALL)
    if page.file.src_uri == "api.md":
        html_text = _SPHINX_ROLE.sub("", html_text).replace("<code>~", "<code>")
    return html_text


def _url(files, path: str, page) -> str | None:
    target = files.get_file_from_path(path)
    return target.url_relative_to(page.file) if target is not None else None


def lab_page(html_text: str, page, files) -> str:
    """A lab page as the site shows it.

    * every exercise answer (an nbgrader solution cell, input and output, with the check cell
      right after it, whose message shows the answer) is collapsed in a ``<details>`` block
      behind "Show the answer";
    * "By the end of this lab you can" and "Key points" become Material admonitions;
    * a button under the title downloads the learner's notebook (from ``labs/``);
    * figures get alt text (``figure_alts``), the widget note links to Setup;
    * nbconvert's heading anchors become Material's (``headerlink``), so search result titles do
      not end in "¶"; code cells are left out of the search index.
    """
    from bs4 import BeautifulSoup

    info = _state.get("labs", {}).get(page.file.src_uri, {})
    soup = BeautifulSoup(html_text, "html.parser")
    for anchor in soup.select("a.anchor-link"):
        anchor["class"] = ["headerlink"]
        anchor["title"] = "Permanent link"
    for cell in soup.select("div.jp-CodeCell"):
        cell["data-search-exclude"] = ""
        alt = info.get("alts", {}).get(cell.get("id", "").removeprefix("cell-id="))
        for img in cell.select(".jp-RenderedImage img"):
            img["alt"] = alt or "Figure drawn by the code above."
    for cell_id in sorted(info.get("answers", ())):
        cell = soup.find(id=f"cell-id={cell_id}")
        if cell is None:
            continue
        details = soup.new_tag("details", attrs={"class": "esm-answer"})
        summary = soup.new_tag("summary")
        summary.string = ANSWER_SUMMARY
        cell.wrap(details)
        details.insert(0, summary)
        # The check that follows the answer ran on it, so its message shows the answer too.
        following = details.find_next_sibling()
        while following is not None and following.get("id", "").removeprefix("cell-id=") in \
                info.get("checks", ()):
            details.append(following.extract())
            following = details.find_next_sibling()
    _admonitions(soup)
    setup = _url(files, "setup.md", page)
    for link in soup.select(f'a[href="{SETUP_LINK}"]'):
        link["href"] = setup or "#"
    download = info.get("download")
    title = soup.find("h1")
    if download and title is not None:
        button = soup.new_tag("a", attrs={
            "class": "md-button esm-download", "download": Path(download).name,
            "href": _url(files, download, page)})
        button.string = f"Download the lab notebook ({Path(download).name})"
        paragraph = soup.new_tag("p")
        paragraph.append(button)
        title.insert_after(paragraph)
    return str(soup)


def _admonitions(soup) -> None:
    """"By the end of this lab you can" + its list, and "Key points" + its list, as admonitions."""
    for strong in soup.find_all("strong"):
        paragraph = strong.parent
        if (strong.get_text(strip=True).startswith("By the end of this lab")
                and paragraph.name == "p" and paragraph.get_text(strip=True) ==
                strong.get_text(strip=True)):
            _boxed(soup, paragraph, strong.get_text(strip=True), "abstract")
    for heading in soup.find_all(["h2", "h3"]):
        if heading.get_text(strip=True).rstrip("¶").strip() == "Key points":
            _boxed(soup, heading, "Key points", "success", keep_heading=True)


def _boxed(soup, start, title: str, kind: str, keep_heading: bool = False) -> None:
    items = start.find_next_sibling()
    if items is None or items.name not in ("ul", "ol"):
        return
    box = soup.new_tag("div", attrs={"class": f"admonition {kind}"})
    head = soup.new_tag("p", attrs={"class": "admonition-title"})
    head.string = title
    box.append(head)
    start.insert_before(box)
    if keep_heading:  # the heading stays (the table of contents links to it), visually hidden
        start["class"] = start.get("class", []) + ["esm-visually-hidden"]
        box.insert_before(start)
    else:
        start.decompose()
    box.append(items.extract())


def plotly_block(page, files) -> str:
    _importable()
    import site_figures

    figure, caption = site_figures.batching_figure()
    js = files.get_file_from_path(PLOTLY_JS)
    js_url = js.url_relative_to(page.file)
    div = figure.to_html(full_html=False, include_plotlyjs=False, auto_play=False,
                         div_id="batching-explorer",
                         config={"displaylogo": False, "responsive": True,
                                 "modeBarButtonsToRemove": ["toImage"]})
    return (f'<figure class="esm-plotly">\n<script src="{js_url}"></script>\n{div}\n'
            f"<figcaption>{caption}</figcaption>\n</figure>")  # the caption is HTML (a link)


# --- 4. offline ------------------------------------------------------------------------------

_EMPTY_SCRIPT = re.compile(r'<script src="">\s*</script>')
# nbconvert's lab template: a module script that imports mermaid from cdnjs when a notebook has
# a mermaid diagram (ours have none).
_MERMAID = re.compile(
    r'<script type="module">(?:(?!</script>).)*?mermaid(?:(?!</script>).)*?</script>', re.DOTALL)
_REMOTE_IMPORT = re.compile(
    r"""(?:import\s*\(\s*|\bimport\s[^;<]*?from\s*|fetch\s*\(\s*)["'](?:https?:)?//""")
_EXTERNAL = re.compile(
    r'<(script|img|iframe|link|source|video|audio)\b[^>]*?\b(?:src|href)="((?:https?:)?//[^"]+)"',
    re.IGNORECASE)


def repair_anchors(output: str) -> str:
    """Point in-page links at the heading they mean.

    mkdocs-jupyter builds a notebook page's table of contents from the markdown with inline code
    removed, but the heading's id keeps it: "Where it starts: `StartingPosition`" is linked as
    ``#where-it-starts`` while its id is ``where-it-starts-startingposition``. A fragment that
    names no id but is the start of exactly one id is rewritten to that id.
    """
    ids = set(re.findall(r'\bid="([^"]+)"', output))

    def fix(match):
        fragment = match.group(1)
        if fragment in ids:
            return match.group(0)
        candidates = [i for i in ids if i.startswith(fragment + "-")]
        return f'href="#{candidates[0]}"' if len(candidates) == 1 else match.group(0)

    return re.sub(r'href="#([^"]+)"', fix, output)


def on_post_page(output, page, config):
    if page.file.src_uri.endswith(".ipynb"):
        output = repair_anchors(output)
    output = _EMPTY_SCRIPT.sub("", output)
    output = _MERMAID.sub("", output)
    remote = _REMOTE_IMPORT.search(output)
    if remote:
        raise PluginError(f"{page.file.src_uri}: a script imports from another host "
                          f"({output[remote.start():remote.start() + 120]!r}); the site must "
                          "work offline")
    for tag, url in _EXTERNAL.findall(output):
        if tag.lower() == "link" and not re.search(
                r'<link\b[^>]*rel="(?:stylesheet|preload|modulepreload|icon)"[^>]*href="'
                + re.escape(url), output):
            continue  # e.g. <link rel="canonical">: not loaded by the browser
        raise PluginError(f"{page.file.src_uri}: <{tag}> loads {url} from another host; the "
                          "site must work offline")
    return output


def on_post_build(config):
    started = _state.get("started", time.perf_counter())
    log.info("site built in %.1f s", time.perf_counter() - started)
    tmp = _state.pop("tmp", None)
    if tmp is not None:
        tmp.cleanup()

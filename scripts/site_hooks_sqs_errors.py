"""MkDocs hook (registered in mkdocs.yml after scripts/site_hooks.py): the SQS errors chapter's
precomputed figure.

The chapter's ``<!-- plotly: sqs-errors -->`` placeholder becomes a plotly figure with a slider
over ReportBatchItemFailures and maxReceiveCount (``esmlab.course.scenarios.sqs_errors.plotly_frames``:
the same scenario function as Lab 04's widget, run at build time), with no autoplay. plotly.min.js
is the copy scripts/site_hooks.py puts into the site: nothing is loaded from another host.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = "<!-- plotly: sqs-errors -->"
PLOTLY_JS = "assets/js/plotly.min.js"  #: where scripts/site_hooks.py serves plotly.js
CAPTION = (
    "Precomputed with the simulator at build time: three orders in one batch, order #1 cannot be "
    "processed, a visibility timeout of 10 s. With ReportBatchItemFailures off the handler raises; "
    "with it on, the handler lists #1 in batchItemFailures. Move the slider to pick "
    "ReportBatchItemFailures / maxReceiveCount. A number is the ApproximateReceiveCount the "
    "function saw. SQS moves a message to the dead-letter queue once its receive count exceeds "
    'maxReceiveCount (<a href="https://docs.aws.amazon.com/AWSSimpleQueueService/latest/'
    'APIReference/API_SetQueueAttributes.html">SetQueueAttributes</a>); that it happens on the '
    "receive after the last allowed one is a MODELLING CHOICE of the simulator."
)


@functools.lru_cache(maxsize=1)
def figure_html() -> str:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from esmlab.course.scenarios.sqs_errors import plotly_frames

    figure = plotly_frames()
    return figure.to_html(full_html=False, include_plotlyjs=False, auto_play=False,
                          div_id="sqs-errors-explorer",
                          config={"displaylogo": False, "responsive": True,
                                  "modeBarButtonsToRemove": ["toImage"]})


def on_page_content(html_text, page, config, files):
    if PLACEHOLDER not in html_text:
        return html_text
    js = files.get_file_from_path(PLOTLY_JS)
    script = f'<script src="{js.url_relative_to(page.file)}"></script>\n' if js else ""
    block = (f'<figure class="esm-plotly">\n{script}{figure_html()}\n'
             f"<figcaption>{CAPTION}</figcaption>\n</figure>")
    return html_text.replace(PLACEHOLDER, block)

"""esmlab.course.widgets leaves matplotlib as found; checks render without an emoji font."""

import ipywidgets
import matplotlib.pyplot as plt
import pytest

from esmlab.course.checks import failed, passed
from esmlab.course.widgets import explore


def scenario(n):
    return n


def draw(n):
    _, ax = plt.subplots()
    ax.plot(range(n))
    return ax


@pytest.fixture(autouse=True)
def headless_figures():
    backend, interactive = plt.get_backend(), plt.isinteractive()
    plt.switch_backend("Agg")
    yield
    plt.close("all")
    plt.interactive(interactive)
    plt.switch_backend(backend)


@pytest.mark.parametrize("interactive", [True, False])
def test_explore_leaves_matplotlibs_interactive_mode_as_it_found_it(interactive):
    plt.interactive(interactive)
    slider = ipywidgets.IntSlider(3, 1, 10)
    panel = explore(scenario, draw, n=slider)
    assert plt.isinteractive() is interactive
    slider.value = 5  # a redraw, as when the learner lets go of the slider
    assert plt.isinteractive() is interactive
    assert len(panel.children[-1].outputs) == 1  # the panel shows one figure
    assert plt.get_fignums() == []  # and no stray figure is left for the next cell


def test_check_results_start_with_words_not_an_emoji():
    assert passed("right")._repr_markdown_() == "**PASS:** right"
    assert failed("not yet")._repr_markdown_() == "**NOT YET:** not yet"
    for text in (passed("a")._repr_markdown_(), failed("b")._repr_markdown_()):
        assert all(ord(ch) < 128 for ch in text)

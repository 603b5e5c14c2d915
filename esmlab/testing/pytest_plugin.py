"""The pytest plugin: the ``esm_lab`` fixture, and the run's report beside a failing test.

Registered through the ``pytest11`` entry point, so installing esmlab is enough. Choose the
seed with ``pytest --esmlab-seed N`` (default 0) or ``@pytest.mark.esmlab(seed=N)``.
"""

from __future__ import annotations

import pytest

from esmlab import Lab

from .report import report

_KEY = pytest.StashKey()


def pytest_addoption(parser):
    parser.addoption("--esmlab-seed", type=int, default=0,
                     help="seed of every esm_lab fixture (same seed, same run)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "esmlab(seed=0, account_concurrency=1000, reorder=0.0, duplicates=0.0): "
        "options of the esm_lab fixture (the arguments of esmlab.Lab)")


@pytest.fixture
def esm_lab(request):
    """An open `esmlab.Lab` (fake credentials, moto, simulated time), closed after the test."""
    marker = request.node.get_closest_marker("esmlab")
    options = dict(marker.kwargs) if marker else {}
    options.setdefault("seed", request.config.getoption("--esmlab-seed"))
    lab = Lab(**options)
    request.node.stash[_KEY] = lab
    yield lab
    lab.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    result = yield
    lab = item.stash.get(_KEY, None)
    if lab is not None and call.when == "call" and result.failed:
        try:
            result.sections.append(("esmlab run", report(lab)))
        except Exception as exc:  # noqa: BLE001 - a report must never hide the test's own failure
            result.sections.append(("esmlab run", f"(no report: {exc!r})"))
    return result

"""The esmlab wheel: it builds, carries the pytest plugin's entry point, and asks only for the
simulator's runtime dependencies (the course's notebook, site and grading packages stay out)."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COURSE_ONLY = ("jupyterlab", "nbgrader", "mkdocs", "nbval", "plotly", "playwright", "ipykernel")


def test_wheel_has_the_plugin_and_only_runtime_dependencies(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q",
                    "-w", str(tmp_path)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("esmlab-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA")).rsplit("/", 1)[0]
        metadata = archive.read(f"{info}/METADATA").decode()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert "esmlab/testing/pytest_plugin.py" in names
    assert not any(n.startswith(("examples/", "tests/", "solutions/")) for n in names)
    assert "[pytest11]" in entry_points and "esmlab.testing.pytest_plugin" in entry_points
    required = [line.split(":", 1)[1].strip() for line in metadata.splitlines()
                if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert required, metadata
    assert not [r for r in required if r.lower().startswith(COURSE_ONLY + ("matplotlib",))]

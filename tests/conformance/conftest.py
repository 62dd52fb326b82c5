"""Conformance tests: fastloss against the real frameworks (Keras 3, scikit-learn, PyTorch).

The frameworks come from the ``conformance`` extra (``pip install "fastloss[test,conformance]"``). A module
whose framework is missing is skipped (``pytest.importorskip``), unless ``FASTLOSS_REQUIRE_CONFORMANCE=1``:
then nothing in this folder may skip (a missing framework stops the run at collection, and any skip here is
turned into a failure), so a green run proves the conformance tests ran. ``.ci/run`` sets it for the tests
against the installed wheel, which installs the extra. It is opt-in, so the README's plain ``pytest tests``
(``test`` extra only) still passes on any CI service.

Keras runs on its numpy backend. That backend still imports scipy and jax (``keras/src/backend/numpy``), which
is why the extra lists them. ``KERAS_HOME`` points at a fresh empty folder so that a user's
``~/.keras/keras.json`` (floatx, epsilon, backend) cannot change the numbers.
"""

import atexit
import importlib
import os
import shutil
import tempfile

import pytest

# Must happen before anything imports keras: the backend is chosen once, at import.
os.environ["KERAS_BACKEND"] = "numpy"
if "KERAS_HOME" not in os.environ:
    _keras_home = tempfile.mkdtemp(prefix="fastloss-keras-home-")
    atexit.register(shutil.rmtree, _keras_home, ignore_errors=True)
    os.environ["KERAS_HOME"] = _keras_home

_REQUIRE = os.environ.get("FASTLOSS_REQUIRE_CONFORMANCE", "")
REQUIRED = _REQUIRE == "1"

# module to import -> what to install
FRAMEWORKS = {
    "keras": "keras (Keras 3) with scipy and jax for its numpy backend",
    "sklearn": "scikit-learn",
    "torch": "torch==2.13.0 (CPU)",
}

_HERE = os.path.dirname(os.path.abspath(__file__))


def _missing_frameworks():
    missing = []
    for module, what in FRAMEWORKS.items():
        try:
            importlib.import_module(module)
        except Exception as exc:  # ImportError, or a framework broken at import (e.g. keras without jax)
            missing.append(f"{module} ({what}): {exc!r}")
    return missing


def pytest_configure(config):
    # Called when this conftest is registered (before its modules are collected). Exiting here, not at import,
    # gives a one-line "Exit: ..." instead of a conftest import traceback.
    if not REQUIRED:
        return
    _missing = _missing_frameworks()
    if _missing:
        pytest.exit(
            "FASTLOSS_REQUIRE_CONFORMANCE=1, so the conformance tests must run, but these "
            "frameworks do not import: "
            + "; ".join(_missing)
            + '. Install the extra: pip install "fastloss[test,conformance]".',
            returncode=3,
        )


def _in_this_folder(path) -> bool:
    return os.path.abspath(str(path)).startswith(_HERE + os.sep)


_REQUIRED_SKIP_MESSAGE = (
    "FASTLOSS_REQUIRE_CONFORMANCE=1: tests in tests/conformance must run, not skip. Skip reason: "
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRED and report.skipped and not hasattr(report, "wasxfail") and _in_this_folder(item.path):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = _REQUIRED_SKIP_MESSAGE + str(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    path = getattr(collector, "path", None)
    if REQUIRED and report.skipped and path is not None and _in_this_folder(path):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = _REQUIRED_SKIP_MESSAGE + str(reason)


def pytest_report_header(config):
    lines = []
    for module in FRAMEWORKS:
        try:
            mod = importlib.import_module(module)
        except Exception as exc:
            lines.append(f"conformance: {module} missing ({type(exc).__name__})")
        else:
            extra = ""
            if module == "keras":
                extra = f" backend={mod.backend.backend()}"
            lines.append(f"conformance: {module} {getattr(mod, '__version__', '?')}{extra}")
    return lines

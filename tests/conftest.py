"""Suite-wide options: ``--fail-on-skip`` turns any skipped test into a failed run.

The README's test command passes it, because there every extra is installed and a skip would hide a
test that never ran. ``nox -s tests-core`` (no extras) does not, and skips the backends it lacks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from dubkit.backends.kokoro import KokoroSynthesizer
    from dubkit.backends.piper import PiperSynthesizer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fail-on-skip", action="store_true", help="fail the run if any test was skipped")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if session.config.getoption("--fail-on-skip") and skipped and exitstatus == 0:
        if reporter is not None:
            reporter.write_line(f"--fail-on-skip: {len(skipped)} test(s) were skipped", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 endpoint (moto's server on loopback) with the bucket ``local_services.BUCKET``."""
    pytest.importorskip("boto3")
    pytest.importorskip("moto.server")
    from local_services import moto_s3

    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def kokoro_voice() -> Iterator[KokoroSynthesizer]:
    """The kokoro synthesizer on the packaged Kokoro-82M weights, loaded once for the session."""
    pytest.importorskip("kokoro_onnx")
    from dubkit.backends.kokoro import KokoroSynthesizer

    with KokoroSynthesizer() as backend:
        yield backend


@pytest.fixture(scope="session")
def piper_voice() -> Iterator[PiperSynthesizer]:
    """The piper synthesizer on the packaged en_US-joe-medium voice, loaded once for the session."""
    pytest.importorskip("piper")
    from dubkit.backends.piper import PiperSynthesizer

    with PiperSynthesizer() as backend:
        yield backend

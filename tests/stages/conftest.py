"""A generated two-voice talk shared by the stage tests."""

from __future__ import annotations

import pytest

from dubkit.testing import SampleVideo, make_sample_video
from dubkit.testing.sample_video import lecture_script


@pytest.fixture(scope="package")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleVideo:
    """Six lines, two espeak-ng voices alternating, about 24 s."""
    return make_sample_video(tmp_path_factory.mktemp("media") / "talk.mp4")


@pytest.fixture(scope="package")
def lecture(tmp_path_factory: pytest.TempPathFactory) -> SampleVideo:
    """A one-minute talk in short lines, two espeak-ng voices alternating."""
    return make_sample_video(tmp_path_factory.mktemp("media") / "lecture.mp4", script=lecture_script(1.0))

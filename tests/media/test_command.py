"""argv building: a file name is always exactly one argument, never an option, never another protocol."""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import ffmpeg as ffmpeg_python
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dubkit.errors import UnsupportedFormatError
from dubkit.media import FFmpeg, ProcessLimits
from dubkit.media.command import ffmpeg_argv, ffprobe_argv, ffprobe_keyframe_argv, file_url, media_input
from dubkit.media.formats import decoder_whitelist, format_whitelist

FAKE = FFmpeg(Path("/usr/bin/ffmpeg"), Path("/usr/bin/ffprobe"), "5.1", ProcessLimits())

# Names an uploader or a script might produce: options, quotes, spaces, newlines, protocols, non-ASCII.
NAME_CHARS = st.sampled_from(list(" -_.'\"\\:;|&$`*?!#%=,()[]{}<>\n\t") + list("aZ09ñé日本ßΩ"))
names = (
    st.text(NAME_CHARS, min_size=1, max_size=40)
    .filter(lambda n: n not in (".", ".."))
    .map(lambda n: n.replace("/", "_"))
)
OPTION = re.compile(r"^-[A-Za-z_][A-Za-z0-9_:]*$")


def _check(argv: list[str], path: Path) -> None:
    url = file_url(path)
    absolute = os.path.abspath(path)
    assert url == "file:" + absolute and absolute.startswith("/")
    holding = [arg for arg in argv if absolute in arg]
    assert holding == [url]  # the path is one argument, the file: URL, and nothing else carries it
    for arg in argv:
        if arg.startswith("-") and arg != "-":
            assert OPTION.match(arg), arg  # only option names start with "-"
    index = argv.index(url)
    assert argv[index - 1] == "-i"  # an input, after all of its options


@settings(max_examples=300, deadline=None)
@given(name=names, relative=st.booleans())
def test_names_never_become_options(name: str, relative: bool) -> None:
    path = Path(name) if relative else Path("/srv/jobs/42") / name
    source = media_input(path, "mov", ffmpeg=FAKE, codecs=["h264", "aac"])
    out = Path("/srv/jobs/42/out") / name
    argv = ffmpeg_argv(FAKE, ffmpeg_python.output(source["1"], file_url(out), f="wav"))
    _check(argv[: argv.index(file_url(out))], path)
    assert argv[-1] == file_url(out)
    _check(ffprobe_argv(FAKE, path, max_pixels=100), path)
    _check(ffprobe_keyframe_argv(FAKE, path, "mov", stream=0, at=1.0), path)


def test_leading_dash_becomes_an_absolute_file_url() -> None:
    assert file_url("-i.mp4") == "file:" + os.path.join(os.getcwd(), "-i.mp4")
    assert file_url("http://example.com/x.mp4").startswith("file:/")


def test_every_input_is_confined() -> None:
    source = media_input(Path("/job/in.mkv"), "matroska", ffmpeg=FAKE, codecs=["vp9", "opus"], ss=1.5)
    argv = ffmpeg_argv(FAKE, ffmpeg_python.output(source, "file:/job/out.wav", f="wav"))
    assert argv[:6] == ["/usr/bin/ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error"]
    opts = dict(itertools.pairwise(argv[: argv.index("-i") + 1]))
    assert opts["-f"] == "matroska"
    assert opts["-format_whitelist"] == "matroska"
    assert opts["-protocol_whitelist"] == "file,pipe"
    assert opts["-codec_whitelist"] == "vp9,libvpx-vp9,opus,libopus"
    assert opts["-max_pixels"] == str(3840 * 2160)
    assert opts["-threads"] == "2"
    assert opts["-ss"] == "1.5"


def test_unknown_demuxers_are_refused() -> None:
    for demuxer in ("hls", "concat", "image2", "lavfi", "tty"):
        with pytest.raises(UnsupportedFormatError):
            media_input(Path("/job/in"), demuxer, ffmpeg=FAKE)


def test_ffprobe_is_confined() -> None:
    argv = ffprobe_argv(FAKE, Path("/job/in.mp4"), max_pixels=640 * 480)
    opts = dict(itertools.pairwise(argv))
    assert opts["-protocol_whitelist"] == "file"
    assert opts["-format_whitelist"] == format_whitelist()
    assert "hls" not in opts["-format_whitelist"] and "concat" not in opts["-format_whitelist"]
    assert opts["-max_pixels"] == str(640 * 480)
    assert "tags" not in opts["-show_entries"].replace("stream_tags=language", "")  # no titles, comments


def test_decoder_whitelist() -> None:
    assert decoder_whitelist(["mp3", "av1"]) == "mp3float,mp3,libdav1d,libaom-av1,av1"
    assert decoder_whitelist(["wmav2"]) == "none"  # unknown codecs never widen the list
    assert "h264" in decoder_whitelist() and "subrip" not in decoder_whitelist()

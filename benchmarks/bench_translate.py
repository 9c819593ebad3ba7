"""Translation quality: sentences against fragments, Whisper against Apertium; subtitle rules; timing.

Material (written for this benchmark): 24 English and 20 Spanish sentences, each said by espeak-ng as one
sentence with one to three pauses inside it (SSML breaks of 350-650 ms, where a speaker stops to think),
two voices taking turns, a second of silence between sentences; and a reference translation of each,
written by hand. Every dub runs the real offline stack (Silero VAD, Resemblyzer, Whisper base, espeak-ng)
into the other language, and each reference sentence is compared with the dub's translation of the lines
spoken inside it (sacrebleu chrF and BLEU, corpus level):

* ``en->es`` with Apertium: fragment units (every transcript line alone, as before sentence units) against
  sentence units;
* ``es->en``: Apertium fragments, Apertium sentences, and whisper-translate (Whisper's translate task on
  the audio of each sentence).

Every cue of every dub's subtitles is checked against the rules (`dubkit.media.subtitle_layout.check_cues`),
and the timing figures of `bench_quality.measure` are taken on the sentence-level dubs and on a lecture
(`bench_quality`'s material, full sentences) dubbed into Spanish with the default stack.

Run: .venv/bin/python benchmarks/bench_translate.py [--lecture-minutes 3]
Writes benchmarks/results/translate.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pysubs2
import sacrebleu

from dubkit import PipelineConfig, build_pipeline
from dubkit.media.subtitle_layout import SubtitleRules, check_cues
from dubkit.models.media import SubtitleCue
from dubkit.pipeline.pipeline import Pipeline
from dubkit.pipeline.result import DubResult
from dubkit.stages.sentences import SentenceOptions
from dubkit.stages.translate import TranslateStage
from dubkit.testing.sample_video import SampleVideo, lecture_script, make_sample_video

sys.path.insert(0, str(Path(__file__).parent))
from bench_quality import measure

RESULTS = Path(__file__).parent / "results" / "translate.json"
BREAKS = (450, 600, 350, 650, 500)

# (sentence with "|" where the speaker pauses, reference translation)
ENGLISH: tuple[tuple[str, str], ...] = (
    ("Ask not | what your country can do for you, | ask what you can do for your country.",
     "No preguntes qué puede hacer tu país por ti, pregunta qué puedes hacer tú por tu país."),
    ("The river that runs | through the old town | floods every spring.",
     "El río que atraviesa el casco antiguo se desborda cada primavera."),
    ("When the train finally arrived, | the passengers were tired and hungry.",
     "Cuando el tren por fin llegó, los pasajeros estaban cansados y hambrientos."),
    ("My grandmother, | who lived by the sea, | taught me how to swim.",
     "Mi abuela, que vivía junto al mar, me enseñó a nadar."),
    ("If you press the green button | the machine will start.",
     "Si pulsas el botón verde, la máquina se pondrá en marcha."),
    ("For billing questions, | press one; | for technical support, | press two.",
     "Para preguntas de facturación, pulse uno; para soporte técnico, pulse dos."),
    ("The doctor said | that I should rest | for a few days.",
     "El médico dijo que debía descansar unos días."),
    ("We have been waiting | for more than an hour.",
     "Llevamos esperando más de una hora."),
    ("Although it was raining, | the children played outside all afternoon.",
     "Aunque llovía, los niños jugaron fuera toda la tarde."),
    ("The book that you gave me | is on the table | in the kitchen.",
     "El libro que me diste está en la mesa de la cocina."),
    ("Please remember | to close the windows | before you leave the house.",
     "Por favor, recuerda cerrar las ventanas antes de salir de casa."),
    ("The museum opens at nine | and closes at six | every day except Monday.",
     "El museo abre a las nueve y cierra a las seis todos los días excepto el lunes."),
    ("She told me | that she would call | as soon as she got home.",
     "Me dijo que llamaría en cuanto llegara a casa."),
    ("In the middle of the night | we heard a strange noise | coming from the garden.",
     "En mitad de la noche oímos un ruido extraño que venía del jardín."),
    ("The new bridge | will connect the two villages | next year.",
     "El nuevo puente conectará los dos pueblos el año que viene."),
    ("Good morning | everyone, | and welcome to the weekly science report.",
     "Buenos días a todos, y bienvenidos al informe científico semanal."),
    ("Today we talk about | the water cycle | on our planet.",
     "Hoy hablamos del ciclo del agua en nuestro planeta."),
    ("The sun warms the ocean, | and the water rises | into the sky.",
     "El sol calienta el océano, y el agua sube al cielo."),
    ("Then the clouds carry the rain | over the mountains.",
     "Luego las nubes llevan la lluvia sobre las montañas."),
    ("Could you tell me | where the nearest station is?",
     "¿Podría decirme dónde está la estación más cercana?"),
    ("I don't know | if we will have enough time | to finish the project.",
     "No sé si tendremos tiempo suficiente para terminar el proyecto."),
    ("The farmers planted corn | in the fields | near the river.",
     "Los agricultores plantaron maíz en los campos cerca del río."),
    ("After dinner | we usually walk | along the beach.",
     "Después de cenar solemos pasear por la playa."),
    ("That is all for today, | see you | next week.",
     "Eso es todo por hoy, nos vemos la semana que viene."),
)  # fmt: skip

SPANISH: tuple[tuple[str, str], ...] = (
    ("El tren que sale | de la estación central | llega a las ocho.",
     "The train that leaves from the central station arrives at eight."),
    ("Cuando terminamos de comer, | fuimos a dar un paseo | por el parque.",
     "When we finished eating, we went for a walk in the park."),
    ("Mi hermano, | que vive en Madrid, | viene a visitarnos mañana.",
     "My brother, who lives in Madrid, is coming to visit us tomorrow."),
    ("Si llueve esta tarde, | nos quedaremos en casa.",
     "If it rains this afternoon, we will stay at home."),
    ("El médico me dijo | que tenía que descansar | unos días.",
     "The doctor told me that I had to rest for a few days."),
    ("Los niños jugaron | en el jardín | toda la mañana.",
     "The children played in the garden all morning."),
    ("Para hablar con un agente, | pulse uno; | para consultar su saldo, | pulse dos.",
     "To speak to an agent, press one; to check your balance, press two."),
    ("La biblioteca abre a las nueve | y cierra a las ocho | de la tarde.",
     "The library opens at nine and closes at eight in the evening."),
    ("No sé | si tendremos tiempo | para terminar el trabajo.",
     "I don't know if we will have time to finish the work."),
    ("El sol calienta el océano | y el agua sube | al cielo.",
     "The sun warms the ocean and the water rises to the sky."),
    ("Luego las nubes llevan la lluvia | sobre las montañas.",
     "Then the clouds carry the rain over the mountains."),
    ("Los ríos devuelven el agua | al mar.",
     "The rivers bring the water back to the sea."),
    ("Mi abuela me enseñó | a cocinar | cuando era pequeño.",
     "My grandmother taught me to cook when I was little."),
    ("¿Puede decirme | dónde está | la farmacia más cercana?",
     "Can you tell me where the nearest pharmacy is?"),
    ("El nuevo puente | unirá los dos pueblos | el año que viene.",
     "The new bridge will connect the two villages next year."),
    ("Buenos días a todos | y bienvenidos | al informe semanal.",
     "Good morning everyone and welcome to the weekly report."),
    ("Aunque hacía frío, | salimos a correr | por la playa.",
     "Although it was cold, we went running on the beach."),
    ("El libro que me prestaste | está encima de la mesa.",
     "The book you lent me is on the table."),
    ("Mañana por la mañana | vamos al mercado | a comprar fruta.",
     "Tomorrow morning we are going to the market to buy fruit."),
    ("Eso es todo por hoy, | nos vemos | la semana que viene.",
     "That is all for today, see you next week."),
)  # fmt: skip


def ssml(sentence: str) -> str:
    """The sentence as SSML, with a pause (350-650 ms) at every ``|``."""
    parts = [p.strip() for p in sentence.split("|")]
    out = parts[0]
    for i, part in enumerate(parts[1:]):
        out += f' <break time="{BREAKS[(len(out) + i) % len(BREAKS)]}ms"/> {part}'
    return f"<speak>{out}</speak>"


def material(path: Path, sentences: Sequence[tuple[str, str]], voices: tuple[str, str]) -> SampleVideo:
    script = [(voices[i % 2], ssml(text)) for i, (text, _) in enumerate(sentences)]
    return make_sample_video(path, script=script, pause=1.0)


def hypotheses(result: DubResult, sample: SampleVideo) -> list[str]:
    """For each spoken sentence, the dub's translation of the lines said inside it, in order."""
    lines = sorted(result.project.segments, key=lambda s: s.start)
    out = []
    for spoken in sample.lines:
        inside = [s for s in lines if spoken.start - 0.3 <= (s.start + s.end) / 2 <= spoken.end + 0.3]
        out.append(" ".join(s.translation.strip() for s in inside if s.translation.strip()))
    return out


def scores(hyps: list[str], refs: list[str]) -> dict[str, float]:
    return {
        "chrF": round(sacrebleu.corpus_chrf(hyps, [refs]).score, 2),
        "BLEU": round(sacrebleu.corpus_bleu(hyps, [refs]).score, 2),
    }


def subtitles(result: DubResult, language: str) -> dict[str, Any]:
    assert result.output is not None
    cues = [
        SubtitleCue(e.start / 1000, e.end / 1000, e.plaintext) for e in pysubs2.load(str(result.output.srt))
    ]
    duration = result.project.source.duration
    check = check_cues(cues, SubtitleRules.for_language(language), duration=duration)
    return {
        "cues": check.cues,
        "long_lines": check.long_lines,
        "too_many_lines": check.too_many_lines,
        "too_short": check.too_short,
        "too_fast": check.too_fast,
        "excused_by_timing": check.excused,
        "violations": check.violations,
    }


def shape(result: DubResult) -> dict[str, int]:
    project = result.project
    return {
        "lines": len(project.segments),
        "sentences": len(project.sentences),
        "sentences_of_several_lines": sum(1 for s in project.sentences if len(s.segments) > 1),
        "played_as_one_clip": sum(1 for s in project.sentences if s.layout == "joined"),
        "translated_by_line_after_a_failure": sum(1 for s in project.sentences if s.fallback == "pieces"),
        "source_text_kept": sum(1 for s in project.sentences if s.fallback == "source"),
    }


def by_fragment(pipeline: Pipeline) -> Pipeline:
    """The same pipeline translating every transcript line alone (as dubkit did before sentence units)."""
    stage = pipeline.stage("translate")
    assert isinstance(stage, TranslateStage)
    return pipeline.replace(
        "translate", TranslateStage(stage.choice, n_best=stage.n_best, sentences=SentenceOptions(max_lines=1))
    )


def run_dub(pipeline: Pipeline, sample: SampleVideo, *, source: str, target: str, run_dir: Path) -> DubResult:
    started = time.perf_counter()
    result = pipeline.run(sample.path, to=target, source_language=source, run_dir=run_dir)
    print(f"  {source}->{target}: {time.perf_counter() - started:.1f}s", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lecture-minutes", type=float, default=3.0)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="dubkit-translate-") as tmp:
        folder = Path(tmp)
        english = material(folder / "english.mp4", ENGLISH, ("en+m3", "en+f4"))
        spanish = material(folder / "spanish.mp4", SPANISH, ("es+m3", "es+f4"))
        en_refs, es_refs = [r for _, r in ENGLISH], [r for _, r in SPANISH]
        runs = folder / "runs"

        print("en->es (apertium)", flush=True)
        with build_pipeline(PipelineConfig(translator="apertium")) as pipeline:
            sentences = run_dub(pipeline, english, source="en", target="es", run_dir=runs / "en")
            fragments = run_dub(by_fragment(pipeline), english, source="en", target="es", run_dir=runs / "en")
        figures["en_es_apertium"] = {
            "fragments": {**scores(hypotheses(fragments, english), en_refs), **shape(fragments)},
            "sentences": {**scores(hypotheses(sentences, english), en_refs), **shape(sentences)},
        }
        figures["en_es_apertium"]["chrF_gain"] = round(
            figures["en_es_apertium"]["sentences"]["chrF"] - figures["en_es_apertium"]["fragments"]["chrF"], 2
        )
        dubs = {"en_es_fragments": (fragments, "es"), "en_es_sentences": (sentences, "es")}

        print("es->en (apertium, whisper-translate)", flush=True)
        with build_pipeline(PipelineConfig(translator="apertium")) as pipeline:
            ap_sentences = run_dub(pipeline, spanish, source="es", target="en", run_dir=runs / "es")
            ap_fragments = run_dub(
                by_fragment(pipeline), spanish, source="es", target="en", run_dir=runs / "es"
            )
        with build_pipeline(PipelineConfig(translator="whisper-translate")) as pipeline:
            whisper = run_dub(pipeline, spanish, source="es", target="en", run_dir=runs / "es")
            whisper_fragments = run_dub(
                by_fragment(pipeline), spanish, source="es", target="en", run_dir=runs / "es"
            )
        transcript = " ".join(s.source_text for s in ap_sentences.project.segments)
        figures["es_en"] = {
            "apertium_fragments": {
                **scores(hypotheses(ap_fragments, spanish), es_refs),
                **shape(ap_fragments),
            },
            "apertium_sentences": {
                **scores(hypotheses(ap_sentences, spanish), es_refs),
                **shape(ap_sentences),
            },
            "whisper_translate_fragments": scores(hypotheses(whisper_fragments, spanish), es_refs),
            "whisper_translate_sentences": {
                **scores(hypotheses(whisper, spanish), es_refs),
                **shape(whisper),
            },
            "transcript_chrF_against_the_spanish_script": round(
                sacrebleu.corpus_chrf([transcript], [[spanish.text]]).score, 2
            ),
        }
        figures["es_en"]["apertium_chrF_gain"] = round(
            figures["es_en"]["apertium_sentences"]["chrF"] - figures["es_en"]["apertium_fragments"]["chrF"], 2
        )
        dubs.update(
            {
                "es_en_apertium_fragments": (ap_fragments, "en"),
                "es_en_apertium_sentences": (ap_sentences, "en"),
                "es_en_whisper_translate": (whisper, "en"),
            }
        )
        examples = {
            "en_es": [
                {"reference": ref, "fragments": frag, "sentences": sent}
                for ref, frag, sent in list(
                    zip(en_refs, hypotheses(fragments, english), hypotheses(sentences, english), strict=True)
                )[:3]
            ],
            "es_en": [
                {"reference": ref, "apertium": ap, "whisper_translate": wh}
                for ref, ap, wh in list(
                    zip(es_refs, hypotheses(ap_sentences, spanish), hypotheses(whisper, spanish), strict=True)
                )[:3]
            ],
        }

        print(f"lecture ({args.lecture_minutes} min, default stack) en->es", flush=True)
        lecture = make_sample_video(folder / "lecture.mp4", script=lecture_script(args.lecture_minutes))
        with build_pipeline(PipelineConfig()) as pipeline:
            lecture_dub = run_dub(pipeline, lecture, source="en", target="es", run_dir=runs / "lecture")
        dubs["lecture_en_es"] = (lecture_dub, "es")

        figures["subtitles"] = {
            name: subtitles(result, language) for name, (result, language) in dubs.items()
        }
        figures["subtitle_violations_total"] = sum(s["violations"] for s in figures["subtitles"].values())
        figures["timing"] = {
            name: measure(dubs[name][0].project)
            for name in ("en_es_fragments", "en_es_sentences", "es_en_whisper_translate", "lecture_en_es")
        }
        figures["examples"] = examples
        figures["material"] = {
            "english_sentences": len(ENGLISH),
            "spanish_sentences": len(SPANISH),
            "english_seconds": round(english.duration, 1),
            "spanish_seconds": round(spanish.duration, 1),
            "lecture_seconds": round(lecture.duration, 1),
        }
    figures["seconds"] = round(time.perf_counter() - started, 1)
    figures["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    figures["targets"] = {
        "en_es_apertium.chrF_gain": ">= 3",
        "subtitle_violations_total": 0,
        "timing": "start offset mean <= 100 ms, max <= 250 ms, 0 overlaps, stretch 0.85-1.2x on >= 95% "
        "of lines, end-of-video drift 0",
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in figures.items() if k != "examples"}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

// A line's quality flags in plain words (the codes are in GET /jobs/{id}/segments).

function signed(value) {
  return `${value >= 0 ? "+" : ""}${value.toFixed(2)}`;
}

const WORDS = {
  stretch: (q) => (Number.isFinite(q.stretch) ? (q.stretch > 1 ? `sped up to ${q.stretch.toFixed(2)}×` : `slowed to ${q.stretch.toFixed(2)}×`) : "stretched"),
  start_offset: (q) => (Number.isFinite(q.start_offset) ? `starts ${signed(q.start_offset)} s from the original` : "starts off its place"),
  overlap: (q) => `runs ${Number.isFinite(q.overlap) ? q.overlap.toFixed(2) : "?"} s into the next line`,
  back_wer: (q) => `hard to understand (${Math.round((q.back_wer || 0) * 100)} % of its words heard wrong)`,
  untranslated_words: (q) => `untranslated: ${(q.untranslated_words || []).join(", ")}`,
  over_comfort: () => "faster than sounds natural",
  at_cap: () => "at the fastest allowed",
  overrun: () => "runs past the room it has",
  translated_by_line: () => "its sentence was translated line by line",
  source_text_kept: () => "not translated (the translator failed): kept as said",
};

// Plain-language descriptions of a line's flags, and of a failed line's error.
export function describeFlags(line) {
  const quality = line.quality || {};
  const out = (quality.flags || []).map((flag) => (WORDS[flag] ? WORDS[flag](quality) : flag.replaceAll("_", " ")));
  if (line.status && line.status !== "ok") out.push(line.error ? `${line.status}: ${line.error}` : line.status);
  return out;
}

// The table of a dub's lines: times, speaker, what was said and what the dub says, quality and flags, a play
// button for each track and an Edit button. One row per line, in order; nothing here talks to the server.

import { button, cell, clear, el, percent, seconds } from "../dom.js";
import { describeFlags } from "./flags.js";

export const COLUMNS = 12;

const PENDING_WORDS = {
  translation: "translation",
  sentence_translation: "sentence re-split",
  voice: "voice",
  keep_original: "original speech",
};

function translationCell(row, line) {
  const td = cell(row, "");
  td.appendChild(el("span", { text: line.translation || "", className: "translation-text" }));
  const spoken = line.timing && line.timing.spoken && line.timing.spoken !== line.translation && !line.pending.length;
  if (spoken) td.appendChild(el("span", { text: ` (spoken: ${line.timing.spoken})`, className: "hint" }));
  const notes = [];
  if (line.keep_original) notes.push("plays the original speech");
  if (line.pending.length) notes.push(`changed, not re-dubbed yet: ${line.pending.map((p) => PENDING_WORDS[p] || p).join(", ")}`);
  else if (line.edited) notes.push("edited");
  for (const note of notes) td.appendChild(el("span", { text: note, className: "badge" }));
  return td;
}

// Fill `tbody` with the lines of `view` (GET /jobs/{id}/segments). Handlers: onPlay(line, track, button),
// onEdit(line, button). `editable` false: no Edit buttons (a re-dub runs).
export function renderLines(tbody, view, { onPlay, onEdit, editable }) {
  clear(tbody);
  for (const line of view.segments) {
    const flags = describeFlags(line);
    const row = el("tr");
    row.dataset.segmentId = line.id;
    if (line.status === "failed") row.classList.add("failed");
    else if (flags.length) row.classList.add("flagged");
    if (line.pending.length) row.classList.add("pending");
    const quality = line.quality;
    cell(row, String(line.index), "num");
    cell(row, seconds(line.start), "num");
    cell(row, seconds(line.end), "num");
    cell(row, line.speaker);
    cell(row, line.source_text);
    translationCell(row, line);
    cell(row, Number.isFinite(quality.stretch) ? `${quality.stretch.toFixed(2)}×` : "–", "num");
    cell(row, Number.isFinite(quality.start_offset) ? `${quality.start_offset >= 0 ? "+" : ""}${quality.start_offset.toFixed(2)} s` : "–", "num");
    cell(row, Number.isFinite(quality.back_wer) ? percent(quality.back_wer) : "–", "num");
    const flagCell = cell(row, "");
    if (flags.length) {
      const list = el("ul", { className: "flags" });
      for (const flag of flags) list.appendChild(el("li", { text: flag }));
      flagCell.appendChild(list);
    }
    const listen = cell(row, "", "listen");
    for (const [track, label] of [["source", "Original"], ["dub", "Dub"]]) {
      const play = button(`▶ ${label}`, {
        className: "secondary small",
        aria: `Play the ${track === "source" ? "original" : "dub"} of line ${line.index}`,
      });
      play.dataset.lineAudio = line.audio[track];
      play.setAttribute("aria-pressed", "false");
      play.addEventListener("click", () => onPlay(line, track, play));
      listen.appendChild(play);
    }
    const actions = cell(row, "");
    if (editable) {
      const edit = button("Edit", { className: "secondary small", aria: `Edit line ${line.index}` });
      edit.dataset.edit = line.id;
      edit.addEventListener("click", () => onEdit(line, edit));
      actions.appendChild(edit);
    }
    tbody.appendChild(row);
  }
}

// One voice select per speaker, listing the voices the job's synthesizer offers for the target language.

import { clear, el, option } from "../dom.js";

// Fill `container` for `view` (GET /jobs/{id}/segments). `onChange(speaker, voiceId, select)` when a person
// picks a voice; `editable` false disables the selects (a re-dub runs).
export function renderVoicePickers(container, view, { onChange, editable }) {
  clear(container);
  if (!view.voices.length) {
    container.appendChild(el("p", { text: "This synthesizer offers no choice of voice.", className: "hint" }));
    return;
  }
  for (const speaker of view.speakers) {
    const field = el("div", { className: "field" });
    const id = `voice-${speaker.id}`;
    const label = el("label", { text: `Voice of ${speaker.id}${speaker.pending ? " (changed, not re-dubbed yet)" : ""}` });
    label.htmlFor = id;
    const select = el("select", { attrs: { id } });
    select.dataset.speaker = speaker.id;
    if (!speaker.voice) option(select, "", "Default", false);
    for (const voice of view.voices) option(select, voice.id, voice.label === voice.id ? voice.id : `${voice.label} (${voice.id})`);
    select.value = speaker.voice || "";
    select.disabled = !editable;
    select.addEventListener("change", () => onChange(speaker.id, select.value, select));
    field.append(label, select);
    container.appendChild(field);
  }
}

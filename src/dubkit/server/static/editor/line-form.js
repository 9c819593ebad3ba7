// The inline editor of one line: its translation (with the candidates to pick from), the whole sentence it
// belongs to, and "keep the original speech". Enter saves, Escape cancels; it says what changed and never
// talks to the server itself.

import { button, el } from "../dom.js";
import { COLUMNS } from "./line-table.js";

function textField(id, label, value, limit, hint) {
  const field = el("div", { className: "field" });
  const labelEl = el("label", { text: label });
  labelEl.htmlFor = id;
  const input = el("input", { attrs: { type: "text", id, maxlength: String(limit), spellcheck: "true", "aria-describedby": `${id}-hint` } });
  input.value = value;
  field.append(labelEl, input, el("p", { text: hint, className: "hint", attrs: { id: `${id}-hint` } }));
  return { field, input };
}

function candidateList(legend, candidates, current, input) {
  const others = candidates.filter((c) => c && c !== current);
  if (!others.length) return null;
  const set = el("fieldset", { className: "candidates" });
  set.appendChild(el("legend", { text: legend }));
  const list = el("ul");
  for (const candidate of others) {
    const item = el("li");
    const use = button("Use", { className: "link", aria: `Use: ${candidate}` });
    use.addEventListener("click", () => {
      input.value = candidate;
      input.focus();
    });
    item.append(use, el("span", { text: ` ${candidate}` }));
    list.appendChild(item);
  }
  set.appendChild(list);
  return set;
}

// Open the editor below `row` for `line`. `sentence`: its sentence when it has several lines (else null).
// `onSave(change)` gets the changed fields ({} when nothing changed) and resolves when done; `onClose()`.
export function openLineForm(row, line, sentence, limits, { onSave, onClose }) {
  const editorRow = el("tr", { className: "editor-row" });
  const td = el("td", { attrs: { colspan: String(COLUMNS) } });
  const form = el("form", { className: "line-form", attrs: { "aria-label": `Edit line ${line.index}`, novalidate: "" } });
  const own = textField(
    "line-translation",
    `Translation of line ${line.index}`,
    line.translation,
    limits.translation,
    `At most ${limits.translation} characters of plain text. Enter saves, Escape cancels.${sentence ? " This changes this line's piece of its sentence only." : ""}`,
  );
  form.appendChild(own.field);
  const picks = candidateList("Other translations", line.candidates, line.translation, own.input);
  if (picks) form.appendChild(picks);
  let whole = null;
  if (sentence) {
    const first = sentence.segments[0];
    const last = sentence.segments[sentence.segments.length - 1];
    whole = textField(
      "sentence-translation",
      `Whole sentence (lines ${first} to ${last})`,
      sentence.translation,
      limits.sentence_translation,
      "Changing it cuts the sentence into its lines again; their own changes are dropped.",
    );
    form.appendChild(whole.field);
    const sentencePicks = candidateList("Other translations of the sentence", sentence.candidates, sentence.translation, whole.input);
    if (sentencePicks) form.appendChild(sentencePicks);
  }
  const keepLabel = el("label", { className: "check" });
  const keep = el("input", { attrs: { type: "checkbox", id: "line-keep" } });
  keep.checked = Boolean(line.keep_original);
  keepLabel.append(keep, document.createTextNode(" Keep the original speech for this line (no dub)"));
  form.appendChild(keepLabel);
  const actions = el("div", { className: "actions" });
  const save = el("button", { text: "Save" });
  save.type = "submit";
  const cancel = button("Cancel", { className: "secondary" });
  actions.append(save, cancel);
  form.appendChild(actions);
  td.appendChild(form);
  editorRow.appendChild(td);
  row.after(editorRow);

  const close = () => {
    editorRow.remove();
    onClose();
  };
  cancel.addEventListener("click", close);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const change = {};
    if (own.input.value.trim() !== (line.translation || "").trim()) change.translation = own.input.value;
    if (whole && whole.input.value.trim() !== (sentence.translation || "").trim()) change.sentence_translation = whole.input.value;
    if (keep.checked !== Boolean(line.keep_original)) change.keep_original = keep.checked;
    save.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      await onSave(change);
    } finally {
      save.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
  own.input.focus();
  own.input.select();
  return { close, element: editorRow };
}

// The language choices of the upload form: for the chosen spoken language, only the targets the server can
// dub (GET /api/v1/languages lists the pairs), and why the others are missing.
//
// An ES module, loaded by app.js with import(). Text enters the page through textContent only.

function option(select, value, label) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = label;
  select.appendChild(element);
  return element;
}

function nameOf(body, code) {
  const found = body.languages.find((l) => l.code === code) || body.sources.find((l) => l.code === code);
  return found ? found.name : code;
}

// Why `target` cannot be dubbed from `source` (null when it can).
export function whyNot(body, source, target) {
  if (source === target) return "it is the spoken language";
  if (body.pairs.some((p) => p.source === source && p.target === target)) return null;
  if (!(target in body.voices)) return "no installed voice speaks it";
  const hint = body.install_hints.find((h) => h.source === source && h.target === target);
  const from = source === "auto" ? "any spoken language" : nameOf(body, source);
  const who = body.translator === "auto" ? "no installed translator translates" : `the translator ${body.translator} does not translate`;
  const reason = `${who} ${from} into it`;
  return hint ? `${reason} (to add it: ${hint.hint})` : reason;
}

// Fill the source select once, then the targets for its value (and again whenever it changes).
export function showLanguages(body, { source, target, missing }) {
  const sourceChoice = source.value;
  const chosen = new Set(Array.from(target.selectedOptions, (o) => o.value));
  while (source.options.length) source.remove(0);
  for (const language of body.sources) {
    option(source, language.code, language.code === "auto" ? language.name : `${language.name} (${language.code})`);
  }
  source.value = Array.from(source.options).some((o) => o.value === sourceChoice) ? sourceChoice : "auto";

  const fillTargets = () => {
    const from = source.value || "auto";
    const keep = new Set([...chosen, ...Array.from(target.selectedOptions, (o) => o.value)]);
    while (target.firstChild) target.removeChild(target.firstChild);
    const pairs = body.pairs.filter((p) => p.source === from).sort((a, b) => nameOf(body, a.target).localeCompare(nameOf(body, b.target)));
    for (const pair of pairs) {
      const label = `${nameOf(body, pair.target)} (${pair.target})`;
      const element = option(target, pair.target, label);
      element.selected = keep.has(pair.target);
      element.title = pair.translator ? `translated by ${pair.translator}, voiced by ${pair.synthesizer}` : `voiced by ${pair.synthesizer}; from ${pair.sources.join(", ")}`;
    }
    showMissing(body, from, new Set(pairs.map((p) => p.target)), missing);
  };
  if (!source.dataset.languagesBound) {
    source.addEventListener("change", () => fillTargets());
    source.dataset.languagesBound = "yes";
  }
  source.languagesRefresh = fillTargets;
  fillTargets();
}

function showMissing(body, from, offered, missing) {
  while (missing.firstChild) missing.removeChild(missing.firstChild);
  const absent = body.languages.filter((l) => l.code !== from && !offered.has(l.code));
  missing.hidden = !absent.length;
  if (!absent.length) return;
  const summary = document.createElement("summary");
  summary.textContent = `${absent.length} language${absent.length === 1 ? "" : "s"} cannot be dubbed from ${from === "auto" ? "a detected language" : nameOf(body, from)} here: why`;
  missing.appendChild(summary);
  const list = document.createElement("ul");
  for (const language of absent) {
    const item = document.createElement("li");
    item.textContent = `${language.name} (${language.code}): ${whyNot(body, from, language.code)}`;
    list.appendChild(item);
  }
  missing.appendChild(list);
}

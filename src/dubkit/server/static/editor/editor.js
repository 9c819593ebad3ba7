// The line editor of a completed job: its lines (listen, edit), a voice per speaker, and "Re-dub N edited
// lines". It reads and changes the lines through SegmentsClient and tells the page when a re-dub is queued
// (the page then follows the job's progress and, when it completes, shows the editor again).

import { clear, plural, $ } from "../dom.js";
import { openLineForm } from "./line-form.js";
import { LinePlayer } from "./line-player.js";
import { renderLines } from "./line-table.js";
import { SegmentsClient } from "./segments-client.js";
import { renderVoicePickers } from "./voice-picker.js";

const FINISHED = new Set(["completed", "failed", "cancelled"]);

export class LineEditor {
  // onRedubQueued(job): a re-dub was queued; onError(message).
  constructor({ onRedubQueued, onError }) {
    this.onRedubQueued = onRedubQueued;
    this.onError = onError;
    this.job = null;
    this.view = null;
    this.client = null;
    this.form = null;
    this.shownFor = null; // "<job id>:<result version>:<status>" of what is on show
    this.player = new LinePlayer($("line-audio"), $("line-playing"), onError);
    $("redub-button").addEventListener("click", () => this.redub());
  }

  // Show the lines of `job` (re-read when its result or status changed since they were shown).
  async show(job) {
    const key = `${job.id}:${job.result_version}:${job.status}`;
    if (this.shownFor === key) return;
    if (!this.job || this.job.id !== job.id) this.reset();
    this.job = job;
    this.client = new SegmentsClient(job);
    const view = await this.client.load();
    if (!this.job || this.job.id !== job.id) return;
    this.shownFor = key;
    this.render(view);
    $("quality-section").hidden = false;
  }

  reset() {
    this.player.stop();
    this.closeForm();
    this.job = null;
    this.view = null;
    this.shownFor = null;
    clear($("quality-table").tBodies[0]);
    clear($("voice-pickers"));
    $("quality-section").hidden = true;
    $("editor-status").textContent = "";
  }

  get editable() {
    return Boolean(this.job && this.job.status === "completed");
  }

  render(view) {
    this.view = view;
    const editable = this.editable;
    renderLines($("quality-table").tBodies[0], view, {
      editable,
      onPlay: (line, track, button) => this.player.toggle(line.audio[track], `the ${track === "source" ? "original" : "dub"} of line ${line.index}`, button),
      onEdit: (line, button) => this.edit(line, button),
    });
    this.player.remark();
    renderVoicePickers($("voice-pickers"), view, { editable, onChange: (speaker, voice, select) => this.changeVoice(speaker, voice, select) });
    const flagged = view.segments.filter((l) => l.quality.flags.length).length;
    const failed = view.segments.filter((l) => l.status === "failed").length;
    $("quality-summary").textContent = `${plural(view.segments.length, "line")}, ${flagged} flagged, ${failed} failed · result version ${view.result_version}.`;
    const pending = view.pending_segments.length;
    const redub = $("redub-button");
    redub.textContent = `Re-dub ${plural(pending, "edited line")}`;
    redub.disabled = !editable || pending === 0;
    if (!editable && this.job && !FINISHED.has(this.job.status)) $("editor-status").textContent = "A re-dub is running; the lines can be changed again when it completes.";
    else if (this.job && this.job.error_message && this.job.status === "completed") $("editor-status").textContent = this.job.error_message;
    else $("editor-status").textContent = pending ? "Changes wait for the re-dub." : "";
  }

  closeForm() {
    if (this.form) {
      const form = this.form;
      this.form = null;
      form.close();
    }
  }

  edit(line, button) {
    this.closeForm();
    const row = button.closest("tr");
    const sentence = this.view.sentences.find((s) => s.id === line.sentence) || null;
    const segmentId = line.id;
    this.form = openLineForm(row, line, sentence, this.view.limits, {
      onSave: async (change) => {
        if (!Object.keys(change).length) {
          this.closeForm();
          return;
        }
        const saved = await this.apply(segmentId, change);
        if (saved) this.closeForm();
      },
      onClose: () => {
        this.form = null;
        const again = document.querySelector(`#quality-table button[data-edit="${CSS.escape(segmentId)}"]`);
        if (again) again.focus();
      },
    });
  }

  // Send one change; true when the server took it. A stale ETag re-reads the lines and says so.
  async apply(segmentId, change) {
    try {
      this.render(await this.client.change(segmentId, change));
      $("editor-status").textContent = "Saved. Changes wait for the re-dub.";
      return true;
    } catch (error) {
      if (error.status === 412) {
        this.closeForm();
        this.onError("The lines changed elsewhere (another tab or a new result): they were read again. Make the change once more.");
        this.render(await this.client.load());
        return false;
      }
      this.onError(error.message);
      return false;
    }
  }

  async changeVoice(speaker, voice, select) {
    const line = this.view.segments.find((l) => l.speaker === speaker);
    if (!line || !voice) return;
    select.disabled = true;
    const saved = await this.apply(line.id, { voice });
    const again = document.getElementById(select.id);
    if (again) again.focus();
    if (!saved) select.disabled = false;
  }

  async redub() {
    const redub = $("redub-button");
    redub.disabled = true;
    this.closeForm();
    this.player.stop();
    try {
      const job = await this.client.redub();
      $("editor-status").textContent = "Re-dub queued; progress is shown above.";
      this.job = job;
      this.shownFor = null;
      this.render(this.view);
      this.onRedubQueued(job);
    } catch (error) {
      redub.disabled = false;
      this.onError(error.message);
      if (error.status === 412) this.render(await this.client.load());
    }
  }
}

// Plays one line at a time (its original speech or its dub) through the page's one <audio> element.

import { playableUrl, request } from "../api.js";

export class LinePlayer {
  // `audio`: the <audio> element; `caption`: where "Playing …" is announced; `onError(message)`.
  constructor(audio, caption, onError) {
    this.audio = audio;
    this.caption = caption;
    this.onError = onError;
    this.current = null; // { path, release, button }
    audio.addEventListener("ended", () => this.mark(null));
    audio.addEventListener("pause", () => this.mark(null));
    audio.addEventListener("error", () => this.explain());
  }

  // Play `path` (a line's audio link); the same button again stops it.
  async toggle(path, label, button) {
    if (this.current && this.current.path === path && !this.audio.paused) {
      this.audio.pause();
      return;
    }
    this.stop();
    let source;
    try {
      source = await playableUrl(path);
    } catch (error) {
      this.onError(error.message);
      return;
    }
    this.current = { path, release: source.release, button };
    this.audio.src = source.url;
    this.caption.textContent = `Playing ${label}`;
    try {
      await this.audio.play();
      this.mark(button);
    } catch (error) {
      if (error && error.name === "AbortError") return; // another line was asked for meanwhile
      this.onError(`The line could not be played: ${error.message}`);
    }
  }

  // The rows were drawn again: press the button of the line that is playing, if it is still there.
  remark() {
    if (!this.current || this.audio.paused) return;
    const again = Array.from(document.querySelectorAll("button[data-line-audio]")).find((b) => b.dataset.lineAudio === this.current.path);
    if (again) this.mark(again);
  }

  mark(button) {
    for (const pressed of document.querySelectorAll("button[data-line-audio][aria-pressed='true']")) {
      pressed.setAttribute("aria-pressed", "false");
    }
    if (button) button.setAttribute("aria-pressed", "true");
    if (!button) this.caption.textContent = "";
  }

  stop() {
    this.audio.pause();
    this.audio.removeAttribute("src");
    this.audio.load();
    if (this.current) this.current.release();
    this.current = null;
    this.mark(null);
  }

  // An <audio> cannot read an error body: ask again with fetch to show the problem details.
  async explain() {
    const current = this.current;
    if (!current || !this.audio.getAttribute("src")) return;
    try {
      await request(current.path, { raw: true });
      this.onError("This browser could not play the line.");
    } catch (error) {
      this.onError(error.message);
    }
  }
}

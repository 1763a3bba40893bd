// The open modal: drawn from its view, inputs kept across updates, submitted like Slack does.

import { post } from "./api.js";
import { el, readInput, renderBlocks, writeInput } from "./blocks.js";

const REQUIRED = "Please complete this required field.";

function collect(dialog) {
  const values = {};
  for (const block of dialog.querySelectorAll(".bk-input-block")) {
    const field = block.querySelector("[data-action-id]");
    if (!field) continue;
    values[block.dataset.blockId] = { [field.dataset.actionId]: readInput(field) };
  }
  return values;
}

// Slack refuses empty required inputs itself, before the app sees the submission.
function missing(dialog, values) {
  const errors = {};
  for (const block of dialog.querySelectorAll(".bk-input-block")) {
    if (block.dataset.optional === "true") continue;
    const entry = Object.values(values[block.dataset.blockId] || {})[0] || {};
    const empty = Array.isArray(entry.value) ? entry.value.length === 0 : !String(entry.value ?? "").trim();
    if (empty) errors[block.dataset.blockId] = REQUIRED;
  }
  return errors;
}

export class ModalView {
  // `user()` is the acting person, `ctx(source, extra)` the renderers' context.
  constructor(root, { user, ctx, changed }) {
    this.root = root;
    this.user = user;
    this.ctx = ctx;
    this.changed = changed;
    this.reset();
  }

  reset() {
    this.key = "";
    this.errors = {};
    this.problem = "";
  }

  async submit(view, dialog) {
    const values = collect(dialog);
    const errors = missing(dialog, values);
    if (Object.keys(errors).length) {
      this.errors = errors;
      this.render(view, true);
      return;
    }
    dialog.querySelector(".modal-submit").disabled = true;
    const answer = await post("submit", { user: this.user(), view_id: view.id, values });
    this.errors = answer?.result === "errors" ? answer.errors || {} : {};
    this.problem = answer?.result === "failed"
      ? `The app did not accept this (HTTP ${answer.status}). Try again.` : "";
    this.render(view, true);
    this.changed();
  }

  async close(view) {
    await post("close", { user: this.user(), view_id: view.id });
    this.errors = {};
    this.problem = "";
    this.changed();
  }

  render(view, force = false) {
    if (!view) {
      this.root.replaceChildren();
      this.reset();
      return;
    }
    const key = JSON.stringify([view.id, view.hash, this.errors, this.problem]);
    if (!force && key === this.key) return;
    const old = this.root.querySelector(".modal");
    const kept = old && old.dataset.viewId === view.id ? collect(old) : {};
    this.key = key;
    const source = { type: "view", view_id: view.id };
    const close = () => this.close(view);
    const dialog = el("div", { class: "modal", role: "dialog", "aria-modal": "true", "aria-labelledby": "modal-title", "data-view-id": view.id, "data-callback-id": view.callback_id },
      el("header", { class: "modal-header" },
        el("h2", { id: "modal-title" }, view.title?.text || ""),
        el("button", { type: "button", class: "icon-btn", "aria-label": "Close", onclick: close }, "✕")),
      el("div", { class: "modal-body" },
        this.problem ? el("p", { class: "modal-problem", role: "alert" }, this.problem) : null,
        renderBlocks(view.blocks, this.ctx(source, { errors: this.errors }))),
      el("footer", { class: "modal-footer" },
        el("button", { type: "button", class: "bk-btn modal-close", onclick: close }, view.close?.text || "Cancel"),
        view.submit ? el("button", { type: "submit", class: "bk-btn primary modal-submit" }, view.submit.text) : null));
    const form = el("form", { class: "modal-form", novalidate: true, onsubmit: (e) => { e.preventDefault(); this.submit(view, dialog); } }, dialog);
    for (const [bid, entry] of Object.entries(kept)) {
      const field = form.querySelector(`.bk-input-block[data-block-id="${CSS.escape(bid)}"] [data-action-id]`);
      if (field) writeInput(field, Object.values(entry)[0]);
    }
    this.root.replaceChildren(el("div", { class: "backdrop" }, form));
    if (!old) form.querySelector("input, textarea, select")?.focus();
  }
}

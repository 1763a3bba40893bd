// Block Kit to DOM: the blocks and elements the bot sends, drawn the way Slack draws them.

import { escapeHtml, renderMrkdwn, renderPlain, renderText } from "./mrkdwn.js";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "html") node.innerHTML = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

export { el };

export function blockId(block, index) {
  return block.block_id || `sandbox-block-${index}`;
}

// A confirm dialog as Slack shows one before a button with `confirm` acts.
export function confirmDialog(confirm, ctx) {
  return new Promise((resolve) => {
    const close = (answer) => { backdrop.remove(); resolve(answer); };
    const dialog = el("div", { class: "confirm", role: "alertdialog", "aria-modal": "true", "aria-label": confirm.title?.text || "Confirm" },
      el("h2", { html: renderText(confirm.title, ctx) }),
      el("div", { class: "confirm-text", html: renderText(confirm.text, ctx) }),
      el("div", { class: "confirm-buttons" },
        el("button", { class: "bk-btn", type: "button", onclick: () => close(false) }, confirm.deny?.text || "Cancel"),
        el("button", { class: `bk-btn ${confirm.style === "danger" ? "danger" : "primary"}`, type: "button", onclick: () => close(true) }, confirm.confirm?.text || "Yes")));
    const backdrop = el("div", { class: "backdrop confirm-backdrop" }, dialog);
    document.body.append(backdrop);
    dialog.querySelector(".primary, .danger")?.focus();
  });
}

async function act(ctx, element, bid, chosen = {}) {
  if (element.confirm && !(await confirmDialog(element.confirm, ctx))) return;
  ctx.onAction({ action_id: element.action_id, block_id: bid, ...chosen });
}

const SAFE_URL = /^(https?:|mailto:)/i;

function button(element, bid, ctx) {
  const style = element.style ? ` ${element.style}` : "";
  const label = renderPlain(element.text?.text);
  if (element.url) {
    return el("a", {
      class: `bk-btn link${style}`, href: SAFE_URL.test(element.url) ? element.url : undefined,
      target: "_blank", rel: "noopener",
      "data-action-id": element.action_id, html: `${label} <span class="ext" aria-hidden="true">↗</span>`,
      // Slack also sends a block_actions payload for link buttons.
      onclick: () => ctx.onAction({ action_id: element.action_id, block_id: bid }),
    });
  }
  return el("button", {
    class: `bk-btn${style}`, type: "button", "data-action-id": element.action_id, html: label,
    onclick: () => act(ctx, element, bid),
  });
}

function overflow(element, bid, ctx) {
  const menu = el("div", { class: "overflow-menu", role: "menu", hidden: true },
    (element.options || []).map((option) => el("button", {
      type: "button", role: "menuitem", class: "overflow-item", html: renderText(option.text, ctx),
      onclick: () => { menu.hidden = true; act(ctx, element, bid, { value: option.value }); },
    })));
  const toggle = el("button", {
    class: "bk-btn overflow", type: "button", "aria-label": "More actions", "aria-haspopup": "menu",
    "data-action-id": element.action_id, onclick: () => { menu.hidden = !menu.hidden; },
  }, "⋮");
  return el("span", { class: "overflow-wrap" }, toggle, menu);
}

function options(element) {
  const list = [...(element.options || [])];
  for (const group of element.option_groups || []) list.push(...(group.options || []));
  return list;
}

function selectMenu(element, ctx, people) {
  const placeholder = element.placeholder?.text || "Select an item";
  const choices = people
    ? Object.entries(ctx.users).filter(([, u]) => !u.is_bot).map(([id, u]) => ({ value: id, label: u.real_name || u.name }))
    : options(element).map((o) => ({ value: o.value, label: o.text?.text || o.value }));
  const initial = people ? element.initial_user : element.initial_option?.value;
  return el("select", { class: "bk-select", "data-action-id": element.action_id },
    el("option", { value: "" }, placeholder),
    choices.map((c) => el("option", { value: c.value, selected: c.value === initial }, c.label)));
}

function actionElement(element, bid, ctx) {
  switch (element.type) {
    case "button": return button(element, bid, ctx);
    case "overflow": return overflow(element, bid, ctx);
    case "static_select":
    case "users_select": {
      const select = selectMenu(element, ctx, element.type === "users_select");
      select.addEventListener("change", () => {
        if (select.value) act(ctx, element, bid, { value: select.value });
      });
      return select;
    }
    case "image": return el("img", { class: "bk-image-el", src: element.image_url, alt: element.alt_text || "" });
    default: return el("span", { class: "unsupported" }, `[${element.type}]`);
  }
}

function inputElement(element, ctx) {
  const common = { "data-action-id": element.action_id, "data-type": element.type };
  switch (element.type) {
    case "plain_text_input": {
      const attrs = {
        ...common, class: "bk-input", placeholder: element.placeholder?.text,
        maxlength: element.max_length, minlength: element.min_length,
      };
      const field = element.multiline ? el("textarea", { ...attrs, rows: 4 }) : el("input", { ...attrs, type: "text" });
      field.value = element.initial_value || "";
      return field;
    }
    case "email_text_input":
    case "url_text_input":
    case "number_input": {
      const type = { email_text_input: "email", url_text_input: "url", number_input: "number" }[element.type];
      const field = el("input", { ...common, class: "bk-input", type, placeholder: element.placeholder?.text });
      field.value = element.initial_value || "";
      return field;
    }
    case "datepicker": {
      const field = el("input", { ...common, class: "bk-input", type: "date" });
      field.value = element.initial_date || "";
      return field;
    }
    case "users_select":
    case "static_select": {
      const select = selectMenu(element, ctx, element.type === "users_select");
      Object.entries(common).forEach(([k, v]) => select.setAttribute(k, v));
      return select;
    }
    case "checkboxes":
    case "radio_buttons": {
      const kind = element.type === "checkboxes" ? "checkbox" : "radio";
      const initial = new Set((element.initial_options || (element.initial_option ? [element.initial_option] : [])).map((o) => o.value));
      const name = `${element.action_id}-${Math.random().toString(36).slice(2)}`;
      return el("div", { ...common, class: "bk-choices" }, (element.options || []).map((option) => el("label", { class: "bk-choice" },
        el("input", { type: kind, name, value: option.value, checked: initial.has(option.value) }),
        el("span", { html: renderText(option.text, ctx) }),
        option.description ? el("small", { html: renderText(option.description, ctx) }) : null)));
    }
    default:
      return el("span", { class: "unsupported" }, `[${element.type} input]`);
  }
}

// What an input block's element holds now, in the shape /sandbox/ui/submit takes.
export function readInput(node) {
  const type = node.dataset.type;
  if (type === "checkboxes") return { value: [...node.querySelectorAll("input:checked")].map((i) => i.value) };
  if (type === "radio_buttons") return { value: node.querySelector("input:checked")?.value || "" };
  return { value: node.value };
}

export function writeInput(node, entry) {
  const type = node.dataset.type;
  if (type === "checkboxes" || type === "radio_buttons") {
    const chosen = new Set([].concat(entry.value || []));
    node.querySelectorAll("input").forEach((i) => { i.checked = chosen.has(i.value); });
  } else {
    node.value = entry.value ?? "";
  }
}

function section(block, bid, ctx) {
  const body = el("div", { class: "bk-section-body" });
  if (block.text) body.append(el("div", { class: "bk-text", html: renderText(block.text, ctx) }));
  if (block.fields?.length) {
    body.append(el("div", { class: "bk-fields" }, block.fields.map((f) => el("div", { class: "bk-field", html: renderText(f, ctx) }))));
  }
  const node = el("div", { class: "bk-section" }, body);
  if (block.accessory) {
    const accessory = block.accessory.type === "image"
      ? el("img", { class: "bk-accessory-image", src: block.accessory.image_url, alt: block.accessory.alt_text || "" })
      : actionElement(block.accessory, bid, ctx);
    node.append(el("div", { class: "bk-accessory" }, accessory));
  }
  return node;
}

function context(block, ctx) {
  return el("div", { class: "bk-context" }, (block.elements || []).map((e) => (e.type === "image"
    ? el("img", { class: "bk-context-image", src: e.image_url, alt: e.alt_text || "" })
    : el("span", { class: "bk-context-item", html: renderText(e, ctx) }))));
}

function input(block, bid, ctx) {
  const element = block.element || {};
  const error = ctx.errors?.[bid];
  const node = el("div", { class: `bk-input-block${error ? " has-error" : ""}`, "data-block-id": bid, "data-optional": block.optional ? "true" : "false" },
    el("label", { class: "bk-label" }, renderPlainText(block.label?.text),
      block.optional ? el("span", { class: "optional" }, " (optional)") : null),
    inputElement(element, ctx),
    block.hint ? el("div", { class: "bk-hint", html: renderText(block.hint, ctx) }) : null,
    el("div", { class: "bk-error", role: "alert" }, error || ""));
  return node;
}

function renderPlainText(text) {
  const span = document.createElement("span");
  span.textContent = text || "";
  return span;
}

function richText(block, ctx) {
  // Minimal: the text of every element, for apps that send rich_text.
  const parts = [];
  const walk = (node) => {
    if (!node) return;
    if (node.type === "text") parts.push(escapeHtml(node.text));
    else if (node.type === "link") parts.push(`<a href="${escapeHtml(node.url)}" target="_blank" rel="noopener">${escapeHtml(node.text || node.url)}</a>`);
    else if (node.type === "user") parts.push(renderMrkdwn(`<@${node.user_id}>`, ctx));
    (node.elements || []).forEach(walk);
  };
  walk(block);
  return el("div", { class: "bk-section bk-text", html: parts.join("") });
}

// The DOM of a list of blocks; `ctx.onAction(chosen)` gets every click or choice.
export function renderBlocks(blocks, ctx) {
  const root = el("div", { class: "blocks" });
  (blocks || []).forEach((block, index) => {
    const bid = blockId(block, index);
    let node;
    switch (block.type) {
      case "header":
        node = el("div", { class: "bk-header", html: renderPlain(block.text?.text) });
        break;
      case "section": node = section(block, bid, ctx); break;
      case "context": node = context(block, ctx); break;
      case "divider": node = el("hr", { class: "bk-divider" }); break;
      case "actions":
        node = el("div", { class: "bk-actions" }, (block.elements || []).map((e) => actionElement(e, bid, ctx)));
        break;
      case "input": node = input(block, bid, ctx); break;
      case "image":
        node = el("figure", { class: "bk-image" }, el("img", { src: block.image_url, alt: block.alt_text || "" }),
          block.title ? el("figcaption", { html: renderText(block.title, ctx) }) : null);
        break;
      case "rich_text": node = richText(block, ctx); break;
      default: node = el("div", { class: "unsupported" }, `[unsupported block: ${block.type}]`);
    }
    node.dataset.blockId = bid;
    node.dataset.blockType = block.type;
    root.append(node);
  });
  return root;
}

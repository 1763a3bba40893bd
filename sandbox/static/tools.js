// The side panels: send a DialNexa handoff, settle the Plisio invoices the bot created, and
// reset the whole sandbox.

import { fill, post, toast } from "./api.js";
import { confirmDialog, el } from "./blocks.js";

const $ = (id) => document.getElementById(id);
const SETTLE = [
  ["completed", "Mark paid", "primary"],
  ["underpaid", "Pay short", ""],
  ["expired", "Expire", ""],
  ["cancelled", "Cancel", ""],
];

async function loadExamples() {
  const response = await fetch("/sandbox/ui/examples");
  const examples = response.ok ? await response.json() : [];
  const select = $("example-select");
  select.replaceChildren(...examples.map((x) => el("option", { value: x.name }, `${x.title}${x.workflow ? ` (${x.workflow})` : ""}`)));
  const show = () => {
    $("handoff-json").value = examples.find((x) => x.name === select.value)?.json || "";
    $("handoff-json").scrollTop = 0;
  };
  select.addEventListener("change", show);
  show();
}

async function sendHandoff() {
  const result = $("handoff-result");
  result.textContent = "Sending…";
  const answer = await post("handoff", { body: $("handoff-json").value, as_new_call: $("as-new-call").checked });
  if (!answer) { result.textContent = ""; return; }
  const body = answer.body;
  const ok = answer.status >= 200 && answer.status < 300;
  const summary = ok
    ? `${answer.status} ${body?.duplicate ? "duplicate: already on file" : "accepted"} · handoff ${body?.handoff_id}${answer.call_id ? ` · call ${answer.call_id}` : ""}`
    : `${answer.status} ${body?.error || "refused"}${body?.message ? `: ${body.message}` : ""}`;
  const fields = (body?.fields || []).map((f) => el("li", {}, el("code", {}, f.field), ` ${f.reason}`));
  result.replaceChildren(
    el("p", { class: `answer ${ok ? "ok" : "bad"}`, "data-status": String(answer.status), "data-call-id": answer.call_id || "", "data-handoff-id": body?.handoff_id || "" }, summary),
    fields.length ? el("ul", { class: "field-errors" }, fields) : "",
    el("details", {}, el("summary", {}, "Response body"), el("pre", {}, JSON.stringify(body, null, 2))));
}

export function setupHandoffPanel() {
  $("send-handoff").addEventListener("click", sendHandoff);
  return loadExamples();
}

async function settle(txn, status, changed) {
  const answer = await post(`plisio/${txn}`, { status });
  if (answer && answer.status && answer.status !== 200) toast(`The bot answered the Plisio callback with HTTP ${answer.status}`);
  changed();
}

export function renderInvoices(invoices, changed) {
  fill($("invoices"), JSON.stringify(invoices), () => {
    if (!invoices.length) return [el("li", { class: "empty" }, "No invoices yet. Approve an invoice handoff to create one.")];
    return invoices.map((inv) => {
      const final = inv.status !== "new" && inv.status !== "pending";
      return el("li", { class: "invoice", "data-testid": "invoice", "data-txn": inv.txn_id, "data-order": inv.order_number },
        el("div", { class: "invoice-head" },
          el("a", { href: inv.invoice_url, target: "_blank", rel: "noopener" }, inv.order_name),
          el("span", { class: `status status-${inv.status.replace(/ /g, "-")}`, "data-testid": "invoice-status" }, inv.status)),
        el("div", { class: "muted" }, `${inv.source_amount} ${inv.source_currency} · ${inv.email || "no email"} · order ${inv.order_number}`),
        el("div", { class: "invoice-actions" }, SETTLE.map(([status, label, style]) => el("button", {
          type: "button", class: `bk-btn small ${style}`, disabled: final,
          onclick: () => settle(inv.txn_id, status, changed),
        }, label))));
    });
  });
}

const plain = (text) => ({ type: "plain_text", text });
const RESET_CONFIRM = {
  title: plain("Reset the sandbox?"),
  text: plain("Every handoff, message, invoice and audit entry in this sandbox is deleted, in the bot's sandbox database and on this page together. The demo people and channels stay."),
  confirm: plain("Reset sandbox"),
  deny: plain("Keep everything"),
  style: "danger",
};

export function setupReset(changed) {
  $("reset-sandbox").addEventListener("click", async () => {
    if (!(await confirmDialog(RESET_CONFIRM, {}))) return;
    const answer = await post("reset", { confirm: true });
    if (answer?.ok) toast("The sandbox was reset: no handoffs, messages or invoices.");
    changed();
  });
}

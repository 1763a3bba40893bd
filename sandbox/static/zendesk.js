// The sandbox Zendesk panel: every ticket the bot created or noted, with its comments
// (the bot's are private notes; a public one would be a bug, so it is marked).

import { fill } from "./api.js";
import { el } from "./blocks.js";

export function renderTickets(tickets) {
  const list = document.getElementById("zendesk-tickets");
  if (!list) return;
  fill(list, JSON.stringify(tickets || []), () => {
    if (!tickets || !tickets.length) return [el("li", { class: "empty" }, "No tickets yet. A handoff with a customer email gets one when it is posted.")];
    return tickets.map((t) => el("li", { class: "invoice", "data-testid": "zendesk-ticket", "data-ticket": String(t.id), "data-external-id": t.external_id || "" },
      el("div", { class: "invoice-head" },
        el("a", { href: t.url, target: "_blank", rel: "noopener" }, `#${t.id} ${t.subject}`),
        el("span", { class: `status status-${t.status}` }, t.status)),
      el("div", { class: "muted" }, `${t.requester || "no requester"} · ${t.tags.join(", ")}`),
      el("details", {}, el("summary", {}, `${t.comments.length} comment${t.comments.length === 1 ? "" : "s"}`),
        ...t.comments.map((c) => el("div", { class: "muted", "data-public": String(c.public) },
          el("b", {}, c.public ? "Public reply" : "Internal note"),
          el("pre", { style: "white-space: pre-wrap" }, c.body))))));
  });
}

// The sandbox Google Sheet: the exception review queue the bot keeps, one row per call.

import { fill } from "./api.js";
import { el } from "./blocks.js";

export function renderSheet(sheet) {
  const node = document.getElementById("sheet");
  if (!node || !sheet) return;
  fill(node, JSON.stringify(sheet), () => {
    const [header, ...rows] = sheet.rows;
    if (!header) return [el("p", { class: "empty" }, "No exception rows yet. Send a handoff that needs review.")];
    const cell = (text) => /^https?:\/\//.test(text)
      ? el("td", {}, el("a", { href: text, target: "_blank", rel: "noopener" }, "open"))
      : el("td", {}, text);
    return [
      el("a", { href: sheet.url, target: "_blank", rel: "noopener" }, `${sheet.tab} ↗`),
      el("div", { class: "sheet-scroll" }, el("table", { class: "sheet", "data-testid": "sheet" },
        el("thead", {}, el("tr", {}, el("th", {}, "#"), header.map((h) => el("th", {}, h)))),
        el("tbody", {}, rows.map((row, i) => el("tr", { "data-testid": "sheet-row", "data-call": row[0] },
          el("td", {}, String(i + 2)), header.map((_, j) => cell(row[j] || ""))))))),
    ];
  });
}

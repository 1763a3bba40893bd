// Slack mrkdwn to HTML: *bold*, _italic_, ~strike~, `code`, ```pre```, > quotes, links,
// <@U…> / <!subteam^S…> / <#C…> mentions and <!date^…> tokens shown in the browser's local time.

const OPEN = "\uE000";
const CLOSE = "\uE001";
const STASHED = new RegExp(`${OPEN}(\\d+)${CLOSE}`, "g");
const LOCALE = "en-US";
const DATE_PARTS = /\{(date_num|date|date_short|date_long|date_pretty|date_short_pretty|date_long_pretty|time|time_secs|ago)\}/;

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

// Slack escapes exactly three characters in message text.
function unescapeSlack(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function ordinal(n) {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${{ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th"}`;
}

function dayDiff(date, now) {
  const a = new Date(date.getFullYear(), date.getMonth(), date.getDate());
  const b = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  return Math.round((a - b) / 86400000);
}

function agoText(date, now) {
  const seconds = Math.round((date - now) / 1000);
  const units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];
  const format = new Intl.RelativeTimeFormat(LOCALE, { numeric: "auto" });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(seconds, "second");
}

// One Slack date format string, e.g. "{date_short_pretty} at {time}", for a Date.
export function formatSlackDate(date, template, now = new Date()) {
  const month = (style) => date.toLocaleString(LOCALE, { month: style });
  const weekday = date.toLocaleString(LOCALE, { weekday: "long" });
  const year = date.getFullYear();
  const day = date.getDate();
  const pad = (n) => String(n).padStart(2, "0");
  const words = { "-1": "yesterday", 0: "today", 1: "tomorrow" };
  const pretty = words[dayDiff(date, now)];
  const parts = {
    date_num: `${year}-${pad(date.getMonth() + 1)}-${pad(day)}`,
    date: `${month("long")} ${ordinal(day)}, ${year}`,
    date_short: `${month("short")} ${day}, ${year}`,
    date_long: `${weekday}, ${month("long")} ${ordinal(day)}, ${year}`,
    time: date.toLocaleTimeString(LOCALE, { hour: "numeric", minute: "2-digit" }),
    time_secs: date.toLocaleTimeString(LOCALE, { hour: "numeric", minute: "2-digit", second: "2-digit" }),
    ago: agoText(date, now),
  };
  parts.date_pretty = pretty || parts.date;
  parts.date_short_pretty = pretty || parts.date_short;
  parts.date_long_pretty = pretty || parts.date_long;
  return template.replace(/\{(\w+)\}/g, (whole, name) => parts[name] ?? whole);
}

function safeUrl(url) {
  return /^(https?:|mailto:)/i.test(url) ? url : null;
}

function personName(ctx, id) {
  const user = ctx.users?.[id];
  return user ? user.real_name || user.name : id;
}

function renderToken(body, ctx) {
  const [target, label] = splitOnce(body, "|");
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const mine = id === ctx.me ? " me" : "";
    return `<span class="mention${mine}" data-user="${escapeHtml(id)}">@${escapeHtml(personName(ctx, id))}</span>`;
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    const name = label || ctx.channels?.[id]?.name || id;
    return `<span class="channel-ref">#${escapeHtml(unescapeSlack(name))}</span>`;
  }
  if (target.startsWith("!subteam^")) {
    const id = target.slice("!subteam^".length);
    const handle = ctx.usergroups?.[id]?.handle || (label || id).replace(/^@/, "");
    return `<span class="mention group" data-group="${escapeHtml(id)}">@${escapeHtml(handle)}</span>`;
  }
  if (target.startsWith("!date^")) {
    const [, ts, template, link] = target.split("^");
    const date = new Date(Number(ts) * 1000);
    if (Number.isNaN(date.getTime())) return escapeHtml(unescapeSlack(label || target));
    // As in Slack: a format naming no date part shows the fallback, never formatted (the bot
    // writes caller text's * _ ~ ` this way so that they stay inert).
    if (!DATE_PARTS.test(template || "{date}")) return escapeHtml(unescapeSlack(label || ""));
    const text = escapeHtml(formatSlackDate(date, unescapeSlack(template || "{date}")));
    const iso = date.toISOString();
    const time = `<time class="slack-date" datetime="${iso}" data-ts="${escapeHtml(ts)}" title="${escapeHtml(date.toString())}">${text}</time>`;
    const href = link && safeUrl(unescapeSlack(link));
    return href ? `<a href="${escapeHtml(href)}" target="_blank" rel="noopener">${time}</a>` : time;
  }
  if (target.startsWith("!")) {
    const word = target.slice(1).split("^")[0];
    return `<span class="mention group">@${escapeHtml(label || word)}</span>`;
  }
  const href = safeUrl(unescapeSlack(target));
  const text = escapeHtml(unescapeSlack(label || target));
  if (!href) return text;
  return `<a href="${escapeHtml(href)}" target="_blank" rel="noopener">${text}</a>`;
}

function splitOnce(text, sep) {
  const at = text.indexOf(sep);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

function emphasis(html) {
  const rule = (mark, tag) => new RegExp(
    `(^|[^\\w${mark}])\\${mark}(?!\\s)([^${mark}\\n]*?[^\\s${mark}])\\${mark}(?![\\w${mark}])`, "g",
  );
  return html
    .replace(rule("*", "b"), "$1<b>$2</b>")
    .replace(rule("_", "i"), "$1<i>$2</i>")
    .replace(rule("~", "s"), "$1<s>$2</s>");
}

// Inline formatting of one stretch of raw mrkdwn (no code fences, no quote markers).
function inline(raw, ctx) {
  const stash = [];
  const keep = (html) => `${OPEN}${stash.push(html) - 1}${CLOSE}`;
  let text = raw.replace(/`([^`\n]+)`/g, (_, code) => keep(`<code>${escapeHtml(unescapeSlack(code))}</code>`));
  text = text.replace(/<([^<>\n]+)>/g, (_, body) => keep(renderToken(body, ctx)));
  let html = emphasis(escapeHtml(unescapeSlack(text)));
  html = html.replace(/\n/g, "<br>");
  for (let i = 0; i < 3 && html.includes(OPEN); i += 1) {
    html = html.replace(STASHED, (_, n) => stash[Number(n)]);
  }
  return html;
}

function withQuotes(raw, ctx) {
  const out = [];
  let quote = [];
  let plain = [];
  const flush = () => {
    if (plain.length) out.push(inline(plain.join("\n"), ctx));
    if (quote.length) out.push(`<blockquote>${inline(quote.join("\n"), ctx)}</blockquote>`);
    plain = [];
    quote = [];
  };
  for (const line of raw.split("\n")) {
    if (line.startsWith(">")) {
      if (plain.length) flush();
      quote.push(line.replace(/^> ?/, ""));
    } else {
      if (quote.length) flush();
      plain.push(line);
    }
  }
  flush();
  return out.join("");
}

// The whole text of a mrkdwn text object, as HTML.
export function renderMrkdwn(raw, ctx = {}) {
  const pieces = String(raw ?? "").split("```");
  return pieces
    .map((piece, i) => (i % 2 === 1
      ? `<pre>${escapeHtml(unescapeSlack(piece.replace(/^\n/, "")))}</pre>`
      : withQuotes(piece, ctx)))
    .join("");
}

// A plain_text object: escaped, with :emoji: names left as they are.
export function renderPlain(text) {
  return escapeHtml(String(text ?? "")).replace(/\n/g, "<br>");
}

export function renderText(obj, ctx) {
  if (!obj) return "";
  return obj.type === "mrkdwn" ? renderMrkdwn(obj.text, ctx) : renderPlain(obj.text);
}

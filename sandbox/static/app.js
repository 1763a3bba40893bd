// The sandbox page: a Slack-like view of the pretend workspace, driven by /sandbox/ui/*.

import { botTrouble, fill, post, toast } from "./api.js";
import { el, renderBlocks } from "./blocks.js";
import { renderMrkdwn } from "./mrkdwn.js";
import { ModalView } from "./modal.js";
import { renderSheet } from "./sheet.js";
import { renderInvoices, setupHandoffPanel, setupReset } from "./tools.js";
import { renderTickets } from "./zendesk.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const page = {
  me: params.get("as") || localStorage.getItem("sandbox.as") || "U0APPROVER1",
  where: params.get("c") || "C0FINANCE", // a channel id, or "app"
  tab: params.get("tab") || "home",
  thread: null, // {channel, ts}
  data: null,
  seen: {},
  homeAnswer: null,
  fetchSeq: 0,
};

// ---- talking to the sandbox ------------------------------------------------------------------

async function refresh() {
  const seq = ++page.fetchSeq;
  let response;
  try {
    response = await fetch(`/sandbox/ui/state?user=${encodeURIComponent(page.me)}`);
  } catch {
    // The bot is restarting: the live updates reconnect by themselves and refresh the page then.
    toast("The sandbox is not answering (restarting?). The page catches up when it is back.");
    return;
  }
  if (!response.ok || seq !== page.fetchSeq) return;
  page.data = await response.json();
  render();
}

let refreshTimer = null;
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 40);
}

function listen() {
  const events = new EventSource("/sandbox/ui/events");
  events.addEventListener("change", scheduleRefresh);
}

// ---- context for the renderers ---------------------------------------------------------------

function ctx(source, extra = {}) {
  const data = page.data;
  const channels = Object.fromEntries(data.channels.map((c) => [c.id, c]));
  return {
    users: data.users,
    usergroups: data.usergroups,
    channels,
    me: page.me,
    onAction: (chosen) => click(source, chosen),
    ...extra,
  };
}

const modal = new ModalView($("modal-root"), { user: () => page.me, ctx, changed: () => scheduleRefresh() });

async function click(source, chosen) {
  const answer = await post("action", { user: page.me, source, action: chosen });
  botTrouble(answer, "the click");
  scheduleRefresh();
}

function currentChannel() {
  const data = page.data;
  if (page.where === "app") return data.dm;
  return data.channels.find((c) => c.id === page.where) || data.channels[0];
}

// ---- messages --------------------------------------------------------------------------------

function initials(name) {
  return name.split(/[\s-]+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
}

function hue(text) {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return h;
}

function avatar(user, isBot) {
  if (isBot) return el("div", { class: "avatar bot", "aria-hidden": "true" }, "$");
  const name = page.data.users[user]?.real_name || user || "?";
  return el("div", { class: "avatar", style: `background: hsl(${hue(user || "")} 45% 42%)`, "aria-hidden": "true" }, initials(name));
}

function clock(ts) {
  return new Date(Number(ts) * 1000).toLocaleTimeString("en-US", { hour: "numeric", minute: "2-digit" });
}

function messageNode(channel, message, { inThread = false } = {}) {
  const author = message.is_bot ? page.data.bot.name : (page.data.users[message.user]?.real_name || message.user);
  const source = { type: "message", channel: channel.id, ts: message.ts };
  const content = message.blocks?.length
    ? renderBlocks(message.blocks, ctx(source))
    : el("div", { class: "msg-text", html: renderMrkdwn(message.text, ctx(source)) });
  const node = el("article", { class: "msg", "data-testid": "message", "data-ts": message.ts, "data-channel": channel.id },
    avatar(message.user, message.is_bot),
    el("div", { class: "msg-body" },
      el("div", { class: "msg-meta" },
        el("span", { class: "author" }, author),
        message.is_bot ? el("span", { class: "app-badge" }, "APP") : null,
        el("time", { class: "msg-time", datetime: new Date(Number(message.ts) * 1000).toISOString() }, clock(message.ts)),
        message.edited ? el("span", { class: "edited" }, "(edited)") : null),
      content,
      ...(message.files || []).map(fileNode),
      !inThread && message.reply_count
        ? el("button", {
          type: "button", class: "replies", "data-testid": "replies",
          onclick: () => openThread(channel.id, message.ts),
        }, `${message.reply_count} ${message.reply_count === 1 ? "reply" : "replies"}`)
        : null));
  return node;
}

function fileNode(file) {
  const size = file.size >= 1024 ? `${Math.round(file.size / 1024)} KB` : `${file.size} B`;
  return el("div", { class: "msg-file", "data-testid": "file" },
    el("span", { class: "file-icon", "aria-hidden": "true" }, "📄"),
    file.download
      ? el("a", { href: file.download, download: file.name, "data-testid": "file-download" }, file.title || file.name)
      : el("span", {}, file.title || file.name),
    el("span", { class: "file-size" }, ` ${file.name} · ${size}`));
}

function ephemeralNode(channel, eph) {
  const source = { type: "ephemeral", ts: eph.ts };
  const content = eph.blocks?.length
    ? renderBlocks(eph.blocks, ctx(source))
    : el("div", { class: "msg-text", html: renderMrkdwn(eph.text, ctx(source)) });
  return el("article", { class: "msg ephemeral", "data-testid": "ephemeral", "data-ts": eph.ts, "data-channel": channel.id },
    avatar(null, true),
    el("div", { class: "msg-body" },
      el("div", { class: "msg-meta" },
        el("span", { class: "author" }, page.data.bot.name),
        el("span", { class: "app-badge" }, "APP"),
        el("time", { class: "msg-time" }, clock(eph.ts)),
        el("span", { class: "only-you" }, "Only visible to you"),
        el("button", { type: "button", class: "dismiss", onclick: () => dismiss(eph.ts) }, "Dismiss")),
      content));
}

async function dismiss(ts) {
  await post("dismiss", { user: page.me, ts });
  scheduleRefresh();
}

function renderTimeline() {
  const channel = currentChannel();
  const mine = page.data.ephemerals.filter((e) => e.channel === channel.id && !e.thread_ts);
  const key = JSON.stringify([page.me, channel.id, channel.messages, mine, page.data.users]);
  fill($("timeline"), key, () => {
    const items = [
      ...channel.messages.map((m) => ({ ts: m.ts, node: () => messageNode(channel, m) })),
      ...mine.map((e) => ({ ts: e.ts, node: () => ephemeralNode(channel, e) })),
    ].sort((a, b) => Number(a.ts) - Number(b.ts));
    if (!items.length) {
      const hint = channel.is_im
        ? "No messages from the bot yet. It writes here when something needs you."
        : "Nothing here yet. Send a handoff from the DialNexa panel on the right.";
      return [el("p", { class: "empty" }, hint)];
    }
    return items.map((i) => i.node());
  });
}

// ---- thread ----------------------------------------------------------------------------------

function openThread(channel, ts) {
  page.thread = { channel, ts };
  render();
}

function renderThread() {
  const side = $("thread");
  const tools = $("tools");
  const thread = page.thread;
  const channel = thread && [...page.data.channels, page.data.dm].find((c) => c.id === thread.channel);
  const parent = channel?.messages.find((m) => m.ts === thread.ts);
  if (!parent) {
    side.hidden = true;
    tools.hidden = false;
    return;
  }
  side.hidden = false;
  tools.hidden = true;
  $("thread-channel").textContent = channel.is_im ? "" : `#${channel.name}`;
  const replies = channel.threads[parent.ts] || [];
  const mine = page.data.ephemerals.filter((e) => e.channel === channel.id && e.thread_ts === parent.ts);
  const key = JSON.stringify([page.me, parent, replies, mine]);
  fill($("thread-body"), key, () => [
    messageNode(channel, parent, { inThread: true }),
    el("div", { class: "thread-count" }, `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`),
    ...[...replies.map((m) => ({ ts: m.ts, node: () => messageNode(channel, m, { inThread: true }) })),
      ...mine.map((e) => ({ ts: e.ts, node: () => ephemeralNode(channel, e) }))]
      .sort((a, b) => Number(a.ts) - Number(b.ts)).map((i) => i.node()),
  ]);
}

// ---- sidebar and header ----------------------------------------------------------------------

function renderSidebar() {
  const data = page.data;
  const picker = $("acting-user");
  const pickerKey = JSON.stringify(data.people);
  if (picker.dataset.key !== pickerKey) {
    picker.dataset.key = pickerKey;
    picker.replaceChildren(...data.people.map((p) => el("option", { value: p.id }, `${p.real_name} — ${p.roles.join(", ")}`)));
  }
  picker.value = page.me;
  const me = data.people.find((p) => p.id === page.me);
  $("acting-roles").textContent = me ? rolesHint(me.roles) : "";
  const unread = (c) => c.messages.length > (page.seen[c.id] ?? c.messages.length);
  $("channel-list").replaceChildren(...data.channels.map((c) => el("li", {},
    el("a", {
      href: `?as=${page.me}&c=${c.id}`, class: `nav-item${page.where === c.id ? " active" : ""}${unread(c) ? " unread" : ""}`,
      "data-channel-id": c.id, onclick: (e) => { e.preventDefault(); go(c.id); },
    }, `# ${c.name}`))));
  const dmUnread = unread(data.dm);
  $("app-list").replaceChildren(el("li", {},
    el("a", {
      href: `?as=${page.me}&c=app`, class: `nav-item app${page.where === "app" ? " active" : ""}${dmUnread ? " unread" : ""}`,
      "data-app": "finance-bot", onclick: (e) => { e.preventDefault(); go("app"); },
    }, el("span", { class: "app-dot", "aria-hidden": "true" }, "$"), ` ${data.bot.name}`)));
  $("team-name").textContent = data.team.name;
}

function rolesHint(roles) {
  if (roles.includes("approver")) return "May approve handoffs.";
  if (roles.includes("finance lead")) return "Mentioned on escalations; not an approver.";
  if (roles.includes("finance")) return "In the finance group; not an approver.";
  return "Not in finance: approvals are refused.";
}

function renderHeader() {
  const channel = currentChannel();
  const inApp = page.where === "app";
  $("channel-title").textContent = inApp ? page.data.bot.name : `#${channel.name}`;
  $("channel-topic").textContent = inApp
    ? "The bot's Home tab and your direct messages with it."
    : channel.receives.length ? `The bot posts here: ${channel.receives.join(", ")}` : "";
  $("app-tabs").hidden = !inApp;
  for (const button of $("app-tabs").querySelectorAll("button")) {
    button.setAttribute("aria-selected", String(inApp && button.dataset.tab === page.tab));
  }
  const showHome = inApp && page.tab === "home";
  $("home").hidden = !showHome;
  $("timeline").hidden = showHome;
  $("composer").hidden = showHome;
  $("composer-input").placeholder = inApp ? `Message ${page.data.bot.name}` : `Message #${channel.name}`;
}

// ---- Home tab --------------------------------------------------------------------------------

function renderHome() {
  if ($("home").hidden) return;
  const view = page.data.home;
  const key = JSON.stringify([page.me, view?.hash, page.homeAnswer?.status, page.data.users]);
  fill($("home"), key, () => {
    if (view) return [renderBlocks(view.blocks, ctx({ type: "view", view_id: view.id }))];
    const status = page.homeAnswer?.status;
    const why = status && status !== 200
      ? ` (the bot answered app_home_opened with HTTP ${status})` : "";
    return [el("p", { class: "empty" }, `The bot has not published a Home tab for you yet${why}.`)];
  });
}

async function openHome() {
  page.homeAnswer = await post("home", { user: page.me });
  scheduleRefresh();
}

// ---- navigation and the composer -------------------------------------------------------------

function syncUrl() {
  const query = new URLSearchParams({ as: page.me, c: page.where });
  if (page.where === "app") query.set("tab", page.tab);
  history.replaceState(null, "", `?${query}`);
}

function markSeen() {
  const channel = currentChannel();
  if (!(page.where === "app" && page.tab === "home")) page.seen[channel.id] = channel.messages.length;
  for (const c of [...page.data.channels, page.data.dm]) {
    if (!(c.id in page.seen)) page.seen[c.id] = c.messages.length;
  }
}

function go(where) {
  page.where = where;
  page.thread = null;
  syncUrl();
  render();
  if (where === "app" && page.tab === "home") openHome();
}

async function send(event) {
  event.preventDefault();
  const input = $("composer-input");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  const answer = await post("command", { user: page.me, channel: currentChannel().id, text });
  if (answer && answer.status && answer.status >= 300) toast(`The bot answered ${text.split(" ")[0]} with HTTP ${answer.status}`);
  scheduleRefresh();
}

async function reply(event) {
  event.preventDefault();
  const input = $("thread-input");
  const text = input.value.trim();
  if (!text || !page.thread) return;
  input.value = "";
  await post("reply", { user: page.me, channel: page.thread.channel, thread_ts: page.thread.ts, text });
  scheduleRefresh();
}

// Slack permalinks (https://acme.slack.com/archives/C…/p…) open inside the sandbox page.
const PERMALINK = /^https:\/\/[a-z0-9-]+\.slack\.com\/archives\/([A-Z0-9]+)\/p(\d{10})(\d{6})(?:\?(.*))?$/;

function followPermalink(event) {
  const anchor = event.target.closest("a[href]");
  const match = anchor && PERMALINK.exec(anchor.href);
  if (!match || !page.data) return;
  event.preventDefault();
  const [, channel, secs, micros, query] = match;
  const threadTs = new URLSearchParams(query || "").get("thread_ts");
  const known = page.data.dm.id === channel || page.data.channels.some((c) => c.id === channel);
  if (!known) {
    toast("That message is in a conversation this person cannot see.");
    return;
  }
  page.where = page.data.dm.id === channel ? "app" : channel;
  if (page.where === "app") page.tab = "messages";
  page.thread = threadTs ? { channel, ts: threadTs } : null;
  syncUrl();
  render();
  const target = document.querySelector(`#timeline [data-ts="${threadTs || `${secs}.${micros}`}"]`);
  if (target) {
    target.scrollIntoView({ block: "center" });
    target.classList.add("highlight");
    setTimeout(() => target.classList.remove("highlight"), 2000);
  }
}

function render() {
  if (!page.data) return;
  renderSidebar();
  renderHeader();
  renderTimeline();
  renderHome();
  renderThread();
  modal.render(page.data.modal);
  renderInvoices(page.data.invoices, scheduleRefresh);
  renderSheet(page.data.sheet);
  renderTickets(page.data.zendesk);
  markSeen();
  document.body.dataset.version = String(page.data.version);
  document.body.dataset.me = page.me;
}

function start() {
  $("acting-user").addEventListener("change", (e) => {
    page.me = e.target.value;
    localStorage.setItem("sandbox.as", page.me);
    page.thread = null;
    modal.reset();
    syncUrl();
    refresh().then(() => { if (page.where === "app" && page.tab === "home") openHome(); });
  });
  for (const button of $("app-tabs").querySelectorAll("button")) {
    button.addEventListener("click", () => {
      page.tab = button.dataset.tab;
      syncUrl();
      render();
      if (page.tab === "home") openHome();
    });
  }
  $("composer").addEventListener("submit", send);
  $("thread-composer").addEventListener("submit", reply);
  $("thread-close").addEventListener("click", () => { page.thread = null; render(); });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && page.data?.modal && !document.querySelector(".confirm")) modal.close(page.data.modal);
  });
  document.addEventListener("click", followPermalink);
  document.addEventListener("click", (e) => {
    if (!e.target.closest(".overflow-wrap")) document.querySelectorAll(".overflow-menu").forEach((m) => { m.hidden = true; });
  });
  syncUrl();
  setupHandoffPanel();
  setupReset(() => { page.thread = null; page.seen = {}; scheduleRefresh(); });
  listen();
  // A modal left open before a reload must not come back over the page (Slack closes them too).
  post("loaded", {}).then(refresh).then(() => {
    document.body.dataset.ready = "true";
    if (page.where === "app" && page.tab === "home") openHome();
  });
}

start();

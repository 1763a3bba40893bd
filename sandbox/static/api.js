// Talking to the sandbox's /sandbox/ui routes, and the small helpers every view shares.

export async function post(path, body) {
  let response;
  try {
    response = await fetch(`/sandbox/ui/${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch {
    toast("The sandbox is not answering (restarting?). Try again in a moment.");
    return null;
  }
  let answer = null;
  try { answer = await response.json(); } catch { answer = null; }
  if (!response.ok) {
    toast(answer?.error || `The sandbox answered HTTP ${response.status}`);
    return null;
  }
  return answer;
}

export function toast(text) {
  const node = document.getElementById("toast");
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.hidden = true; }, 6000);
}

// Say so when the bot answered a forwarded request with something other than 2xx.
export function botTrouble(answer, what) {
  if (answer && answer.status && (answer.status < 200 || answer.status >= 300)) {
    toast(`The bot answered ${what} with HTTP ${answer.status}`);
  }
}

function nearBottom(node) {
  return node.scrollHeight - node.scrollTop - node.clientHeight < 80;
}

// Rebuild `node` from `build()` only when `key` changed, keeping it scrolled to the bottom.
export function fill(node, key, build) {
  if (node.dataset.key === key) return;
  const stick = nearBottom(node);
  node.dataset.key = key;
  node.replaceChildren(...build());
  if (stick) node.scrollTop = node.scrollHeight;
}

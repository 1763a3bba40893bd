// The sandbox invoice page's buttons: change the invoice, which sends Plisio's callback.

const card = document.querySelector(".pay-card");
const result = document.querySelector(".pay-result");

for (const button of document.querySelectorAll("[data-status]")) {
  button.addEventListener("click", async () => {
    result.textContent = "Sending Plisio's callback…";
    const response = await fetch(`/sandbox/ui/plisio/${card.dataset.txn}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ status: button.dataset.status }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      result.textContent = answer.error || `HTTP ${response.status}`;
      return;
    }
    const status = document.querySelector("[data-testid=invoice-status]");
    status.textContent = button.dataset.status;
    status.className = `status status-${button.dataset.status}`;
    result.textContent = `The bot answered the callback with HTTP ${answer.status}` +
      (answer.body?.outcome ? ` (${answer.body.outcome})` : "");
  });
}

// Sync Options: renders the agent's state, live over server-sent events,
// and sends the buttons as JSON with the page's CSRF token.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  let last = null;

  function text(id, v) { $(id).textContent = v == null || v === "" ? "—" : String(v); }
  function when(t) { return t ? new Date(t).toLocaleString() : "—"; }
  function conn(a) { return a.signInNeeded ? "Sign-in needed: " + (a.reason || "") : a.connected ? "Connected" : "Not connected"; }

  function render(ps) {
    // Answers race each other (an action's reply, the event stream, a
    // poll): never let an older snapshot replace a newer one.
    if (last && ps.status.seq < last.status.seq) return;
    last = ps;
    const s = ps.status;
    const badge = $("state-badge");
    badge.textContent = s.state;
    badge.className = "badge " + s.state.replace(/ /g, "-");
    $("reason").textContent = s.reason || "";
    text("mailbox", s.mailboxStatus);
    text("syncstatus", s.syncStatus);
    text("next", s.running ? "running now" : when(s.nextBatchAt));
    const disabled = s.state === "Disabled by administrator";
    const configured = s.state !== "Not Configured";
    $("btn-sync").disabled = disabled || !configured || s.running;
    $("btn-pause").hidden = !s.pauseAllowed || s.state === "Paused";
    $("btn-resume").hidden = !s.pauseAllowed || !(s.state === "Paused" || s.state === "Suspended by Error");
    const pol = $("policy");
    pol.replaceChildren(...(s.policyErrors || []).map((e) => li("Ignored policy value: " + e)));
    pol.hidden = !(s.policyErrors || []).length;

    const ms = s.accounts.microsoft, vp = s.accounts.vantagepoint;
    text("ms-user", ms.user); text("ms-conn", conn(ms)); text("ms-last", when(ms.lastSuccess));
    text("vp-url", vp.url); text("vp-db", vp.database); text("vp-emp", vp.employee);
    text("vp-conn", conn(vp)); text("vp-last", when(vp.lastSuccess));

    const b = s.lastBatch;
    const tbody = $("counts").tBodies[0];
    tbody.replaceChildren();
    if (b) {
      $("batch-summary").textContent = "Batch " + b.id + " (" + b.trigger + ") finished " + when(b.finished) +
        ": " + b.outcome + (b.error ? " — " + b.error : "") + ". Requests: Microsoft 365 " +
        ((b.requests || {}).graph || 0) + ", Vantagepoint " + ((b.requests || {}).vantagepoint || 0) + ".";
      for (const t of Object.keys(b.counts || {}).sort()) {
        const c = b.counts[t], tot = (s.totals || {})[t] || {};
        const tr = document.createElement("tr");
        for (const v of [t, c.scanned, c.created, c.updated, c.deleted, c.failed, tot.created || 0]) {
          const td = document.createElement(tr.children.length ? "td" : "th");
          if (!tr.children.length) td.scope = "row";
          td.textContent = v; tr.appendChild(td);
        }
        tbody.appendChild(tr);
      }
    } else {
      $("batch-summary").textContent = "No batch yet.";
    }

    const issues = s.openIssues || [];
    $("issues").replaceChildren(...issues.map(issueItem));
    $("no-issues").hidden = issues.length > 0;
    $("btn-retry").hidden = issues.length === 0;

    $("pairings").replaceChildren(...ps.pairings.map(pairingItem));
    $("no-pairings").hidden = ps.pairings.length > 0;
    $("origins").textContent = ps.allowedOrigins.length ? ps.allowedOrigins.join(", ") : "(none configured)";
  }

  function issueItem(i) {
    const e = li(i.type + " · " + i.item + " (" + i.side + "): " + i.reason + " — " + i.attempts + " attempt(s) since " + when(i.firstSeen));
    // The empty-side guard held deletions back: only the user can say they
    // were intended.
    if (i.item === "deletions held back") {
      const b = document.createElement("button");
      b.type = "button"; b.className = "danger"; b.textContent = "Confirm these deletions";
      b.addEventListener("click", () => {
        if (confirm("Apply the held-back deletions of " + i.type + "? The matching items on the other side will be deleted.")) {
          act_("confirm-deletes", { type: i.type });
        }
      });
      e.append(" "); e.appendChild(b);
    }
    return e;
  }

  function li(t) { const e = document.createElement("li"); e.textContent = t; return e; }

  function pairingItem(p) {
    const e = li(p.name + " from " + p.origin + " — code ");
    const code = document.createElement("span");
    code.className = "code"; code.textContent = p.code; e.appendChild(code); e.append(" ");
    for (const [label, act, cls] of [["Approve", "approve", ""], ["Deny", "deny", "secondary"]]) {
      const b = document.createElement("button");
      b.type = "button"; b.textContent = label; if (cls) b.className = cls;
      b.setAttribute("aria-label", label + " " + p.name + " " + p.code);
      b.addEventListener("click", () => act_(act, { id: p.id }));
      e.appendChild(b); e.append(" ");
    }
    return e;
  }

  async function act_(action, extra) {
    $("error").hidden = true;
    try {
      const r = await fetch("/ui/action", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(Object.assign({ action: action }, extra || {})),
      });
      const body = await r.json();
      if (!r.ok) throw new Error(body.error ? body.error.message : r.statusText);
      render(body);
      $("live").textContent = action + ": done";
    } catch (err) {
      $("error").textContent = err.message; $("error").hidden = false;
    }
  }

  $("btn-sync").addEventListener("click", () => act_("sync"));
  $("btn-retry").addEventListener("click", () => act_("retry"));
  $("btn-pause").addEventListener("click", () => act_("pause"));
  $("btn-resume").addEventListener("click", () => act_("resume"));
  $("btn-reauth-ms").addEventListener("click", () => act_("reauthorize", { account: "microsoft" }));
  $("vp-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act_("reauthorize", { account: "vantagepoint", username: $("vp-username").value, password: $("vp-password").value });
    $("vp-password").value = "";
  });
  $("btn-delete").addEventListener("click", () => {
    if (confirm("Remove vpconnect's data from your mailbox and sign out on this computer?")) act_("deactivate", { force: false });
  });
  $("btn-force").addEventListener("click", () => {
    if (confirm("Forget the sign-ins and local state without touching the mailbox?")) act_("deactivate", { force: true });
  });

  // Live status: server-sent events; on failure fall back to polling.
  function poll() {
    fetch("/ui/state", { credentials: "same-origin" }).then((r) => r.json()).then(render).catch(() => {});
  }
  if (window.EventSource) {
    const es = new EventSource("/ui/events");
    es.addEventListener("state", (ev) => render(JSON.parse(ev.data)));
    es.onerror = () => { if (es.readyState === EventSource.CLOSED) setInterval(poll, 5000); };
  } else {
    setInterval(poll, 5000);
  }
  poll();
})();

// Sync Options: renders the agent's state, live over server-sent events,
// and sends the buttons as JSON. Every request carries the page's secret,
// which the agent gave once in the fragment of the address that opened the
// page: the session cookie alone (which any program listening on another
// loopback port receives too) opens nothing.
"use strict";
(function () {
  const KEY = "vpconnect-page-secret";
  const m = /^#s=([0-9a-f]{64})$/.exec(location.hash);
  if (m) {
    // Kept for this tab only (a reload keeps it, another tab has none),
    // and taken out of the address bar and history at once.
    sessionStorage.setItem(KEY, m[1]);
    history.replaceState(null, "", location.pathname);
  }
  const secret = sessionStorage.getItem(KEY) || "";
  const $ = (id) => document.getElementById(id);
  let last = null, over = false;

  // The session ended (or this tab never had the secret): say how to open
  // the page again, and stop asking.
  function ended() {
    over = true;
    for (const e of document.querySelectorAll("main > section")) e.hidden = e.id !== "ended";
  }

  async function call(path, init) {
    init = init || {};
    init.credentials = "same-origin";
    init.cache = "no-store";
    init.headers = Object.assign({ "X-Page-Secret": secret }, init.headers || {});
    const r = await fetch(path, init);
    if (r.status === 401 || r.status === 403) {
      const body = await r.clone().json().catch(() => ({}));
      const code = body.error ? body.error.code : "";
      if (code === "no_session" || code === "page_secret") {
        ended();
        throw new Error("the session ended");
      }
    }
    return r;
  }

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
    $("pairing-box").hidden = ps.pairings.length === 0;
    $("addins").replaceChildren(...(ps.addins || []).map(addinItem));
    $("no-addins").hidden = (ps.addins || []).length > 0;
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

  // A waiting request shows no code: the owner reads it from the add-in.
  function pairingItem(p) {
    const e = li(p.name + " from " + p.origin + ", asked " + when(p.created) + " ");
    e.appendChild(button("Deny", "secondary", "Deny " + p.name + " from " + p.origin, () => act_("deny", { id: p.id })));
    return e;
  }

  function addinItem(a) {
    const e = li(a.name + " from " + a.origin + ", connected " + when(a.created) + " ");
    e.appendChild(button("Disconnect", "secondary", "Disconnect " + a.name + " from " + a.origin, () => {
      if (confirm("Disconnect " + a.name + "? It must be approved again to use vpconnect.")) act_("revoke", { id: a.id });
    }));
    return e;
  }

  function button(label, cls, aria, fn) {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = label; if (cls) b.className = cls;
    b.setAttribute("aria-label", aria);
    b.addEventListener("click", fn);
    return b;
  }

  async function act_(action, extra) {
    $("error").hidden = true;
    try {
      const r = await call("/ui/action", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(Object.assign({ action: action }, extra || {})),
      });
      const body = await r.json();
      if (!r.ok) throw new Error(body.error ? body.error.message : r.statusText);
      render(body);
      $("live").textContent = action + ": done";
      return true;
    } catch (err) {
      if (!over) {
        const msg = String(err.message || err);
        $("error").textContent = msg.charAt(0).toUpperCase() + msg.slice(1);
        $("error").hidden = false;
      }
      return false;
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
  $("pair-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (await act_("approve", { code: $("pair-code").value })) $("pair-code").value = "";
  });
  $("btn-delete").addEventListener("click", () => {
    if (confirm("Remove vpconnect's data from your mailbox and sign out on this computer?")) act_("deactivate", { force: false });
  });
  $("btn-force").addEventListener("click", () => {
    if (confirm("Forget the sign-ins and local state without touching the mailbox?")) act_("deactivate", { force: true });
  });

  // Live status: server-sent events, read with fetch (an EventSource
  // cannot send the page's secret); between reconnections, a poll.
  function poll() {
    return call("/ui/state").then((r) => r.json()).then(render).catch(() => {});
  }

  async function stream() {
    while (!over) {
      try {
        const r = await call("/ui/events");
        if (!r.ok || !r.body) throw new Error(r.statusText);
        const reader = r.body.getReader(), dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let name = "", data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("event: ")) name = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (name === "state") render(JSON.parse(data));
          }
        }
      } catch (err) {
        // The agent restarts, or the network hiccups: try again soon.
      }
      if (over) return;
      await new Promise((res) => setTimeout(res, 3000));
      await poll();
    }
  }

  if (!secret) {
    ended();
    return;
  }
  poll();
  stream();
})();

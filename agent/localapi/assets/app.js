// Sync Options: renders the agent's state, live over server-sent events,
// and sends the buttons as JSON. Every request carries the page's secret,
// which the agent gave once in the fragment of the address that opened the
// page: the session cookie alone (which any program listening on another
// loopback port receives too) opens nothing.
"use strict";
(function () {
  const KEY = "vpconnect-page-secret";
  const m = /^#s=([0-9a-f]{64})(?:&v=(activate|microsoft|vantagepoint))?$/.exec(location.hash);
  // The screen asked for by whoever opened the page (the tray's
  // "Activate…" and re-authorizations, the first run).
  let wanted = m && m[2] ? m[2] : "";
  if (m) {
    // Kept for this tab only (a reload keeps it, another tab has none),
    // and taken out of the address bar and history at once.
    sessionStorage.setItem(KEY, m[1]);
    history.replaceState(null, "", location.pathname);
  }
  const secret = sessionStorage.getItem(KEY) || "";
  const $ = (id) => document.getElementById(id);
  let last = null, over = false, dismissed = false, autoStarted = false;

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
    if (last && ps.activation && last.activation && ps.activation.seq < last.activation.seq) ps.activation = last.activation;
    // A status's seq is its agent's: an agent built again (after an
    // activation or an option change) starts again from 0.
    if (last && (ps.generation || 0) < (last.generation || 0)) return;
    if (last && ps.generation === last.generation && ps.status.seq < last.status.seq) return;
    last = ps;
    const s = ps.status;
    const badge = $("state-badge");
    // The agent's words for the state, the tray's first line too (on
    // standby, the computer that syncs the mailbox).
    badge.textContent = s.headline || s.state;
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

    renderActivation(ps);
    renderOptions(ps);

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

  // The activation screen: a first activation, or the re-authorization of
  // one account, step by step. While it shows, the rest of the page waits.
  const titles = { activate: "Activate vpconnect", microsoft: "Sign in to Microsoft 365 again",
    vantagepoint: "Sign in to Vantagepoint again" };
  function renderActivation(ps) {
    const a = ps.activation, s = ps.status;
    const activated = !!(s.accounts.microsoft.user);
    let show = false;
    if (a) {
      if (a.step) show = true;
      else if (wanted) show = true;
      else if (!activated && !dismissed) show = true;
    }
    const box = $("activation");
    box.hidden = !show;
    for (const e of document.querySelectorAll("main > section")) {
      if (e.id !== "activation" && e.id !== "ended") e.hidden = show || over || (e.id === "options" && (!ps.options || !activated));
    }
    if (!show) return;
    const step = a.step || "";
    const mode = a.mode || wanted || "activate";
    $("h-act").textContent = titles[activated ? mode : "activate"] || titles.activate;
    if (!step && wanted === "vantagepoint" && activated && !autoStarted) {
      // Nothing to click first: the form is the screen.
      autoStarted = true;
      act_("activate", { mode: "vantagepoint" }, "/ui/activate");
    }
    const order = ["", "microsoft", "vantagepoint", "working", "done"];
    const at = step === "failed" ? (a.problem && a.problem.retry === "vantagepoint" ? 2 : (a.microsoft ? 2 : 1)) : order.indexOf(step);
    const cur = at <= 1 ? 1 : at <= 3 ? 2 : 3;
    ["act-s1", "act-s2", "act-s3"].forEach((id, i) => {
      $(id).className = i + 1 < cur || step === "done" ? "done" : i + 1 === cur ? "current" : "";
    });
    $("act-steps").hidden = activated && mode !== "activate" && step !== "";
    const p = a.problem;
    $("act-problem").hidden = !p;
    if (p) { $("act-sentence").textContent = p.sentence; $("act-next").textContent = p.next; }
    $("act-start").hidden = step !== "";
    $("act-ms").hidden = step !== "microsoft";
    $("act-vp").hidden = step !== "vantagepoint";
    $("act-working").hidden = step !== "working";
    $("act-done").hidden = step !== "done";
    $("act-failed").hidden = step !== "failed";
    const missing = a.missing || [];
    $("act-missing").hidden = missing.length === 0;
    $("act-missing").textContent = missing.length ? "vpconnect is not set up for your organization yet (" +
      missing.join(", ") + " is missing): ask IT." : "";
    $("btn-ms-signin").disabled = missing.length > 0;
    $("btn-ms-signin").textContent = mode === "vantagepoint" && activated ? "Sign in to Vantagepoint" : "Sign in with Microsoft";
    $("act-ms-done").textContent = a.microsoft ? "✓ Signed in to Microsoft 365 as " + a.microsoft : "";
    text("act-vp-url", a.vantagepointUrl); text("act-vp-db", a.database);
    if (a.username && !$("act-vp-user").value) $("act-vp-user").value = a.username;
    if (step === "done") {
      text("act-done-ms", a.microsoft || s.accounts.microsoft.user);
      text("act-done-vp", (a.username ? a.username + " at " : "") + (a.vantagepointUrl || s.accounts.vantagepoint.url) +
        ", database " + (a.database || s.accounts.vantagepoint.database));
      text("act-done-emp", (a.employee || s.accounts.vantagepoint.employee || "") + (a.employeeName ? " (" + a.employeeName + ")" : ""));
      const b = s.lastBatch;
      if (b) {
        const parts = Object.keys(b.counts || {}).sort().map((t) => t + ": " + b.counts[t].created + " created, " +
          b.counts[t].updated + " updated, " + b.counts[t].scanned + " scanned");
        $("act-done-batch").textContent = "Batch " + b.id + " (" + b.trigger + ") " + b.outcome + " at " + when(b.finished) +
          (parts.length ? " — " + parts.join("; ") : "");
      } else {
        $("act-done-batch").textContent = s.running ? "running now…" : "starting…";
      }
    }
    $("btn-act-reinit").hidden = !(p && p.retry === "reinitialize");
  }

  async function startActivation(mode, reinitialize) {
    dismissed = false;
    await act_("activate", { mode: mode, reinitialize: !!reinitialize }, "/ui/activate");
  }

  async function closeActivation() {
    dismissed = true; wanted = "";
    await act_("cancel", {}, "/ui/activate/cancel");
  }

  // Sync options: the form shows the values in effect; an option set by
  // policy is disabled with the reason (the agent refuses it anyway). The
  // form is filled when the options change, not while the user types.
  const optKeys = ["category", "mailFolders", "lookbackDays", "daysAhead", "conflict", "emailType", "calendarTypes"];
  let shownOptions = "";
  function renderOptions(ps) {
    const o = ps.options;
    if (!o) return;
    const key = JSON.stringify(o);
    if (key === shownOptions) return;
    shownOptions = key;
    for (const k of optKeys) {
      const el = $("opt-" + k);
      let v = o.values[k];
      if (k === "mailFolders") v = (v || []).join("\n");
      if (k === "calendarTypes") v = (v || []).join(", ");
      el.value = v;
      const reason = o.locked["sync." + k];
      el.disabled = !!reason;
      const label = el.closest("label");
      let lock = label.querySelector(".lock");
      if (reason && !lock) { lock = document.createElement("span"); lock.className = "lock"; label.appendChild(lock); }
      if (lock) { lock.textContent = reason ? "Locked: " + reason : ""; lock.hidden = !reason; }
    }
  }

  function issueItem(i) {
    const e = li(i.type + " · " + i.item + " (" + i.side + "): " + i.reason + " — " + i.attempts + " attempt(s) since " + when(i.firstSeen));
    // The empty-side guard held deletions back: only the user can say they
    // were intended.
    if (i.item === "deletions held back") {
      e.append(" ", button("Confirm these deletions", "danger", "Apply the held-back deletions of " + i.type, () => {
        if (confirm("Apply the held-back deletions of " + i.type + "? The matching items on the other side will be deleted.")) {
          act_("confirm-deletes", { type: i.type });
        }
      }), " ", button("Keep them", "secondary", "Delete no " + i.type + " and copy back what is left", () => {
        if (confirm("Delete nothing, and copy the " + i.type + " that are left back to where they disappeared?")) {
          act_("refuse-deletes", { type: i.type });
        }
      }));
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

  async function act_(action, extra, path) {
    $("error").hidden = true;
    try {
      const payload = path ? extra : Object.assign({ action: action }, extra || {});
      const r = await call(path || "/ui/action", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(payload),
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
  $("btn-reauth-ms").addEventListener("click", () => { wanted = "microsoft"; startActivation("microsoft"); });
  $("btn-reauth-vp").addEventListener("click", () => { wanted = "vantagepoint"; startActivation("vantagepoint"); });
  $("btn-ms-signin").addEventListener("click", () => {
    const activated = last && last.status.accounts.microsoft.user;
    startActivation(activated ? (wanted || "microsoft") : "activate");
  });
  $("btn-ms-again").addEventListener("click", () => startActivation((last && last.activation && last.activation.mode) || "activate"));
  $("btn-act-cancel").addEventListener("click", closeActivation);
  $("btn-act-close").addEventListener("click", closeActivation);
  $("btn-act-close2").addEventListener("click", closeActivation);
  $("btn-act-retry").addEventListener("click", () => startActivation((last && last.activation && last.activation.mode) || "activate"));
  $("btn-act-reinit").addEventListener("click", () => {
    if (confirm("Link this mailbox to you? Another computer or user syncing it stops being recognised.")) startActivation("activate", true);
  });
  $("opt-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const o = last && last.options;
    if (!o) return;
    const change = {};
    for (const k of optKeys) {
      if (o.locked["sync." + k]) continue;
      let v = $("opt-" + k).value;
      if (k === "mailFolders") v = v.split("\n").map((x) => x.trim()).filter(Boolean);
      else if (k === "calendarTypes") v = v.split(",").map((x) => x.trim()).filter(Boolean);
      else if (k === "lookbackDays" || k === "daysAhead") v = Number(v);
      if (JSON.stringify(v) !== JSON.stringify(o.values[k] || (k === "mailFolders" ? [] : o.values[k]))) change[k] = v;
    }
    $("opt-saved").hidden = true;
    if (!Object.keys(change).length) { $("opt-saved").hidden = false; return; }
    if (await act_("options", change, "/ui/options")) $("opt-saved").hidden = false;
  });
  $("act-vp-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const pw = $("act-vp-pass").value;
    // Cleared at once: the page keeps no password either.
    $("act-vp-pass").value = "";
    act_("vantagepoint", { username: $("act-vp-user").value, password: pw }, "/ui/activate/vantagepoint");
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

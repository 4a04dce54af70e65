/*
 * vpconnect's Outlook add-in: the page around the pane's logic (pane.js).
 * It only draws the state and forwards the user's clicks.
 */
(function () {
  "use strict";

  const $ = function (id) {
    return document.getElementById(id);
  };

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k];
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c) e.appendChild(c);
    });
    return e;
  }

  const LABELS = { contact: "Contact", project: "Project", opportunity: "Opportunity", firm: "Firm" };

  // Contacts and firms have 32-hex-digit keys nobody reads; projects and
  // opportunities have numbers people know.
  function opaque(id) {
    return /^[0-9A-Fa-f]{32}$/.test(id);
  }

  function describe(rec) {
    if (!rec) return "";
    if (!rec.name) return rec.id;
    return opaque(rec.id) ? rec.name : rec.name + " (" + rec.id + ")";
  }

  function start(Office) {
    const P = window.VPPane;
    const config = window.VPCONNECT_CONFIG || {};
    let pane = null;

    function render(s) {
      $("agent").textContent = P.agentLine(s);
      $("pair").hidden = s.agent !== "unpaired";
      $("subject").textContent = mailbox.subject() || "(no subject)";
      const st = $("status");
      st.textContent = P.statusLine(s.email);
      st.className = "status " + s.email.status;

      const filed = s.email.status === "filed";
      const choice = $("choice");
      choice.textContent = "";
      P.KINDS.forEach(function (k) {
        const rec = s.choice[k];
        choice.appendChild(
          el("li", { "data-kind": k }, [
            el("span", { class: "kind", text: LABELS[k] }),
            el("span", { class: "what", text: rec ? describe(rec) : "\u2014", title: rec ? rec.id : "" }),
            rec && !filed ? el("button", { type: "button", class: "link", text: "Remove", onclick: function () { pane.clear(k); } }) : null,
          ])
        );
      });
      const savedKinds = P.KINDS.filter(function (k) { return s.saved[k]; });
      const changed = P.KINDS.some(function (k) {
        return (s.saved[k] && s.saved[k].id) !== (s.choice[k] && s.choice[k].id);
      });
      $("saved").textContent = savedKinds.length
        ? (changed ? "Changed: Track saves the new choice. " : "") + "Saved on this e-mail: " +
          savedKinds.map(function (k) { return LABELS[k].toLowerCase() + " " + describe(s.saved[k]); }).join(", ") + "."
        : changed ? "Track saves this choice on the e-mail." : "Nothing chosen: the agent links the first correspondent that is a Vantagepoint contact.";

      const paired = s.agent === "paired";
      $("suggest-section").hidden = !paired || filed || (s.suggestions.contacts.length === 0 && s.suggestions.projects.length === 0);
      const sug = $("suggest");
      sug.textContent = "";
      s.suggestions.contacts.forEach(function (c) {
        sug.appendChild(item("contact", c, c.name, [c.title, c.firm && c.firm.name, c.email].filter(Boolean).join(" \u00b7 ")));
      });
      s.suggestions.projects.forEach(function (p) {
        sug.appendChild(item("project", p, p.name, "Project " + p.id + (p.detail ? " \u00b7 " + p.detail : "")));
      });
      $("search-section").hidden = !paired || filed;
      const res = $("results");
      res.textContent = "";
      if (s.results) {
        if (s.results.items.length === 0) res.appendChild(el("li", { text: "No match for \u201c" + s.results.q + "\u201d." }));
        s.results.items.forEach(function (m) {
          res.appendChild(item(m.type, m, m.name, m.id + (m.detail ? " \u00b7 " + m.detail : "")));
        });
      }
      $("manual-section").hidden = paired || filed;

      $("error").hidden = !s.error;
      $("error").textContent = s.error;
      $("note").hidden = !s.note;
      $("note").textContent = s.note;
      const track = $("track");
      track.hidden = filed;
      track.disabled = !!s.busy;
      track.textContent = s.busy === "track" ? "Tracking\u2026" : s.email.status === "not-tracked" ? "Track in Vantagepoint" : "Save choice";
      $("untrack").hidden = s.email.status === "not-tracked";
      $("untrack").disabled = !!s.busy;
      document.body.setAttribute("data-agent", s.agent);
      document.body.setAttribute("data-status", s.email.status);
      document.body.setAttribute("data-busy", s.busy || "");
    }

    function item(kind, rec, name, detail) {
      return el("li", {}, [
        el("span", { class: "what" }, [el("span", { text: name || rec.id }), el("span", { class: "detail", text: detail })]),
        el("button", { type: "button", text: "Use", onclick: function () { pane.choose(kind, rec); } }),
      ]);
    }

    const mailbox = P.createMailbox(Office);
    const agent = P.createAgent({ fetch: window.fetch.bind(window), storage: window.localStorage, config: config });
    pane = P.createPane({ mailbox: mailbox, agent: agent, config: config, render: render });
    window.vpPane = pane; // for support: the state in the browser's console

    $("pair").addEventListener("click", function () { pane.pair(); });
    $("track").addEventListener("click", function () { pane.track(); });
    $("untrack").addEventListener("click", function () { pane.untrack(); });
    $("search-form").addEventListener("submit", function (e) {
      e.preventDefault();
      pane.search($("search-type").value, $("search-q").value);
    });
    $("manual-form").addEventListener("submit", function (e) {
      e.preventDefault();
      pane.choose("project", { id: $("manual-project").value, name: "" });
      $("manual-project").value = "";
    });
    // Outlook keeps a pinned pane open across messages; this one is not
    // pinnable, so the item never changes under it.
    pane.start();
  }

  if (window.Office && typeof window.Office.onReady === "function") {
    window.Office.onReady(function () {
      start(window.Office);
    });
  } else {
    document.addEventListener("DOMContentLoaded", function () {
      const e = document.getElementById("agent");
      if (e) e.textContent = "Office.js did not load: open this page from Outlook.";
    });
  }
})();

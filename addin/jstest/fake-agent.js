// A stand-in for the agent's loopback API (docs/behaviour.md §5.3) behind a fetch
// function: only its port answers; the others fail as a closed port (or a
// browser's Local Network Access block) does, with a TypeError.
"use strict";

function createFakeAgent(opts) {
  const port = opts.port || 48613;
  const state = {
    tokens: new Set(opts.tokens || []),
    pairings: {},
    tracks: {},
    requests: [],
    reachable: opts.reachable !== false,
    approveAfter: opts.approveAfter || 1,
    trackAfter: opts.trackAfter === undefined ? 1 : opts.trackAfter,
    cards: opts.cards || {},
    search: opts.search || {},
  };
  function json(status, body) {
    return Promise.resolve({ status: status, json: () => Promise.resolve(body) });
  }
  async function fetchFn(url, init) {
    const u = new URL(url);
    if (!state.reachable || u.hostname !== "127.0.0.1" || Number(u.port) !== port) throw new TypeError("Failed to fetch");
    const path = u.pathname.replace(/^\/v1/, "");
    const auth = (init.headers && init.headers.Authorization) || "";
    state.requests.push({ method: init.method, path: path + u.search, body: init.body ? JSON.parse(init.body) : undefined, auth: auth });
    if (path === "/hello") return json(200, { product: "vpconnect", version: "1.4.0", instance: "inst-1" });
    if (path === "/pair" && init.method === "POST") {
      const id = "p" + Object.keys(state.pairings).length;
      state.pairings[id] = { id: id, code: "123-456", status: "pending", asks: 0 };
      return json(202, { id: id, status: "pending", code: "123-456" });
    }
    if (path.startsWith("/pair/")) {
      const p = state.pairings[path.slice(6)];
      if (!p) return json(404, { error: { code: "not_found", message: "no such pairing request" } });
      p.asks++;
      if (opts.deny) { delete state.pairings[p.id]; return json(200, { id: p.id, status: "denied", code: p.code }); }
      if (p.asks >= state.approveAfter) {
        delete state.pairings[p.id];
        state.tokens.add("tok-" + p.id);
        return json(200, { id: p.id, status: "approved", code: p.code, token: "tok-" + p.id });
      }
      return json(200, { id: p.id, status: "pending", code: p.code });
    }
    if (!state.tokens.has(auth.replace(/^Bearer /, ""))) return json(401, { error: { code: "unauthorized", message: "a valid bearer token is needed" } });
    if (path === "/status") return json(200, { state: opts.issues ? "With Issues" : "Active", openIssues: opts.issues || [] });
    if (path === "/lookup") {
      const card = state.cards[u.searchParams.get("email")];
      return card ? json(200, card) : json(404, { error: { code: "not_found", message: "no Vantagepoint contact has this address" } });
    }
    if (path === "/search") return json(200, { results: state.search[u.searchParams.get("type") + ":" + u.searchParams.get("q")] || [] });
    if (path === "/track" && init.method === "POST") {
      const req = JSON.parse(init.body);
      state.tracks[req.messageId] = { req: req, asks: 0 };
      return json(202, { messageId: req.messageId, state: "queued" });
    }
    if (path === "/untrack" && init.method === "POST") {
      const id = JSON.parse(init.body).messageId;
      const t = state.tracks[id];
      if (!t) return json(404, { error: { code: "not_found", message: "this message was not tracked" } });
      if (t.filed) return json(200, { messageId: id, state: "synced", activityId: "ACT-1" });
      delete state.tracks[id];
      return json(200, { messageId: id, state: "untracked" });
    }
    if (path.startsWith("/track/")) {
      const t = state.tracks[decodeURIComponent(path.slice(7))];
      if (!t) return json(404, { error: { code: "not_found", message: "this message was not tracked" } });
      t.asks++;
      if (opts.trackFails) return json(200, { messageId: t.req.messageId, state: "failed", reason: opts.trackFails });
      if (t.asks > state.trackAfter) return json(200, { messageId: t.req.messageId, state: "synced", activityId: "ACT-1" });
      return json(200, { messageId: t.req.messageId, state: "queued" });
    }
    return json(404, { error: { code: "not_found", message: "no such endpoint" } });
  }
  return { fetch: fetchFn, state: state };
}

function memoryStorage(init) {
  const m = Object.assign({}, init || {});
  return {
    getItem: (k) => (k in m ? m[k] : null),
    setItem: (k, v) => { m[k] = String(v); },
    removeItem: (k) => { delete m[k]; },
    data: m,
  };
}

module.exports = { createFakeAgent, memoryStorage };

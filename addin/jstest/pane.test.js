// Unit tests of the task pane's logic (web/pane.js) with Node's built-in
// test runner, a stand-in Office.js and a stand-in agent:
//   node --test addin/jstest
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const P = require("../web/pane.js");
const { createOffice } = require("./fake-office.js");
const { createFakeAgent, memoryStorage } = require("./fake-agent.js");

const CARD = {
  contactId: "C-ALICE",
  name: "Alice Ng",
  email: "alice@fabrikam.com",
  title: "Architect",
  firm: { type: "firm", id: "F-FABRIKAM", name: "Fabrikam" },
  recentActivities: [],
  projects: [{ type: "project", id: "2026001.00", name: "Harbour bridge" }],
};

function setup(o) {
  o = o || {};
  const office = createOffice(o.office || {});
  const fake = createFakeAgent(Object.assign({ port: 48615, cards: { "alice@fabrikam.com": CARD } }, o.agent || {}));
  const storage = memoryStorage(o.storage);
  const renders = [];
  const pane = P.createPane({
    mailbox: P.createMailbox(office.Office),
    agent: P.createAgent({ fetch: fake.fetch, storage: storage }),
    render: (s) => renders.push(JSON.parse(JSON.stringify(s))),
    sleep: () => Promise.resolve(),
  });
  return { office, fake, storage, pane, renders };
}

const paired = { storage: { "vpconnect.token.inst-1": "tok-saved" }, agent: { tokens: ["tok-saved"] } };

test("unreachable agent: one line, and Track sets the choice then the category", async () => {
  const t = setup({ agent: { reachable: false } });
  await t.pane.start();
  assert.equal(t.pane.state.agent, "unreachable");
  assert.match(P.agentLine(t.pane.state), /cannot be reached.*tracking still works through your mailbox/);
  assert.equal(P.agentLine(t.pane.state).split("\n").length, 1);
  assert.equal(t.pane.state.email.status, "not-tracked");

  t.pane.choose("project", { id: " 2026001.00 ", name: "" });
  await t.pane.track();
  assert.deepEqual(t.office.message.categories, ["Vantagepoint"]);
  assert.equal(t.office.message.props.project, "2026001.00");
  assert.equal(t.office.message.props.savedBy, "vpconnect add-in");
  assert.equal(t.pane.state.email.status, "waiting");
  assert.match(t.pane.state.note, /next sync/);
  assert.equal(t.fake.state.requests.length, 0, "nothing reached the agent");
});

test("the choice is saved before the category is set", async () => {
  const t = setup({ agent: { reachable: false } });
  await t.pane.start();
  const order = [];
  const item = t.office.Office.context.mailbox.item;
  const add = item.categories.addAsync;
  item.categories.addAsync = (n, cb) => { order.push("category"); add(n, cb); };
  const load = item.loadCustomPropertiesAsync;
  item.loadCustomPropertiesAsync = (cb) => load((r) => {
    const save = r.value.saveAsync;
    r.value.saveAsync = (cb2) => { order.push("choice"); save(cb2); };
    cb(r);
  });
  t.pane.choose("contact", { id: "C-BOB", name: "Bob" });
  await t.pane.track();
  assert.deepEqual(order, ["choice", "category"]);
});

test("a category missing from the master list is reported, not hidden", async () => {
  const t = setup({ agent: { reachable: false }, office: { master: ["Blue"] } });
  await t.pane.start();
  await t.pane.track();
  assert.match(t.pane.state.error, /did not set the .Vantagepoint. category.*agent creates it/);
  assert.equal(t.pane.state.busy, "");
  assert.deepEqual(t.office.message.categories, []);
});

test("the saved choice is shown and can be corrected before filing", async () => {
  const t = setup({
    agent: { reachable: false },
    office: { categories: ["Vantagepoint"], props: { project: "2026001.00", projectName: "Harbour bridge", savedBy: "vpconnect add-in" } },
  });
  await t.pane.start();
  assert.equal(t.pane.state.email.status, "waiting");
  assert.deepEqual(t.pane.state.saved, { project: { id: "2026001.00", name: "Harbour bridge" } });
  t.pane.choose("project", { id: "2026002.00", name: "Ferry terminal" });
  await t.pane.track();
  assert.equal(t.office.message.props.project, "2026002.00");
  assert.equal(t.office.message.props.projectName, "Ferry terminal");
  assert.deepEqual(t.office.message.categories, ["Vantagepoint"], "the category is not set twice");
});

test("long names are dropped to stay under Office.js's 2,500 characters; ids never", () => {
  const long = "x".repeat(3000);
  const props = P.choiceProps({ project: { id: "P-1", name: long }, contact: { id: "C-1", name: long } });
  assert.ok(JSON.stringify(props).length <= P.MAX_PROPS);
  assert.equal(props.project, "P-1");
  assert.equal(props.contact, "C-1");
  const many = {};
  P.KINDS.forEach((k) => (many[k] = { id: k.toUpperCase(), name: "n".repeat(700) }));
  const p2 = P.choiceProps(many);
  assert.ok(JSON.stringify(p2).length <= P.MAX_PROPS);
  P.KINDS.forEach((k) => assert.equal(p2[k], k.toUpperCase()));
});

test("paired agent: status, suggestions from the correspondents, and filing at once", async () => {
  const t = setup(Object.assign({}, paired, {
    office: { cc: [{ displayName: "Bob", emailAddress: "bob@unknown.com" }, { displayName: "Me", emailAddress: "DANA@contoso.com" }] },
  }));
  await t.pane.start();
  assert.equal(t.pane.state.agent, "paired");
  assert.match(P.agentLine(t.pane.state), /Connected to the agent \(1\.4\.0\)/);
  // It found the agent on the third port, and looked up everyone but the user.
  const lookups = t.fake.state.requests.filter((r) => r.path.startsWith("/lookup")).map((r) => r.path);
  assert.deepEqual(lookups.sort(), ["/lookup?email=alice%40fabrikam.com", "/lookup?email=bob%40unknown.com"]);
  assert.deepEqual(t.pane.state.suggestions.contacts.map((c) => c.id), ["C-ALICE"]);
  assert.deepEqual(t.pane.state.suggestions.projects, [{ id: "2026001.00", name: "Harbour bridge", detail: "" }]);

  // Picking the suggested contact brings its firm.
  t.pane.choose("contact", t.pane.state.suggestions.contacts[0]);
  t.pane.choose("project", t.pane.state.suggestions.projects[0]);
  assert.deepEqual(Object.keys(t.pane.state.choice).sort(), ["contact", "firm", "project"]);

  await t.pane.track();
  const track = t.fake.state.requests.find((r) => r.path === "/track" && r.method === "POST");
  assert.deepEqual(track.body, { messageId: "AAMkAGI2TG93AAA=", contact: "C-ALICE", project: "2026001.00", firm: "F-FABRIKAM" });
  assert.equal(track.auth, "Bearer tok-saved");
  assert.deepEqual(t.pane.state.email, { status: "filed", activityId: "ACT-1" });
  assert.equal(P.statusLine(t.pane.state.email), "Filed in Vantagepoint as activity ACT-1.");
  // The mailbox has the choice too, for any other computer's agent.
  assert.equal(t.office.message.props.project, "2026001.00");
  assert.ok(t.office.message.categories.includes("Vantagepoint"));
});

test("paired agent: a failed filing shows the agent's reason", async () => {
  const t = setup(Object.assign({}, paired, { agent: { tokens: ["tok-saved"], trackFails: "the project \"X\" chosen for this e-mail does not exist in Vantagepoint" } }));
  await t.pane.start();
  t.pane.choose("project", { id: "X" });
  await t.pane.track();
  assert.equal(t.pane.state.email.status, "error");
  assert.match(P.statusLine(t.pane.state.email), /^Not filed: the project "X"/);
});

test("search asks the agent and lists the matches", async () => {
  const t = setup(Object.assign({}, paired, {
    agent: { tokens: ["tok-saved"], search: { "project:harb": [{ type: "project", id: "2026001.00", name: "Harbour bridge" }] } },
  }));
  await t.pane.start();
  await t.pane.search("project", " harb ");
  assert.equal(t.pane.state.results.items.length, 1);
  assert.ok(t.fake.state.requests.some((r) => r.path === "/search?type=project&q=harb"));
  await t.pane.search("project", "nothing");
  assert.deepEqual(t.pane.state.results.items, []);
});

test("a revoked token is forgotten and the pane offers pairing", async () => {
  const t = setup({ storage: { "vpconnect.token.inst-1": "tok-revoked" }, agent: { tokens: [] } });
  await t.pane.start();
  assert.equal(t.pane.state.agent, "unpaired");
  assert.equal(t.storage.getItem("vpconnect.token.inst-1"), null);
});

test("pairing from the pane: the code is shown, then the token is kept", async () => {
  const t = setup({ agent: { approveAfter: 3 } });
  await t.pane.start();
  assert.equal(t.pane.state.agent, "unpaired");
  await t.pane.pair();
  assert.ok(t.renders.some((s) => s.agent === "pairing" && s.pairing.code === "123-456"), "the code was shown while waiting");
  assert.match(P.agentLine(t.renders.find((s) => s.agent === "pairing")), /enter code 123-456 on the vpconnect Sync Options page/);
  assert.equal(t.pane.state.agent, "paired");
  assert.equal(t.storage.getItem("vpconnect.token.inst-1"), "tok-p0");
  assert.equal(t.pane.state.suggestions.contacts.length, 1, "suggestions come once paired");
});

test("pairing denied", async () => {
  const t = setup({ agent: { deny: true } });
  await t.pane.start();
  await t.pane.pair();
  assert.equal(t.pane.state.agent, "unpaired");
  assert.match(t.pane.state.error, /denied/);
  assert.equal(t.storage.getItem("vpconnect.token.inst-1"), null);
});

test("untrack before filing removes the category and the choice", async () => {
  const t = setup({
    agent: { reachable: false },
    office: { categories: ["Blue", "Vantagepoint", "Vantagepoint: Sync Error"], props: { project: "P-1", savedBy: "vpconnect add-in", other: "kept" } },
  });
  await t.pane.start();
  assert.equal(t.pane.state.email.status, "error");
  await t.pane.untrack();
  assert.deepEqual(t.office.message.categories, ["Blue"]);
  assert.deepEqual(t.office.message.props, { other: "kept" });
  assert.equal(t.pane.state.email.status, "not-tracked");
});

test("untrack after filing changes nothing and says where the activity is", async () => {
  const t = setup(Object.assign({}, paired, { office: { categories: ["Vantagepoint", "Vantagepoint: Synced"], props: { project: "P-1" } } }));
  t.fake.state.tracks["AAMkAGI2TG93AAA="] = { req: { messageId: "AAMkAGI2TG93AAA=" }, asks: 5 };
  await t.pane.start();
  assert.deepEqual(t.pane.state.email, { status: "filed", activityId: "ACT-1" });
  await t.pane.untrack();
  assert.match(t.pane.state.note, /Already filed as activity ACT-1 in Vantagepoint; change or delete it there/);
  assert.deepEqual(t.office.message.categories, ["Vantagepoint", "Vantagepoint: Synced"]);
  assert.equal(t.office.message.props.project, "P-1");
});

test("untrack withdraws the agent's request before it is filed", async () => {
  const t = setup(Object.assign({}, paired, { office: { categories: ["Vantagepoint", "Vantagepoint: Sync Error"], props: { project: "P-1" } } }));
  t.fake.state.tracks["AAMkAGI2TG93AAA="] = { req: { messageId: "AAMkAGI2TG93AAA=" }, asks: 0 };
  await t.pane.start();
  await t.pane.untrack();
  assert.ok(t.fake.state.requests.some((r) => r.method === "POST" && r.path === "/untrack" && r.body.messageId === "AAMkAGI2TG93AAA="));
  assert.equal(t.fake.state.tracks["AAMkAGI2TG93AAA="], undefined, "the agent no longer holds the request");
  assert.deepEqual(t.office.message.categories, []);
  assert.equal(t.pane.state.email.status, "not-tracked");
});

test("untrack that finds the e-mail filed meanwhile keeps it and says where", async () => {
  const t = setup(Object.assign({}, paired, { office: { categories: ["Vantagepoint"], props: { project: "P-1" } } }));
  t.fake.state.tracks["AAMkAGI2TG93AAA="] = { req: { messageId: "AAMkAGI2TG93AAA=" }, asks: 0, filed: true };
  await t.pane.start();
  await t.pane.untrack();
  assert.equal(t.pane.state.email.status, "filed");
  assert.match(t.pane.state.note, /Already filed as activity ACT-1/);
  assert.deepEqual(t.office.message.categories, ["Vantagepoint"], "a filed e-mail keeps its category");
});

test("status from the categories alone", () => {
  const c = P.DEFAULTS;
  assert.equal(P.statusFromCategories([], c).status, "not-tracked");
  assert.equal(P.statusFromCategories(["vantagepoint"], c).status, "waiting");
  assert.equal(P.statusFromCategories(["Vantagepoint", "Vantagepoint: Sync Error"], c).status, "error");
  assert.equal(P.statusFromCategories(["Vantagepoint", "Vantagepoint: Synced"], c).status, "filed");
});

test("paired agent: an e-mail tracked through the mailbox that failed shows the agent's reason", async () => {
  const t = setup({
    storage: paired.storage,
    office: { categories: ["Vantagepoint", "Vantagepoint: Sync Error"], props: { project: "1999999.99" } },
    agent: {
      tokens: ["tok-saved"],
      issues: [
        { type: "emails", side: "vantagepoint", item: "Other <other@x>", reason: "not this one" },
        { type: "emails", side: "vantagepoint", item: "Drawings rev B <drawings-rev-b@fabrikam.com>",
          reason: "the project \"1999999.99\" chosen for this e-mail does not exist in Vantagepoint; choose another in the Outlook add-in" },
      ],
    },
  });
  await t.pane.start();
  assert.equal(t.pane.state.email.status, "error");
  assert.match(P.statusLine(t.pane.state.email), /^Not filed: the project "1999999.99" chosen for this e-mail does not exist/);
});

// A stand-in for Office.js in Outlook's read mode, for the end-to-end test.
// The item is a message of the simulated mailbox: what the pane writes goes
// there through the test server, as Office.js writes to Exchange:
// categories (only those of the master list, as Office.Categories.addAsync
// requires, else InvalidCategory) and the add-in's custom properties (the
// simulator stores them as [MS-OXCEXT] 2.2.5 says and refuses more than
// 2,500 characters, as CustomProperties.saveAsync does).
(function () {
  "use strict";
  const id = new URLSearchParams(location.search).get("item");
  const ok = (value) => ({ status: "succeeded", value: value });
  const failed = (name, message) => ({ status: "failed", error: { name: name, message: message, code: 9000 } });

  async function post(path, body) {
    const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const j = await r.json();
    return r.ok ? ok(j) : failed(j.name || "GenericResponseError", j.message || "failed");
  }
  async function state() {
    const r = await fetch("/standin/item?id=" + encodeURIComponent(id));
    return r.json();
  }
  function later(cb, p) {
    p.then(cb, (e) => cb(failed("GenericResponseError", String(e))));
  }

  function makeItem(s) {
    return {
      itemId: s.itemId,
      internetMessageId: s.internetMessageId,
      subject: s.subject,
      from: s.from,
      to: s.to,
      cc: s.cc,
      categories: {
        getAsync: (cb) => later(cb, state().then((x) => ok(x.categories.length ? x.categories.map((c) => ({ displayName: c, color: "Preset0" })) : null))),
        addAsync: (names, cb) => later(cb, post("/standin/categories", { id: id, add: names })),
        removeAsync: (names, cb) => later(cb, post("/standin/categories", { id: id, remove: names })),
      },
      loadCustomPropertiesAsync: (cb) =>
        later(cb, state().then((x) => {
          const working = Object.assign({}, x.props || {});
          return ok({
            get: (k) => working[k],
            getAll: () => Object.assign({}, working),
            set: (k, v) => { working[k] = v; },
            remove: (k) => { delete working[k]; },
            saveAsync: (cb2) => later(cb2, post("/standin/props", { id: id, props: working })),
          });
        })),
    };
  }

  window.Office = {
    context: { mailbox: { item: null, userProfile: null } },
    onReady: function (cb) {
      state().then((s) => {
        window.Office.context.mailbox.item = makeItem(s);
        window.Office.context.mailbox.userProfile = { emailAddress: s.me, displayName: s.meName };
        cb({ host: "Outlook", platform: "OfficeOnline" });
      });
    },
  };
})();

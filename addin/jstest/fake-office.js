// A stand-in for Office.js's Outlook read-mode item, strict where Office.js
// is documented to be:
// - item.categories.addAsync takes only categories of the mailbox's master
//   list ("Each category must be in the categories master list", error
//   InvalidCategory) - Office.Categories, Mailbox 1.8;
// - CustomProperties.saveAsync refuses more than 2,500 characters of JSON
//   (Office.CustomProperties; [MS-OXCEXT] 2.2.5);
// - callbacks come asynchronously, with an AsyncResult {status, value, error}.
"use strict";

function later(cb, result) {
  setTimeout(function () { cb(result); }, 0);
}
const ok = (value) => ({ status: "succeeded", value: value });
const failed = (name, message) => ({ status: "failed", error: { name: name, message: message, code: 9000 } });

function createOffice(opts) {
  const msg = {
    itemId: opts.itemId || "AAMkAGI2TG93AAA=",
    internetMessageId: opts.internetMessageId || "<drawings-rev-b@fabrikam.com>",
    subject: opts.subject || "Drawings rev B",
    from: opts.from || { displayName: "Alice Ng", emailAddress: "alice@fabrikam.com" },
    to: opts.to || [{ displayName: "Dana", emailAddress: "dana@contoso.com" }],
    cc: opts.cc || [],
    categories: (opts.categories || []).slice(),
    props: Object.assign({}, opts.props || {}),
  };
  const master = (opts.master || ["Vantagepoint", "Vantagepoint: Synced", "Vantagepoint: Sync Error"]).slice();
  const saves = [];
  const item = {
    itemId: msg.itemId,
    internetMessageId: msg.internetMessageId,
    subject: msg.subject,
    from: msg.from,
    to: msg.to,
    cc: msg.cc,
    categories: {
      getAsync: function (cb) {
        later(cb, ok(msg.categories.length ? msg.categories.map((c) => ({ displayName: c, color: "Preset0" })) : null));
      },
      addAsync: function (names, cb) {
        if (!names.every((n) => master.includes(n))) return later(cb, failed("InvalidCategory", "Invalid categories were provided."));
        names.forEach((n) => { if (!msg.categories.includes(n)) msg.categories.push(n); });
        later(cb, ok());
      },
      removeAsync: function (names, cb) {
        msg.categories = msg.categories.filter((c) => !names.includes(c));
        later(cb, ok());
      },
    },
    loadCustomPropertiesAsync: function (cb) {
      const working = Object.assign({}, msg.props);
      const props = {
        get: (k) => working[k],
        getAll: () => Object.assign({}, working),
        set: (k, v) => { working[k] = v; },
        remove: (k) => { delete working[k]; },
        saveAsync: function (cb2) {
          const json = JSON.stringify(working);
          if (json.length > 2500) return later(cb2, failed("GenericResponseError", "The custom properties exceed 2,500 characters."));
          msg.props = Object.assign({}, working);
          saves.push(json);
          later(cb2, ok());
        },
      };
      later(cb, ok(props));
    },
  };
  return {
    Office: { context: { mailbox: { item: item, userProfile: { emailAddress: opts.me || "dana@contoso.com", displayName: "Dana" } } } },
    message: msg,
    saves: saves,
  };
}

module.exports = { createOffice };

/*
 * vpconnect's Outlook add-in: the task pane's logic, apart from the page.
 *
 * It tracks an e-mail in two ways (docs/behaviour.md §4.1, 5.3):
 * - through the mailbox, always: the chosen records are saved as the add-in's
 *   custom properties and the category is set, with Office.js; the agent reads
 *   both through Microsoft Graph at its next sync, on any computer where it
 *   runs;
 * - through the paired agent's loopback API, when the browser lets this page
 *   reach http://127.0.0.1 (Local Network Access): the e-mail's status,
 *   suggestions from the correspondents, search, and filing at once.
 *
 * Runs in the browser (window.VPPane) and under Node's test runner
 * (module.exports), with Office.js, fetch, storage and the clock passed in.
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) {
    module.exports = factory();
  } else {
    root.VPPane = factory();
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  // The records a choice can name; the agent reads exactly these names from
  // the custom properties (syncer.ParseAddinProperties). The display names
  // are kept beside them, under <kind>Name, for the pane alone.
  const KINDS = ["contact", "project", "opportunity", "firm"];
  // Office.js saves at most 2,500 characters of custom properties
  // (Office.CustomProperties; [MS-OXCEXT] 2.2.5).
  const MAX_PROPS = 2500;
  const MAX_NAME = 80;
  const MAX_LOOKUPS = 5;

  const DEFAULTS = {
    category: "Vantagepoint",
    syncedCategory: "Vantagepoint: Synced",
    errorCategory: "Vantagepoint: Sync Error",
    port: 48613,
    ports: 20,
  };

  // ---- Office.js, as promises --------------------------------------------

  function officeError(r) {
    const e = new Error((r && r.error && r.error.message) || "Outlook refused the request");
    e.code = r && r.error && (r.error.name || r.error.code);
    return e;
  }

  function officeCall(start) {
    return new Promise(function (resolve, reject) {
      start(function (r) {
        if (r && r.status === "succeeded") resolve(r.value);
        else reject(officeError(r));
      });
    });
  }

  function address(a) {
    return a && typeof a.emailAddress === "string" ? a.emailAddress.trim().toLowerCase() : "";
  }

  // createMailbox wraps the item Office.js opened the pane for.
  function createMailbox(Office) {
    const mailbox = Office.context.mailbox;
    const item = mailbox.item;
    return {
      itemId: function () {
        return item.itemId;
      },
      subject: function () {
        return item.subject || "";
      },
      // internetMessageId names the e-mail in the agent's issues list.
      internetMessageId: function () {
        return item.internetMessageId || "";
      },
      // correspondents are from, to and cc without the user, each once.
      correspondents: function () {
        const me = address(mailbox.userProfile);
        const seen = {};
        const out = [];
        [item.from].concat(item.to || [], item.cc || []).forEach(function (a) {
          const e = address(a);
          if (e && e !== me && !seen[e]) {
            seen[e] = true;
            out.push({ email: e, name: (a.displayName || "").trim() });
          }
        });
        return out;
      },
      categories: function () {
        return officeCall(function (cb) {
          item.categories.getAsync(cb);
        }).then(function (v) {
          // Some Outlook versions answer null when there are none.
          return (v || []).map(function (c) {
            return typeof c === "string" ? c : c.displayName;
          });
        });
      },
      addCategory: function (name) {
        return officeCall(function (cb) {
          item.categories.addAsync([name], cb);
        });
      },
      removeCategories: function (names) {
        return officeCall(function (cb) {
          item.categories.removeAsync(names, cb);
        });
      },
      // loadChoice reads what the add-in saved on the message.
      loadChoice: function () {
        return officeCall(function (cb) {
          item.loadCustomPropertiesAsync(cb);
        }).then(function (props) {
          const all = (props.getAll && props.getAll()) || {};
          const choice = {};
          KINDS.forEach(function (k) {
            if (typeof all[k] === "string" && all[k] !== "") {
              choice[k] = { id: all[k], name: typeof all[k + "Name"] === "string" ? all[k + "Name"] : "" };
            }
          });
          return choice;
        });
      },
      // saveChoice replaces the saved choice (null removes it).
      saveChoice: function (choice) {
        return officeCall(function (cb) {
          item.loadCustomPropertiesAsync(cb);
        }).then(function (props) {
          KINDS.forEach(function (k) {
            props.remove(k);
            props.remove(k + "Name");
          });
          props.remove("savedBy");
          if (choice) {
            const flat = choiceProps(choice);
            Object.keys(flat).forEach(function (k) {
              props.set(k, flat[k]);
            });
          }
          return officeCall(function (cb) {
            props.saveAsync(cb);
          });
        });
      },
    };
  }

  // choiceProps is the JSON object saved as custom properties, kept under
  // Office.js's 2,500 characters by shortening display names, never ids.
  function choiceProps(choice) {
    const out = {};
    KINDS.forEach(function (k) {
      if (choice[k] && choice[k].id) {
        out[k] = String(choice[k].id);
        if (choice[k].name) out[k + "Name"] = String(choice[k].name).slice(0, MAX_NAME);
      }
    });
    out.savedBy = "vpconnect add-in";
    if (JSON.stringify(out).length > MAX_PROPS) {
      KINDS.forEach(function (k) {
        delete out[k + "Name"];
      });
    }
    return out;
  }

  // ---- The agent's loopback API -----------------------------------------

  function createAgent(opts) {
    const fetchFn = opts.fetch;
    const storage = opts.storage;
    const config = Object.assign({}, DEFAULTS, opts.config || {});
    const timeoutMs = opts.timeoutMs || 2000;
    let base = null;
    let token = null;
    let hello = null;

    function tokenKey() {
      return "vpconnect.token." + hello.instance;
    }

    async function call(method, path, body, withToken, url) {
      const headers = {};
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (withToken && token) headers.Authorization = "Bearer " + token;
      const ctl = typeof AbortController === "function" ? new AbortController() : null;
      const timer = ctl ? setTimeout(function () { ctl.abort(); }, timeoutMs) : null;
      try {
        const resp = await fetchFn((url || base) + path, {
          method: method,
          headers: headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: ctl ? ctl.signal : undefined,
          credentials: "omit",
          cache: "no-store",
        });
        let json = null;
        try {
          json = await resp.json();
        } catch (e) {
          json = null;
        }
        if (resp.status === 401 && withToken) forget();
        return { status: resp.status, json: json };
      } finally {
        if (timer) clearTimeout(timer);
      }
    }

    function forget() {
      token = null;
      if (hello && storage) storage.removeItem(tokenKey());
    }

    function apiError(r, what) {
      const msg = r.json && r.json.error && r.json.error.message;
      const e = new Error(msg ? what + ": " + msg : what + " (HTTP " + r.status + ")");
      e.status = r.status;
      e.code = r.json && r.json.error && r.json.error.code;
      return e;
    }

    return {
      // find looks for the agent on its port and the 19 after it (a shared
      // host gives each user's agent the next free one), all at once; the
      // lowest answering port wins, as the agent takes the lowest free one.
      // It answers null when none can be reached, which is also what a
      // browser's Local Network Access block looks like.
      find: async function () {
        const tries = [];
        for (let i = 0; i < config.ports; i++) {
          const url = "http://127.0.0.1:" + (config.port + i) + "/v1";
          tries.push(
            call("GET", "/hello", undefined, false, url).then(
              function (r) {
                return r.status === 200 && r.json && r.json.product === "vpconnect" ? { url: url, hello: r.json } : null;
              },
              function () {
                return null;
              }
            )
          );
        }
        const found = (await Promise.all(tries)).filter(Boolean);
        if (found.length === 0) return null;
        base = found[0].url;
        hello = found[0].hello;
        token = (storage && storage.getItem(tokenKey())) || null;
        return hello;
      },
      paired: function () {
        return !!token;
      },
      // check confirms the saved token still works (the user may have
      // revoked it); a refused one is forgotten.
      check: async function () {
        if (!token) return false;
        const r = await call("GET", "/status", undefined, true);
        return r.status === 200;
      },
      // status is the agent's status (docs/behaviour.md §5.3), with its open issues.
      status: async function () {
        const r = await call("GET", "/status", undefined, true);
        if (r.status !== 200) throw apiError(r, "Could not read the agent's status");
        return r.json;
      },
      pair: async function (name) {
        const r = await call("POST", "/pair", { name: name }, false);
        if (r.status !== 202 && r.status !== 200) throw apiError(r, "The agent refused to pair");
        return r.json;
      },
      // pairStatus asks once; the token comes with the first answer after
      // approval and is kept for this agent.
      pairStatus: async function (id) {
        const r = await call("GET", "/pair/" + encodeURIComponent(id), undefined, false);
        if (r.status === 404) return { status: "expired" };
        if (r.status !== 200) throw apiError(r, "Could not ask the agent about the pairing");
        if (r.json.status === "approved" && r.json.token) {
          token = r.json.token;
          if (storage) storage.setItem(tokenKey(), token);
        }
        return r.json;
      },
      lookup: async function (email) {
        const r = await call("GET", "/lookup?email=" + encodeURIComponent(email), undefined, true);
        if (r.status === 404) return null;
        if (r.status !== 200) throw apiError(r, "Look-up failed");
        return r.json;
      },
      search: async function (type, q) {
        const r = await call("GET", "/search?type=" + encodeURIComponent(type) + "&q=" + encodeURIComponent(q), undefined, true);
        if (r.status !== 200) throw apiError(r, "Search failed");
        return (r.json && r.json.results) || [];
      },
      track: async function (req) {
        const r = await call("POST", "/track", req, true);
        if (r.status !== 202) throw apiError(r, "The agent did not take the e-mail");
        return r.json;
      },
      // untrack withdraws a request the agent has not filed yet; one filed
      // answers its activity.
      untrack: async function (messageId) {
        const r = await call("POST", "/untrack", { messageId: messageId }, true);
        if (r.status === 404) return null;
        if (r.status !== 200) throw apiError(r, "The agent did not withdraw the e-mail");
        return r.json;
      },
      trackStatus: async function (messageId) {
        const r = await call("GET", "/track/" + encodeURIComponent(messageId), undefined, true);
        if (r.status === 404) return null;
        if (r.status !== 200) throw apiError(r, "Could not ask the agent about this e-mail");
        return r.json;
      },
      version: function () {
        return hello ? hello.version : "";
      },
    };
  }

  // ---- The pane ----------------------------------------------------------

  function hasCategory(cats, name) {
    return cats.some(function (c) {
      return String(c).trim().toLowerCase() === name.toLowerCase();
    });
  }

  // statusFromCategories is what the message's own categories say, which
  // the pane can always read, agent or not.
  function statusFromCategories(cats, config) {
    const has = function (name) {
      return hasCategory(cats, name);
    };
    if (has(config.syncedCategory)) return { status: "filed" };
    if (has(config.errorCategory)) return { status: "error", reason: "" };
    if (has(config.category)) return { status: "waiting" };
    return { status: "not-tracked" };
  }

  function createPane(opts) {
    const mailbox = opts.mailbox;
    const agent = opts.agent;
    const config = Object.assign({}, DEFAULTS, opts.config || {});
    const render = opts.render || function () {};
    const sleep = opts.sleep || function (ms) {
      return new Promise(function (r) { setTimeout(r, ms); });
    };
    const pollMs = opts.pollMs || 500;
    const trackWaitMs = opts.trackWaitMs || 10000;
    const pairWaitMs = opts.pairWaitMs || 10 * 60 * 1000;

    const state = {
      // agent: searching, unreachable, unpaired, pairing, paired
      agent: "searching",
      agentVersion: "",
      pairing: null, // { id, code }
      email: { status: "not-tracked" },
      categories: [],
      // saved is what the add-in saved on the message; choice is what the
      // user is choosing now (saved on Track).
      saved: {},
      choice: {},
      suggestions: { contacts: [], projects: [] },
      results: null, // { type, q, items }
      busy: "",
      note: "",
      error: "",
    };

    function show() {
      render(state);
    }

    function fail(e) {
      state.error = (e && e.message) || String(e);
      state.busy = "";
      show();
    }

    async function readMessage() {
      state.categories = await mailbox.categories();
      state.email = statusFromCategories(state.categories, config);
      state.saved = await mailbox.loadChoice();
      state.choice = Object.assign({}, state.saved);
    }

    async function refreshStatus() {
      if (state.agent !== "paired") return;
      const t = await agent.trackStatus(mailbox.itemId());
      if (t && t.state === "synced") state.email = { status: "filed", activityId: t.activityId || "" };
      else if (t && t.state === "failed") state.email = { status: "error", reason: t.reason || "" };
      else if (t && t.state === "queued") state.email = { status: "waiting" };
      if (state.email.status === "error" && !state.email.reason) {
        // Tracked through the mailbox: the agent's issues list has the
        // reason, under the e-mail's subject and Internet Message-ID.
        const imid = mailbox.internetMessageId();
        const st = imid ? await agent.status().catch(function () { return null; }) : null;
        const issue = ((st && st.openIssues) || []).find(function (i) {
          return i.type === "emails" && typeof i.item === "string" && i.item.slice(-imid.length - 1) === " " + imid;
        });
        if (issue) state.email.reason = issue.reason;
      }
    }

    // suggest looks the correspondents up in Vantagepoint: their contact
    // cards, and the projects those contacts are on.
    async function suggest() {
      if (state.agent !== "paired") return;
      const people = mailbox.correspondents().slice(0, MAX_LOOKUPS);
      const cards = await Promise.all(
        people.map(function (p) {
          return agent.lookup(p.email).catch(function () {
            return null;
          });
        })
      );
      const contacts = [];
      const projects = [];
      const seenProject = {};
      cards.forEach(function (c) {
        if (!c) return;
        contacts.push({ id: c.contactId, name: c.name, email: c.email, title: c.title || "", firm: c.firm || null });
        (c.projects || []).forEach(function (p) {
          if (!seenProject[p.id]) {
            seenProject[p.id] = true;
            projects.push({ id: p.id, name: p.name, detail: p.detail || "" });
          }
        });
      });
      state.suggestions = { contacts: contacts, projects: projects };
    }

    async function connected() {
      state.agent = "paired";
      state.agentVersion = agent.version();
      state.pairing = null;
      await refreshStatus();
      await suggest();
    }

    const pane = {
      state: state,

      start: async function () {
        try {
          await readMessage();
        } catch (e) {
          return fail(e);
        }
        show();
        let hello = null;
        try {
          hello = await agent.find();
        } catch (e) {
          hello = null;
        }
        if (!hello) {
          state.agent = "unreachable";
          return show();
        }
        state.agentVersion = hello.version || "";
        try {
          if (agent.paired() && (await agent.check())) {
            await connected();
          } else {
            state.agent = "unpaired";
          }
        } catch (e) {
          state.agent = "unreachable";
        }
        show();
      },

      // choose puts a record into the choice; a contact brings its firm.
      choose: function (kind, rec) {
        if (KINDS.indexOf(kind) < 0 || !rec || !String(rec.id || "").trim()) return;
        state.choice[kind] = { id: String(rec.id).trim(), name: rec.name || "" };
        if (kind === "contact" && rec.firm && rec.firm.id && !state.choice.firm) {
          state.choice.firm = { id: rec.firm.id, name: rec.firm.name || "" };
        }
        show();
      },

      clear: function (kind) {
        delete state.choice[kind];
        show();
      },

      search: async function (type, q) {
        q = String(q || "").trim();
        if (!q || state.agent !== "paired") return;
        state.busy = "search";
        show();
        try {
          state.results = { type: type, q: q, items: await agent.search(type, q) };
          state.error = "";
        } catch (e) {
          return fail(e);
        }
        state.busy = "";
        show();
      },

      // track saves the choice and sets the category, and with the agent in
      // reach also files at once and waits for the activity.
      track: async function () {
        if (state.email.status === "filed") return;
        state.busy = "track";
        state.error = "";
        show();
        try {
          // The choice first: an agent that saw the category without it
          // would file the e-mail without the records.
          await mailbox.saveChoice(state.choice);
          state.saved = Object.assign({}, state.choice);
          if (!hasCategory(state.categories, config.category)) {
            try {
              await mailbox.addCategory(config.category);
            } catch (e) {
              throw new Error(
                "Outlook did not set the \u201c" + config.category + "\u201d category (" + e.message +
                  "). The agent creates it in your mailbox when it is first activated."
              );
            }
            state.categories = state.categories.concat([config.category]);
          }
          state.email = { status: "waiting" };
        } catch (e) {
          return fail(e);
        }
        if (state.agent !== "paired") {
          state.note = "Tracked through your mailbox: the agent files it at its next sync, on any computer where it runs.";
          state.busy = "";
          return show();
        }
        show();
        try {
          const req = { messageId: mailbox.itemId() };
          KINDS.forEach(function (k) {
            if (state.choice[k]) req[k] = state.choice[k].id;
          });
          await agent.track(req);
          for (let waited = 0; waited <= trackWaitMs; waited += pollMs) {
            await refreshStatus();
            if (state.email.status === "filed" || state.email.status === "error") break;
            show();
            await sleep(pollMs);
          }
          state.note = state.email.status === "waiting" ? "The agent has it and files it shortly." : "";
        } catch (e) {
          // The mailbox has it: the agent files it at its next sync anyway.
          state.note = "The agent did not answer; the e-mail is tracked through your mailbox and is filed at the next sync.";
        }
        state.busy = "";
        show();
      },

      // untrack removes the category and the choice before the e-mail is
      // filed; after, an activity is a business record and stays.
      untrack: async function () {
        if (state.email.status === "filed") {
          state.note = state.email.activityId
            ? "Already filed as activity " + state.email.activityId + " in Vantagepoint; change or delete it there."
            : "Already filed in Vantagepoint; change or delete the activity there.";
          return show();
        }
        state.busy = "untrack";
        show();
        try {
          const drop = state.categories.filter(function (c) {
            const l = String(c).toLowerCase();
            return l === config.category.toLowerCase() || l === config.errorCategory.toLowerCase();
          });
          // The agent first, when in reach: a request it already holds
          // (sent with Track, perhaps refused and waiting to be retried)
          // is withdrawn there, or it says the e-mail was filed meanwhile.
          if (agent.paired()) {
            let answer = null;
            try {
              answer = await agent.untrack(mailbox.itemId());
            } catch (e) {
              answer = null; // not in reach: the mailbox is what counts
            }
            if (answer && answer.state === "synced") {
              state.email = { status: "filed", activityId: answer.activityId };
              state.busy = "";
              state.note = "Already filed as activity " + answer.activityId + " in Vantagepoint; change or delete it there.";
              return show();
            }
          }
          if (drop.length) await mailbox.removeCategories(drop);
          await mailbox.saveChoice(null);
          state.categories = state.categories.filter(function (c) {
            return drop.indexOf(c) < 0;
          });
          state.saved = {};
          state.choice = {};
          state.email = { status: "not-tracked" };
          state.note = "No longer tracked.";
          state.error = "";
        } catch (e) {
          return fail(e);
        }
        state.busy = "";
        show();
      },

      // pair asks the agent for a token; the user approves by typing the
      // code the pane shows on the Sync Options page (the agent tells it to
      // nobody else, so a request another program made cannot be mistaken
      // for the add-in's).
      pair: async function () {
        try {
          const p = await agent.pair("Outlook add-in");
          state.agent = "pairing";
          state.pairing = { id: p.id, code: p.code };
          state.error = "";
          show();
          for (let waited = 0; waited <= pairWaitMs; waited += 1000) {
            if (p.status !== "approved") await sleep(1000);
            const s = await agent.pairStatus(p.id);
            if (s.status === "approved" && agent.paired()) {
              await connected();
              return show();
            }
            if (s.status === "denied" || s.status === "expired") {
              state.agent = "unpaired";
              state.pairing = null;
              state.error = s.status === "denied" ? "The connection was denied." : "The request expired; try again.";
              return show();
            }
            p.status = s.status;
          }
          state.agent = "unpaired";
          state.pairing = null;
          show();
        } catch (e) {
          state.agent = state.agent === "pairing" ? "unpaired" : state.agent;
          fail(e);
        }
      },

      refresh: async function () {
        try {
          await readMessage();
          await refreshStatus();
        } catch (e) {
          return fail(e);
        }
        show();
      },
    };
    return pane;
  }

  // agentLine is the one line about the agent.
  function agentLine(state) {
    switch (state.agent) {
      case "searching":
        return "Looking for the Vantagepoint agent on this computer\u2026";
      case "unreachable":
        return "The agent cannot be reached from Outlook here; tracking still works through your mailbox.";
      case "unpaired":
        return "The agent is running on this computer. Connect to see suggestions and file at once.";
      case "pairing":
        return "To connect, enter code " + (state.pairing ? state.pairing.code : "") + " on the vpconnect Sync Options page (open it from the tray menu).";
      case "paired":
        return "Connected to the agent" + (state.agentVersion ? " (" + state.agentVersion + ")" : "") + ".";
    }
    return "";
  }

  // statusLine says where the e-mail stands.
  function statusLine(email) {
    switch (email.status) {
      case "filed":
        return email.activityId ? "Filed in Vantagepoint as activity " + email.activityId + "." : "Filed in Vantagepoint.";
      case "waiting":
        return "Tracked: waiting for the agent to file it.";
      case "error":
        return "Not filed: " + (email.reason || "the agent reported an error; it retries at the next sync.");
    }
    return "Not tracked.";
  }

  return {
    KINDS: KINDS,
    MAX_PROPS: MAX_PROPS,
    DEFAULTS: DEFAULTS,
    createMailbox: createMailbox,
    createAgent: createAgent,
    createPane: createPane,
    choiceProps: choiceProps,
    statusFromCategories: statusFromCategories,
    agentLine: agentLine,
    statusLine: statusLine,
  };
});

// The sandbox inbox: live refresh of the page's live region, search as you type, and the admin actions.
// Plain JavaScript, no dependencies. The only HTML ever inserted is the server's own (escaped) fragment.
"use strict";

(() => {
  const POLL_MS = 1000;
  const live = document.querySelector("[data-live]");
  const status = document.getElementById("live-status");

  function setStatus(state, text) {
    if (!status || status.dataset.state === state) return;
    status.dataset.state = state;
    status.querySelector(".text").textContent = text;
  }

  let busy = false;
  async function refresh() {
    if (!live || busy) return;
    busy = true;
    try {
      const url = new URL(window.location.href);
      url.searchParams.set("partial", "1");
      const answer = await fetch(url, { cache: "no-store", headers: { Accept: "text/html" } });
      if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
      const version = answer.headers.get("x-live-version");
      if (version !== live.dataset.version) {
        const html = await answer.text();
        const focused = document.activeElement;
        const focusedId = focused && live.contains(focused) ? focused.id : "";
        live.innerHTML = html; // the server's fragment: every value in it is HTML-escaped
        live.dataset.version = version;
        if (focusedId) document.getElementById(focusedId)?.focus();
      }
      setStatus("live", "Live");
    } catch (error) {
      setStatus("down", "Sandbox not answering");
    } finally {
      busy = false;
    }
  }

  if (live) {
    setStatus("live", "Live");
    window.setInterval(() => {
      if (!document.hidden) refresh();
    }, POLL_MS);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) refresh();
    });
  }

  // Search as you type (the form still works without JavaScript).
  const search = document.querySelector("form[data-search]");
  if (search) {
    const input = search.querySelector('input[name="q"]');
    let timer = 0;
    const apply = () => {
      const url = new URL(window.location.href);
      if (input.value.trim()) url.searchParams.set("q", input.value);
      else url.searchParams.delete("q");
      window.history.replaceState(null, "", url);
      refresh();
    };
    input.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(apply, 200);
    });
    search.addEventListener("submit", (event) => {
      event.preventDefault();
      apply();
    });
  }

  // What an admin action answered, in words.
  const DONE = {
    inbound: (data) =>
      `SMS ${data.response_id} received` +
      (data.message_id ? ` (a reply to message ${data.message_id})` : "") +
      (data.is_optout ? ": the number is now opted out." : "."),
    credit: (data) => `Balance now ${data.balance}.`,
    advance: (data) => `Sandbox time is now ${data.now} UTC.`,
    reset: () => "The sandbox is back to its start.",
    "link-hit": (data) => `Link opened (${data.link_hits} hit${data.link_hits === 1 ? "" : "s"}).`,
    chaos: (data) => {
      const on = ["over_limit", "server_error", "drop_before", "drop_after", "slow"].filter((name) => data[name] > 0);
      return on.length ? `Chaos on: ${on.join(", ")}.` : "Chaos off.";
    },
  };

  async function submitAdmin(form) {
    const out = form.querySelector("[data-form-status]");
    const body = {};
    for (const [name, value] of new FormData(form)) {
      if (value !== "") body[name] = value;
    }
    if (form.dataset.busy) return; // not `disabled`: that would throw the keyboard focus away
    form.dataset.busy = "1";
    form.setAttribute("aria-busy", "true");
    out.dataset.state = "busy";
    out.textContent = "Sending…";
    try {
      const answer = await fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        // A same-origin JSON POST: what the sandbox's same-site rules require of admin requests.
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      });
      const data = await answer.json().catch(() => ({}));
      if (!answer.ok) {
        out.dataset.state = "error";
        out.textContent = `Refused: ${data.error || data.detail || `HTTP ${answer.status}`}`;
        return;
      }
      out.dataset.state = "ok";
      out.textContent = (DONE[form.dataset.admin] || (() => "Done."))(data);
      for (const area of form.querySelectorAll("textarea")) area.value = "";
      refresh();
    } catch (error) {
      out.dataset.state = "error";
      out.textContent = "The sandbox did not answer.";
    } finally {
      delete form.dataset.busy;
      form.removeAttribute("aria-busy");
    }
  }

  // Delegated: forms inside the live region are replaced by refreshes.
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-admin]");
    if (!form) return;
    event.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    submitAdmin(form);
  });
  document.addEventListener("keydown", (event) => {
    const area = event.target.closest("form[data-admin] textarea");
    if (area && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      area.form.requestSubmit();
    }
  });
})();

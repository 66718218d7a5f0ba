/* The agent console's keyboard shortcuts and collision warning. Plain JavaScript, no dependencies.
 *
 * Queue (#result_list): j / k move the row focus, Enter opens the focused ticket.
 * Ticket page: r focuses the reply to the customer, n an internal note, e the escalate form.
 * Everywhere: ? opens the list of shortcuts, Esc closes it. Shortcuts are ignored while typing in a field.
 *
 * Ticket page (#console-presence[data-url]): every POLL seconds, and when the agent starts or stops
 * writing a reply, the page tells the server it is open ("viewing" / "replying") and shows who else
 * is ("Tina is viewing"). Before a reply is posted it asks whether anyone wrote since the page was
 * loaded, and if so shows the new messages and asks to confirm. The server checks the same again.
 */
(function () {
  "use strict";

  // The admin loads its JavaScript catalog (admin:jsi18n: Django's and LOCALE_PATHS' djangojs) on the
  // console's pages; elsewhere the English text stands.
  var gettext = window.gettext || function (text) { return text; };

  function typing(element) {
    if (!element || element === document.body) return false;
    if (element.isContentEditable) return true;
    var tag = element.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag !== "INPUT") return false;
    var kind = (element.getAttribute("type") || "text").toLowerCase();
    return ["checkbox", "radio", "button", "submit", "reset", "image", "file", "range", "color"].indexOf(kind) === -1;
  }

  // --- the ? overlay ------------------------------------------------------------------------

  function overlay() {
    var existing = document.getElementById("console-shortcuts");
    if (existing) return existing;
    // The queue has no overlay in its template: build the same list.
    var rows = [
      ["j / k", gettext("Next / previous ticket in the queue")],
      ["Enter", gettext("Open the ticket (queue)")],
      ["r", gettext("Reply to the customer")],
      ["n", gettext("Add an internal note")],
      ["e", gettext("Escalate")],
      ["?", gettext("Show this list")],
      ["Esc", gettext("Close it, or leave a field")]
    ];
    var box = document.createElement("div");
    box.id = "console-shortcuts";
    box.className = "console-shortcuts";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "true");
    box.setAttribute("aria-labelledby", "console-shortcuts-heading");
    box.hidden = true;
    var inner = document.createElement("div");
    inner.className = "console-shortcuts-box";
    var heading = document.createElement("h2");
    heading.id = "console-shortcuts-heading";
    heading.textContent = gettext("Keyboard shortcuts");
    inner.appendChild(heading);
    var list = document.createElement("dl");
    rows.forEach(function (row) {
      var term = document.createElement("dt");
      var key = document.createElement("kbd");
      key.textContent = row[0];
      term.appendChild(key);
      var description = document.createElement("dd");
      description.textContent = row[1];
      list.appendChild(term);
      list.appendChild(description);
    });
    inner.appendChild(list);
    var help = document.createElement("p");
    help.className = "help";
    help.textContent = gettext("Shortcuts do nothing while you type in a field.");
    inner.appendChild(help);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "button";
    close.setAttribute("data-console-shortcuts-close", "");
    close.textContent = gettext("Close");
    inner.appendChild(close);
    box.appendChild(inner);
    document.body.appendChild(box);
    return box;
  }

  var lastFocus = null;

  function openOverlay() {
    var box = overlay();
    lastFocus = document.activeElement;
    box.hidden = false;
    var close = box.querySelector("[data-console-shortcuts-close]");
    if (close) close.focus();
  }

  function closeOverlay() {
    var box = document.getElementById("console-shortcuts");
    if (!box || box.hidden) return false;
    box.hidden = true;
    if (lastFocus && lastFocus.focus) lastFocus.focus();
    return true;
  }

  // --- the queue: j / k / Enter ---------------------------------------------------------------

  function queueRows() {
    return Array.prototype.slice.call(document.querySelectorAll("#result_list tbody tr"));
  }

  function rowLink(row) {
    return row.querySelector("th a, td.field-reference a, a[href*='/change/']");
  }

  function moveRow(step) {
    var rows = queueRows();
    if (!rows.length) return false;
    var current = rows.findIndex(function (row) { return row.classList.contains("console-row-focus"); });
    var next = current === -1 ? (step > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, current + step));
    if (current !== -1) {
      rows[current].classList.remove("console-row-focus");
      rows[current].removeAttribute("aria-current");
    }
    var row = rows[next];
    row.classList.add("console-row-focus");
    row.setAttribute("aria-current", "true");
    var link = rowLink(row);
    if (link) link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
    return true;
  }

  function openRow() {
    var row = document.querySelector("#result_list tbody tr.console-row-focus");
    var link = row && rowLink(row);
    if (!link) return false;
    window.location.assign(link.href);
    return true;
  }

  // --- the ticket page: r / n / e ---------------------------------------------------------------

  function replyMode(note) {
    var form = document.getElementById("console-reply-form");
    if (!form) return false;
    var radio = document.getElementById(note ? "id_reply_mode_note" : "id_reply_mode_public");
    if (radio) radio.checked = true;
    var box = form.querySelector("textarea[name=body]");
    if (!box) return false;
    box.scrollIntoView({ block: "nearest" });
    box.focus();
    return true;
  }

  function escalate() {
    var form = document.getElementById("console-escalate-form");
    if (!form) return false;
    var field = form.querySelector("select, textarea");
    form.scrollIntoView({ block: "nearest" });
    if (field) field.focus();
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      if (closeOverlay()) event.preventDefault();
      return;
    }
    var box = document.getElementById("console-shortcuts");
    if (box && !box.hidden) return; // the overlay is open: only Esc and its button
    if (typing(event.target)) return;
    var done = false;
    switch (event.key) {
      case "?": openOverlay(); done = true; break;
      case "j": done = moveRow(1); break;
      case "k": done = moveRow(-1); break;
      case "Enter": done = openRow(); break;
      case "r": done = replyMode(false); break;
      case "n": done = replyMode(true); break;
      case "e": done = escalate(); break;
    }
    if (done) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    if (target.closest("[data-console-shortcuts]")) {
      openOverlay();
    } else if (target.closest("[data-console-shortcuts-close]") || target.id === "console-shortcuts") {
      closeOverlay();
    }
  });

  // --- presence and the collision warning --------------------------------------------------------

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function startPresence() {
    var shown = document.getElementById("console-presence");
    if (!shown || !shown.dataset.url) return;
    var url = shown.dataset.url;
    var form = document.getElementById("console-reply-form");
    var box = form && form.querySelector("textarea[name=body]");
    var seenField = form && form.querySelector("input[name=seen]");
    var warning = document.getElementById("console-collision");
    var pollMs = 10000;
    var state = "viewing";
    var timer = null;

    function seen() {
      return seenField ? seenField.value : shown.dataset.seen || "";
    }

    function render(others) {
      shown.textContent = "";
      others.forEach(function (other) {
        var item = document.createElement("span");
        item.className = "console-presence-who console-presence-" + (other.state === "replying" ? "replying" : "viewing");
        var template = other.state === "replying" ? shown.dataset.replying : shown.dataset.viewing;
        item.textContent = (template || "%(name)s").replace("%(name)s", other.name);
        shown.appendChild(item);
      });
    }

    function send(newState) {
      var body = new FormData();
      body.append("state", newState);
      body.append("seen", seen());
      body.append("csrfmiddlewaretoken", csrfToken());
      return fetch(url, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "XMLHttpRequest" }
      }).then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      }).then(function (data) {
        render(data.others || []);
        if (data.poll_seconds) pollMs = data.poll_seconds * 1000;
        return data;
      });
    }

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(function () {
        send(state).catch(function () {}).then(schedule);
      }, pollMs);
    }

    function setState(newState) {
      if (newState === state) return;
      state = newState;
      send(state).catch(function () {});
      schedule();
    }

    if (box) {
      box.addEventListener("input", function () {
        setState(box.value.trim() ? "replying" : "viewing");
      });
    }

    window.addEventListener("pagehide", function () {
      var body = new FormData();
      body.append("state", "gone");
      body.append("csrfmiddlewaretoken", csrfToken());
      if (navigator.sendBeacon) navigator.sendBeacon(url, body);
    });

    send(state).catch(function () {}).then(schedule);

    if (!form || !warning) return;

    function showNewer(newer, submitter) {
      warning.textContent = "";
      var lead = document.createElement("p");
      lead.textContent = warning.dataset.one;
      warning.appendChild(lead);
      newer.forEach(function (message) {
        var article = document.createElement("article");
        article.className = "console-message" + (message.internal ? " console-message-internal" : "");
        var header = document.createElement("header");
        header.className = "console-message-header";
        var author = document.createElement("strong");
        author.textContent = message.author;
        header.appendChild(author);
        var when = document.createElement("time");
        when.dateTime = message.at;
        when.textContent = new Date(message.at).toLocaleString();
        header.appendChild(when);
        var text = document.createElement("div");
        text.className = "console-message-body";
        text.textContent = message.body;
        article.appendChild(header);
        article.appendChild(text);
        warning.appendChild(article);
      });
      var newest = Math.max.apply(null, newer.map(function (message) { return message.id; }));
      var confirm = document.createElement("button");
      confirm.type = "button";
      confirm.className = "default console-collision-confirm";
      confirm.textContent = warning.dataset.confirm;
      confirm.addEventListener("click", function () {
        if (seenField) seenField.value = String(newest);
        warning.hidden = true;
        form.dataset.checked = "1";
        form.requestSubmit(submitter || undefined);
      });
      var cancel = document.createElement("button");
      cancel.type = "button";
      cancel.className = "button console-collision-cancel";
      cancel.textContent = warning.dataset.cancel;
      cancel.addEventListener("click", function () {
        warning.hidden = true;
        if (box) box.focus();
      });
      warning.appendChild(confirm);
      warning.appendChild(document.createTextNode(" "));
      warning.appendChild(cancel);
      warning.hidden = false;
      warning.scrollIntoView({ block: "nearest" });
      confirm.focus();
    }

    form.addEventListener("submit", function (event) {
      if (form.dataset.checked === "1") {
        delete form.dataset.checked;
        return; // checked: post it
      }
      event.preventDefault();
      var submitter = event.submitter || null;
      send("replying").then(function (data) {
        var newer = data.newer || [];
        if (newer.length) {
          showNewer(newer, submitter);
        } else {
          form.dataset.checked = "1";
          form.requestSubmit(submitter || undefined);
        }
      }).catch(function () {
        // The check failed (network): post anyway, the server asks again if someone wrote.
        form.dataset.checked = "1";
        form.requestSubmit(submitter || undefined);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startPresence);
  } else {
    startPresence();
  }
})();

/* The console's chat queue, live over /ws/chat/queue/ (chat/queue.py): the socket sends the queue on joining,
   then each change; rows are added, moved and removed in place, the wait ticks every second, and a new
   waiting chat is announced to screen readers. While the socket cannot connect the page reloads once a
   minute (as it did before it was live). Everything shown goes through textContent. */
(function () {
  "use strict";
  var root = document.querySelector(".chat-queue-page[data-socket]");
  if (!root) return;
  // The admin's JavaScript catalog (admin:jsi18n, loaded by the page) gives these; English without it.
  var gettext = window.gettext || function (text) { return text; };
  var ngettext = window.ngettext || function (one, many, n) { return n === 1 ? one : many; };
  var interpolate = window.interpolate || function (format, values) {
    return format.replace(/%\((\w+)\)s/g, function (_, name) { return String(values[name]); });
  };
  var RELOAD_AFTER = 60000;
  var me = Number(root.dataset.me);
  var table = root.querySelector(".chat-queue"), tbody = table.querySelector("tbody");
  var nobody = root.querySelector(".chat-nobody"), rowTemplate = document.getElementById("chat-queue-row");
  var mine = root.querySelector(".chat-mine"), mineNone = root.querySelector(".chat-mine-none");
  var announcer = root.querySelector(".chat-announce"), liveStatus = root.querySelector(".chat-live-status");
  var opening = root.querySelector(".chat-opening");
  var skew = Date.parse(root.dataset.now) - Date.now() || 0;  // the server's clock minus this browser's
  var reloadTimer = null, tries = 0;

  function url(pattern, id) { return pattern.replace("/0/", "/" + id + "/"); }

  function waited(since) {
    var s = Math.max(0, Math.floor((Date.now() + skew - Date.parse(since)) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(sec).padStart(2, "0");
  }

  function tick() {
    tbody.querySelectorAll(".chat-wait[data-since]").forEach(function (cell) { cell.textContent = waited(cell.dataset.since); });
  }

  function clock(iso) {
    return new Date(iso).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false});
  }

  function announce(text) {
    announcer.textContent = "";
    setTimeout(function () { announcer.textContent = text; }, 50);  // a change, even for the same words
  }

  function arrivesAfter(tr, chat) {
    var since = Date.parse(tr.querySelector(".chat-wait").dataset.since);
    var at = Date.parse(chat.since);
    return since > at || (since === at && Number(tr.dataset.chat) > chat.id);
  }

  function emptyStates() {
    var waiting = tbody.querySelectorAll("tr").length;
    table.hidden = waiting === 0; nobody.hidden = waiting !== 0;
    var own = mine.querySelectorAll("li").length;
    mine.hidden = own === 0; mineNone.hidden = own !== 0;
    root.dataset.waiting = String(waiting);
  }

  function waitingRow(chat) {
    var tr = tbody.querySelector('tr[data-chat="' + chat.id + '"]'), fresh = !tr;
    if (fresh) { tr = rowTemplate.content.firstElementChild.cloneNode(true); tr.dataset.chat = chat.id; }
    var time = tr.querySelector(".chat-arrived time");
    time.dateTime = chat.since; time.textContent = clock(chat.since);
    var wait = tr.querySelector(".chat-wait");
    wait.dataset.since = chat.since; wait.textContent = waited(chat.since);
    tr.querySelector(".chat-customer").textContent = chat.customer;
    tr.querySelector(".chat-tier").textContent = chat.tier;
    tr.querySelector(".chat-first").textContent = chat.first;
    tr.querySelector("form").action = url(root.dataset.accept, chat.id);
    tr.querySelector("a").href = url(root.dataset.chat, chat.id);
    var before = null;  // first come, first served: by arrival, then by number
    tbody.querySelectorAll("tr").forEach(function (other) { if (!before && other !== tr && arrivesAfter(other, chat)) before = other; });
    tbody.insertBefore(tr, before);
    return fresh;
  }

  function mineItem(chat) {
    var li = mine.querySelector('li[data-chat="' + chat.id + '"]');
    if (!li) {
      li = document.createElement("li"); li.dataset.chat = chat.id;
      li.appendChild(document.createElement("a")); mine.appendChild(li);
    }
    var a = li.querySelector("a");
    a.href = url(root.dataset.chat, chat.id); a.textContent = chat.ticket + " · " + chat.customer;
  }

  function remove(list, id) {
    var el = list.querySelector('[data-chat="' + id + '"]');
    if (el) el.remove();
  }

  /* Where a chat is now: waiting (in the table), active with me (my chats), or neither. True if newly waiting. */
  function place(chat) {
    var fresh = false;
    if (chat.state === "waiting") fresh = waitingRow(chat); else remove(tbody, chat.id);
    if (chat.state === "active" && chat.agent_id === me) mineItem(chat); else remove(mine, chat.id);
    return fresh;
  }

  function newlyWaiting(chats) {
    if (!chats.length) return;
    announce(chats.length === 1
      ? interpolate(gettext("New chat waiting: %(customer)s, tier %(tier)s."), {customer: chats[0].customer, tier: chats[0].tier}, true)
      : interpolate(ngettext("%(n)s new chat waiting.", "%(n)s new chats waiting.", chats.length), {n: chats.length}, true));
  }

  function showOpening(state) {
    opening.textContent = state.open
      ? interpolate(ngettext("The widget is open: %(n)s agent available.", "The widget is open: %(n)s agents available.", state.agents), {n: state.agents}, true)
      : state.in_hours
        ? gettext("The widget takes messages only: no agent is available.")
        : gettext("Outside business hours: the widget takes messages only.");
  }

  function showAvailable(available) {
    root.querySelector(".chat-available").hidden = !available;
    root.querySelector(".chat-away").hidden = available;
  }

  function onFrame(frame) {
    if (frame.type === "queue") {  // on (re)joining: the queue as it is now
      skew = Date.parse(frame.at) - Date.now();
      var waitingIds = {}, mineIds = {}, fresh = [];
      frame.waiting.forEach(function (chat) { waitingIds[chat.id] = true; if (place(chat)) fresh.push(chat); });
      frame.mine.forEach(function (chat) { mineIds[chat.id] = true; place(chat); });
      tbody.querySelectorAll("tr").forEach(function (tr) { if (!waitingIds[tr.dataset.chat]) tr.remove(); });
      mine.querySelectorAll("li").forEach(function (li) { if (!mineIds[li.dataset.chat]) li.remove(); });
      showOpening(frame.opening); showAvailable(frame.available);
      newlyWaiting(fresh);
    } else if (frame.type === "chat") {
      if (place(frame.chat)) newlyWaiting([frame.chat]);
    } else if (frame.type === "availability") {
      showOpening(frame.opening);
      if (frame.agent_id === me) showAvailable(frame.available);
    } else {
      return;
    }
    emptyStates();
  }

  function offline() {
    root.dataset.live = "closed";
    liveStatus.textContent = gettext("Live updates are off: the page reloads every minute until they are back.");
    if (!reloadTimer) reloadTimer = setTimeout(function () { location.reload(); }, RELOAD_AFTER);
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + root.dataset.socket);
    ws.onopen = function () {
      tries = 0; clearTimeout(reloadTimer); reloadTimer = null;
      root.dataset.live = "open"; liveStatus.textContent = gettext("Updating live.");
    };
    ws.onmessage = function (e) {
      var frame; try { frame = JSON.parse(e.data); } catch (err) { return; }
      onFrame(frame);
    };
    ws.onclose = function (e) {
      offline();
      if (e.code === 4403) return;  // signed out, or not an agent: the reload shows the login
      tries += 1;
      setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, tries)));
    };
  }

  emptyStates();
  tick();
  setInterval(tick, 1000);
  connect();
})();

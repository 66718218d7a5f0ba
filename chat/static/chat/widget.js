/* Live chat widget (portal, help centre): open or "leave a message" as /chat/status/ says. */
(function () {
  "use strict";
  var root = document.getElementById("chat-widget");
  if (!root || !window.fetch || !window.WebSocket) return;
  var strings = root.querySelector(".chat-strings").dataset;
  var panel = root.querySelector(".chat-panel"), toggle = root.querySelector(".chat-toggle");
  var startForm = root.querySelector(".chat-start"), live = root.querySelector(".chat-live");
  var log = root.querySelector(".chat-log"), stateLine = root.querySelector(".chat-state");
  var typing = root.querySelector(".chat-typing"), done = root.querySelector(".chat-done");
  var error = root.querySelector(".chat-error"), sayForm = root.querySelector(".chat-say");
  var csrf = "", open = false, socket = null, typingTimer = null, lastTypingSent = 0, readMark = 0;
  var STORE = "sofacover-chat";

  function show(el, on) { el.hidden = !on; }
  function labels(isOpen) {
    root.querySelectorAll(".chat-open-label").forEach(function (el) { show(el, isOpen); });
    root.querySelectorAll(".chat-closed-label").forEach(function (el) { show(el, !isOpen); });
  }
  toggle.addEventListener("click", function () {
    var expanded = panel.hidden; show(panel, expanded); toggle.setAttribute("aria-expanded", String(expanded));
  });

  function addLine(frame) {
    var li = document.createElement("li");
    li.dataset.id = frame.id;
    if (frame.side === "customer") li.className = "mine";
    var who = document.createElement("span"); who.className = "who";
    who.textContent = frame.side === "customer" ? strings.you : frame.author;
    var body = document.createElement("span"); body.className = "body"; body.textContent = frame.body;
    li.appendChild(who); li.appendChild(body); log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }
  function markRead(id) {
    log.querySelectorAll("li.mine").forEach(function (li) {
      if (Number(li.dataset.id) <= id && !li.querySelector(".seen")) {
        var s = document.createElement("span"); s.className = "seen"; s.textContent = strings.read; li.appendChild(s);
      }
    });
  }
  function onFrame(frame) {
    if (frame.type === "message") {
      addLine(frame); show(typing, false);
      if (frame.side === "agent" && frame.id > readMark) { readMark = frame.id; socket.send({type: "read", id: frame.id}); }
    } else if (frame.type === "typing") {
      show(typing, true); clearTimeout(typingTimer); typingTimer = setTimeout(function () { show(typing, false); }, 4000);
    } else if (frame.type === "read") { markRead(frame.id);
    } else if (frame.type === "state") {
      stateLine.textContent = strings[frame.state] || frame.state;
      if (frame.state === "ended") { sessionStorage.removeItem(STORE); show(sayForm, false); }
    } else if (frame.type === "error") { stateLine.textContent = frame.message; }
  }
  function joinChat(chat) {
    show(startForm, false); show(live, true); show(panel, true); toggle.setAttribute("aria-expanded", "true");
    socket = new window.ChatSocket(chat.socket, {
      token: chat.token, onframe: onFrame,
      onreconnecting: function () { stateLine.textContent = strings.reconnecting; },
      onclosed: function () { sessionStorage.removeItem(STORE); }
    });
  }
  sayForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var box = sayForm.elements.body, text = box.value.trim();
    if (text && socket.send({type: "message", body: text})) box.value = "";
  });
  sayForm.elements.body.addEventListener("input", function () {
    var now = Date.now(); if (now - lastTypingSent > 2000) { lastTypingSent = now; socket.send({type: "typing"}); }
  });
  root.querySelector(".chat-end").addEventListener("click", function () { socket.send({type: "end"}); });

  startForm.addEventListener("submit", function (e) {
    e.preventDefault(); error.textContent = "";
    var url = open ? root.dataset.startUrl : root.dataset.leaveUrl;
    fetch(url, {method: "POST", body: new FormData(startForm), credentials: "same-origin", headers: {"X-CSRFToken": csrf}})
      .then(function (r) { return r.json().then(function (data) { return {status: r.status, data: data}; }); })
      .then(function (res) {
        if (res.status === 201 && open) {
          sessionStorage.setItem(STORE, JSON.stringify(res.data)); joinChat(res.data);
        } else if (res.status === 201) {
          show(startForm, false); show(done, true); done.textContent = strings.left + " " + res.data.ticket + ".";
        } else {
          if (res.data.closed) { open = false; labels(false); }
          var errs = res.data.errors || {}; error.textContent = Object.keys(errs).map(function (k) { return errs[k].join(" "); }).join(" ");
        }
      });
  });

  fetch(root.dataset.statusUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (s) {
    csrf = s.csrf; open = s.open; labels(open); root.dataset.state = open ? "open" : "closed"; show(root, true);
    var saved = sessionStorage.getItem(STORE);
    if (saved) { try { joinChat(JSON.parse(saved)); } catch (err) { sessionStorage.removeItem(STORE); } }
  });
})();

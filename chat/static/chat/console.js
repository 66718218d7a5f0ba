/* The console's chat page: the conversation, whispers, typing, read marks, transfer, escalate, end. */
(function () {
  "use strict";
  var root = document.querySelector(".chat-console[data-socket]");
  if (!root) return;
  var inserts = JSON.parse(document.getElementById("chat-inserts").textContent);
  var log = root.querySelector(".chat-log"), typing = root.querySelector(".chat-typing");
  var stateLine = root.querySelector(".chat-state"), error = root.querySelector(".chat-error");
  var say = root.querySelector(".chat-say"), typingTimer = null, lastTypingSent = 0, readMark = 0;

  function onFrame(frame) {
    if (frame.type === "message") {
      var li = document.createElement("li");
      li.dataset.id = frame.id;
      if (frame.side === "agent") li.className = "mine";
      var who = document.createElement("span"); who.className = "who";
      who.textContent = (frame.internal ? "🔒 " : "") + frame.author;
      var body = document.createElement("span"); body.className = "body"; body.textContent = frame.body;
      li.appendChild(who); li.appendChild(body); log.appendChild(li); log.scrollTop = log.scrollHeight;
      typing.hidden = true;
      if (frame.side === "customer" && frame.id > readMark) { readMark = frame.id; socket.send({type: "read", id: frame.id}); }
    } else if (frame.type === "typing") {
      typing.hidden = false; clearTimeout(typingTimer); typingTimer = setTimeout(function () { typing.hidden = true; }, 4000);
    } else if (frame.type === "read") {
      log.querySelectorAll("li.mine").forEach(function (li) {
        if (Number(li.dataset.id) <= frame.id && !li.querySelector(".seen")) {
          var s = document.createElement("span"); s.className = "seen"; s.textContent = "✓"; li.appendChild(s);
        }
      });
    } else if (frame.type === "state") {
      stateLine.textContent = frame.state; root.dataset.state = frame.state;
      root.querySelector(".chat-accept").hidden = frame.state !== "waiting";
    } else if (frame.type === "error") { error.textContent = frame.message; }
  }
  var socket = new window.ChatSocket(root.dataset.socket, {onframe: onFrame});

  say.addEventListener("submit", function (e) {
    e.preventDefault(); error.textContent = "";
    var text = say.elements.body.value.trim();
    if (text && socket.send({type: "message", body: text, internal: say.elements.internal.checked})) say.elements.body.value = "";
  });
  say.elements.body.addEventListener("input", function () {
    var now = Date.now(); if (now - lastTypingSent > 2000) { lastTypingSent = now; socket.send({type: "typing"}); }
  });
  document.getElementById("chat-insert").addEventListener("change", function (e) {
    var v = e.target.value; if (!v) return;
    var item = (v[0] === "t" ? inserts.templates : inserts.articles)[Number(v.slice(1))];
    var box = say.elements.body; box.value = box.value ? box.value + "\n" + item.text : item.text; e.target.value = "";
  });
  root.querySelector(".chat-accept").addEventListener("click", function () { socket.send({type: "accept"}); });
  root.querySelector(".chat-transfer").addEventListener("click", function () {
    var agent = root.querySelector(".chat-transfer-agent").value, tier = root.querySelector(".chat-transfer-tier").value;
    socket.send(agent ? {type: "transfer", agent: Number(agent)} : {type: "transfer", tier: Number(tier)});
  });
  root.querySelector(".chat-escalate").addEventListener("click", function () {
    socket.send({type: "escalate", priority: root.querySelector(".chat-priority").value, category: root.querySelector(".chat-category").value});
  });
  root.querySelector(".chat-end").addEventListener("click", function () {
    var note = root.querySelector(".chat-resolve-note").value.trim();
    socket.send(note ? {type: "end", resolve_note: note} : {type: "end"});
  });
})();

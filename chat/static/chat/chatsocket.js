/* The chat's websocket for the widget and the console: never shows a line twice, and never goes on
   past a line it missed. Each line names the one its reader saw before it (prev); a line whose prev
   was not seen means one went missing (the server's channel layer delivers at most once, and a reply
   made on the ticket page is not sent to the chat), so the socket reconnects at once with the last id
   it has without a gap, and the server replays everything after it, in order. A dropped connection
   reconnects the same way. Everything it shows goes through textContent. */
(function () {
  "use strict";
  function ChatSocket(path, opts) {
    this.path = path; this.opts = opts; this.last = 0; this.seen = new Set(); this.tries = 0; this.closed = false;
    this.connect();
  }
  ChatSocket.prototype.connect = function () {
    var self = this;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var query = "?last=" + this.last + (this.opts.token ? "&token=" + encodeURIComponent(this.opts.token) : "");
    var ws = new WebSocket(scheme + location.host + this.path + query);
    this.ws = ws;
    ws.onopen = function () { self.tries = 0; if (self.opts.onopen) self.opts.onopen(); };
    ws.onmessage = function (e) {
      if (ws !== self.ws) return; // a socket being replaced: the replay brings what it still had
      var frame; try { frame = JSON.parse(e.data); } catch (err) { return; }
      if (frame.type === "message") {
        if (self.seen.has(frame.id)) return;
        if (frame.prev && !self.seen.has(frame.prev)) { self.resync(); return; }
        // last: the newest line with every line before it seen
        self.seen.add(frame.id); if (frame.id > self.last) self.last = frame.id;
      }
      self.opts.onframe(frame);
    };
    ws.onclose = function (e) {
      if (ws !== self.ws) return; // replaced (resync): its successor is already connecting
      if (self.closed || e.code === 4403 || e.code === 4404) { if (self.opts.onclosed) self.opts.onclosed(e.code); return; }
      if (self.opts.onreconnecting) self.opts.onreconnecting();
      self.tries += 1;
      setTimeout(function () { self.connect(); }, Math.min(10000, 500 * Math.pow(2, self.tries)));
    };
  };
  ChatSocket.prototype.resync = function () {
    var old = this.ws;
    this.connect(); // from the last line with none missing before it; frames still on the old socket are ignored
    old.close();
  };
  ChatSocket.prototype.send = function (frame) {
    if (this.ws && this.ws.readyState === 1) { this.ws.send(JSON.stringify(frame)); return true; }
    return false;
  };
  ChatSocket.prototype.close = function () { this.closed = true; if (this.ws) this.ws.close(); };
  window.ChatSocket = ChatSocket;
})();

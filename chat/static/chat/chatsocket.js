/* The chat's websocket for the widget and the console: reconnects with the last message id seen, so
   nothing is lost, and never shows a line twice. Everything it shows goes through textContent. */
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
      var frame; try { frame = JSON.parse(e.data); } catch (err) { return; }
      if (frame.type === "message") {
        if (self.seen.has(frame.id)) return;
        self.seen.add(frame.id); if (frame.id > self.last) self.last = frame.id;
      }
      self.opts.onframe(frame);
    };
    ws.onclose = function (e) {
      if (self.closed || e.code === 4403 || e.code === 4404) { if (self.opts.onclosed) self.opts.onclosed(e.code); return; }
      if (self.opts.onreconnecting) self.opts.onreconnecting();
      self.tries += 1;
      setTimeout(function () { self.connect(); }, Math.min(10000, 500 * Math.pow(2, self.tries)));
    };
  };
  ChatSocket.prototype.send = function (frame) {
    if (this.ws && this.ws.readyState === 1) { this.ws.send(JSON.stringify(frame)); return true; }
    return false;
  };
  ChatSocket.prototype.close = function () { this.closed = true; if (this.ws) this.ws.close(); };
  window.ChatSocket = ChatSocket;
})();

// The browser's time zone, for the server to show times in (sofacover/localtime.py reads the cookie):
// the default until the user saves a zone of their own. A year long; Lax, like the session cookie.
(function () {
  "use strict";
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone || !/^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) { return; }
  if (document.cookie.split("; ").indexOf("desk_tz=" + zone) !== -1) { return; }
  document.cookie = "desk_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax" +
    (location.protocol === "https:" ? "; Secure" : "");
})();

/* Help-centre suggestions while a customer types a ticket subject.
 *
 * Progressive enhancement only: without JavaScript the "Check for answers" button posts the form and the
 * page comes back with the same list. Here the list is fetched as server-rendered HTML (escaped on the
 * server, the same template) and swapped in; nothing from the response is executed. No inline script: CSP.
 */
(function () {
  "use strict";
  var panel = document.getElementById("kb-suggestions");
  var subject = document.getElementById("id_subject");
  if (!panel || !subject || !window.fetch || !window.DOMParser) {
    return;
  }
  var list = panel.querySelector(".kb-suggestions-list");
  var url = panel.getAttribute("data-suggest-url");
  var timer = null;
  var last = subject.value.trim();
  var controller = null;

  function show(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var nodes = Array.prototype.map.call(doc.body.childNodes, function (node) {
      return document.importNode(node, true);
    });
    list.replaceChildren.apply(list, nodes);
  }

  function lookUp() {
    var q = subject.value.trim();
    if (q === last) {
      return;
    }
    last = q;
    if (controller) {
      controller.abort();
    }
    controller = window.AbortController ? new AbortController() : null;
    fetch(url + "?q=" + encodeURIComponent(q), {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      signal: controller ? controller.signal : undefined
    })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null && subject.value.trim() === q) {
          show(html);
        }
      })
      .catch(function () {
        /* offline or aborted: the "Check for answers" button still works */
      });
  }

  subject.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(lookUp, 350);
  });
})();

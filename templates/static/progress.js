// CSVアップロード's progress (and 複数一括登録's): while an import is being committed, the status
// page asks for itself every 2 seconds and puts the new card in place of the old one, so the
// page never reloads (focus and a screen reader's place stay) and needs no refresh header. The
// card of the next state (完了, 取消, an error) ends the polling. Without scripts, a link
// shows the latest state.
(function () {
  'use strict';
  var card = document.querySelector('[data-progress]');
  if (!card || !window.fetch || !window.DOMParser) { return; }
  function poll() {
    fetch(location.pathname, { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(new Error(String(r.status))); })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, 'text/html').getElementById(card.id);
        if (!next) { location.reload(); return; }
        card.innerHTML = next.innerHTML;
        if (next.hasAttribute('data-progress')) {
          setTimeout(poll, 2000);
        } else {
          card.removeAttribute('data-progress');
        }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
}());

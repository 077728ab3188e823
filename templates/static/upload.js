// Document image upload: shrink the photo in the page (phones' large photos and HEIC become a
// JPEG under 4 MB), ask the server for a short-lived upload ticket, PUT the file straight to
// storage, then ask the server to verify it. The API never receives the image itself.
(function () {
  'use strict';
  var MAX = 4 * 1024 * 1024;
  var EDGE = 2400;

  function say(form, text, bad) {
    var s = form.querySelector('.upload-status');
    s.textContent = text;
    s.className = 'upload-status' + (bad ? ' bad' : '');
  }

  function post(url, csrf, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': csrf },
      body: body
    }).then(function (r) { return r.json().then(function (j) { j.httpOk = r.ok; return j; }); });
  }

  function toBlob(canvas, quality) {
    return new Promise(function (resolve) { canvas.toBlob(resolve, 'image/jpeg', quality); });
  }

  // Decode (the browser reads HEIC where the OS can), scale the long edge to EDGE at most,
  // re-encode as JPEG, lowering quality until it fits.
  async function shrink(file) {
    var bitmap = await createImageBitmap(file);
    var scale = Math.min(1, EDGE / Math.max(bitmap.width, bitmap.height));
    var canvas = document.createElement('canvas');
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    var ctx = canvas.getContext('2d');
    // JPEG has no transparency: a transparent PNG's see-through pixels would come out black
    // (unreadable text on a scanned card), so the image is painted on white paper.
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    for (var q = 0.9; q >= 0.4; q -= 0.1) {
      var blob = await toBlob(canvas, q);
      if (blob && blob.size <= MAX) { return blob; }
    }
    throw new Error('too large');
  }

  async function upload(form, file) {
    var csrf = form.getAttribute('data-csrf');
    say(form, '画像を準備しています…');
    var blob;
    try {
      blob = await shrink(file);
    } catch (e) {
      blob = file; // not decodable here: let the server's check decide
    }
    if (blob.size > MAX) { say(form, '画像のサイズが大きすぎます（4MBまで）。', true); return; }
    var type = blob.type || 'application/octet-stream';
    var ticket = await post(form.getAttribute('data-ticket'), csrf, 'content_type=' + encodeURIComponent(type));
    if (!ticket.httpOk) { say(form, ticket.error || 'アップロードできませんでした。', true); return; }
    say(form, 'アップロードしています…');
    var headers = {};
    ticket.headers.forEach(function (h) { headers[h[0]] = h[1]; });
    var put = await fetch(ticket.url, { method: ticket.method, headers: headers, body: blob });
    if (!put.ok) { say(form, 'アップロードに失敗しました。通信環境を確認して、もう一度お試しください。', true); return; }
    say(form, '画像を確認しています…');
    var done = await post(form.getAttribute('data-complete'), csrf, 'upload=' + encodeURIComponent(ticket.upload));
    if (!done.httpOk) { say(form, done.error || '画像を確認できませんでした。', true); return; }
    say(form, 'アップロードしました。');
    window.location.reload();
  }

  document.querySelectorAll('form.image-upload').forEach(function (form) {
    var input = form.querySelector('input[type=file]');
    input.addEventListener('change', function () {
      if (input.files && input.files[0]) {
        upload(form, input.files[0]).catch(function () {
          say(form, '通信に失敗しました。もう一度お試しください。', true);
        });
      }
    });
  });
})();

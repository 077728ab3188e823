// 契約者情報編集: 郵便番号から住所自動入力. Seven digits typed (or the button) fetch the shard of
// the postal table holding the code (/postal/<first 3 digits>) and fill 都道府県 and 市区町村;
// several 町域 for one code are offered as buttons. Without this script, or without the table,
// the address is typed by hand: nothing here is needed to save the form.
(function () {
  'use strict';
  var code = document.getElementById('postal_code');
  var pref = document.getElementById('prefecture');
  var addr = document.getElementById('address');
  var button = document.querySelector('.postal-lookup');
  var status = document.querySelector('.postal-status');
  if (!code || !pref || !addr || !button || !status) { return; }
  button.hidden = false;
  var shards = {};

  function digits(text) {
    // Full-width digits fold to ASCII; hyphens, spaces and 〒 are dropped.
    return text.replace(/[０-９]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) - 0xFEE0);
    }).replace(/[\s〒\-－ー‐−]/g, '');
  }

  function say(text) { status.textContent = text; }

  function fill(entry) {
    pref.value = entry[0];
    addr.value = entry[1] + entry[2];
    addr.focus();
    // The caret after the town: the 番地 is typed next.
    addr.setSelectionRange(addr.value.length, addr.value.length);
  }

  function offer(entries) {
    status.textContent = '町域を選んでください: ';
    entries.forEach(function (e) {
      var b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn btn-small postal-choice';
      b.textContent = e[1] + e[2];
      b.addEventListener('click', function () { fill(e); say(''); });
      status.appendChild(b);
    });
  }

  function shard(key) {
    if (!shards[key]) {
      shards[key] = fetch('/postal/' + key, { credentials: 'same-origin' }).then(function (r) {
        if (r.status === 404) { return {}; }
        if (!r.ok) { throw new Error('postal ' + r.status); }
        return r.json();
      });
      shards[key].catch(function () { delete shards[key]; });
    }
    return shards[key];
  }

  function lookup(byHand) {
    var d = digits(code.value);
    if (!/^\d{7}$/.test(d)) {
      if (byHand) { say('郵便番号を7桁の数字で入力してください。'); }
      return;
    }
    // Typing seven digits fills an empty address only; the button always fills.
    if (!byHand && addr.value.trim() !== '') { return; }
    say('住所を検索しています…');
    shard(d.slice(0, 3)).then(function (table) {
      var entries = table[d] || [];
      if (entries.length === 0) {
        say('この郵便番号の住所は見つかりませんでした。住所を直接入力してください。');
      } else if (entries.length === 1) {
        fill(entries[0]);
        say('住所を入力しました。番地・建物名を続けて入力してください。');
      } else {
        pref.value = entries[0][0];
        offer(entries);
      }
    }).catch(function () {
      say('住所を検索できませんでした。住所を直接入力してください。');
    });
  }

  button.addEventListener('click', function () { lookup(true); });
  code.addEventListener('input', function () { lookup(false); });
}());

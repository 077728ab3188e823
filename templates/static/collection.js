// Collection pages: 一括選択 of 属性 on the 簡易登録 grid, 全選択 on the send lists, and the
// print button of the QR sheet. The forms work without it.
(function () {
  'use strict';
  var bulk = document.querySelector('select.bulk-attribute');
  if (bulk) {
    bulk.addEventListener('change', function () {
      document.querySelectorAll('select.row-attribute').forEach(function (s) { s.value = bulk.value; });
    });
  }
  // 全選択 ticks or clears every row; 対象者 N名 and the 全選択 box follow the row ticks.
  document.querySelectorAll('input.select-all').forEach(function (all) {
    var form = all.closest('form');
    var boxes = form.querySelectorAll('input[name=ids]');
    var count = document.getElementById('target-count');
    function update() {
      var n = 0;
      boxes.forEach(function (c) { if (c.checked) { n += 1; } });
      if (count) { count.textContent = String(n); }
      all.checked = n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
    all.addEventListener('change', function () {
      boxes.forEach(function (c) { c.checked = all.checked; });
      update();
    });
    boxes.forEach(function (c) { c.addEventListener('change', update); });
    update();
  });
  document.querySelectorAll('.print-button').forEach(function (b) {
    b.addEventListener('click', function () { window.print(); });
  });
})();

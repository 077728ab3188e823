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
  document.querySelectorAll('input.select-all').forEach(function (all) {
    var form = all.closest('form');
    all.addEventListener('change', function () {
      form.querySelectorAll('input[name=ids]').forEach(function (c) { c.checked = all.checked; });
    });
  });
  document.querySelectorAll('.print-button').forEach(function (b) {
    b.addEventListener('click', function () { window.print(); });
  });
})();

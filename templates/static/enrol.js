// The three number boxes of the phone pages (4 + 4 + 4 digits of the My Number): the 4th digit
// typed moves on to the next box, 12 digits pasted into any box (with or without separators)
// spread over all three, Backspace in an empty box goes back. Nothing typed is ever dropped:
// digits that do not fit stay in the last box and the server refuses the length with its
// usual message. Without this script the boxes are plain inputs and the server joins them.
(function () {
  'use strict';
  var SIZE = 4;
  // What people put between groups: spaces (also full-width) and hyphen-like marks.
  var SEPARATORS = /[\s\u3000\-\u2010-\u2015\u2212\u30fc\uff0d]/g;

  function digitsOnly(text) {
    var compact = text.replace(SEPARATORS, '');
    // Full-width digits count as digits; the server folds them the same way.
    return /^[0-9\uff10-\uff19]+$/.test(compact) ? compact : null;
  }

  function caretToEnd(box) {
    box.focus();
    var end = box.value.length;
    try { box.setSelectionRange(end, end); } catch (e) { /* some input types refuse it */ }
  }

  // Puts `digits` into boxes[from…], SIZE each, the rest in the last box; focuses the box
  // where typing continues.
  function spread(boxes, from, digits) {
    var i = from;
    while (i < boxes.length - 1 && digits.length > SIZE) {
      boxes[i].value = digits.slice(0, SIZE);
      digits = digits.slice(SIZE) + boxes[i + 1].value.replace(SEPARATORS, '');
      i += 1;
    }
    boxes[i].value = digits;
    var next = boxes[i].value.length >= SIZE && i < boxes.length - 1 ? boxes[i + 1] : boxes[i];
    caretToEnd(next);
  }

  function wire(boxes) {
    boxes.forEach(function (box, i) {
      box.addEventListener('paste', function (event) {
        var text = (event.clipboardData || window.clipboardData).getData('text') || '';
        var digits = digitsOnly(text);
        if (digits === null) { return; } // not a number: let the server say what is wrong
        event.preventDefault();
        if (digits.length === SIZE * boxes.length) {
          boxes.forEach(function (b) { b.value = ''; });
          spread(boxes, 0, digits);
        } else {
          spread(boxes, i, box.value.replace(SEPARATORS, '') + digits);
        }
      });
      box.addEventListener('input', function () {
        var digits = digitsOnly(box.value);
        if (digits === null) { return; }
        if (digits.length === SIZE * boxes.length) {
          // The whole number at once (a keyboard's paste without a paste event, autofill).
          boxes.forEach(function (b) { b.value = ''; });
          spread(boxes, 0, digits);
        } else if (digits.length > SIZE) {
          spread(boxes, i, digits);
        } else if (digits.length === SIZE && i < boxes.length - 1 &&
                   box.selectionStart === box.value.length) {
          caretToEnd(boxes[i + 1]); // typed the 4th digit at the end: go on
        }
      });
      box.addEventListener('keydown', function (event) {
        if (event.key === 'Backspace' && box.value === '' && i > 0) {
          event.preventDefault();
          caretToEnd(boxes[i - 1]);
        }
      });
    });
  }

  document.querySelectorAll('.number-boxes').forEach(function (group) {
    var boxes = Array.prototype.slice.call(group.querySelectorAll('input'));
    if (boxes.length > 1) { wire(boxes); }
  });
})();

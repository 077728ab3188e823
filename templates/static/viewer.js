// Document image viewer of the approval screen: 拡大 / 縮小 / 回転 in the page. The image is
// drawn once per quarter turn onto a canvas at its own resolution; zooming only changes the
// canvas's displayed size, so the frame scrolls over a zoomed image and memory stays bounded.
// Without this script the plain <img> stays visible.
(function () {
  'use strict';
  var STEP = 1.25;
  var MIN = 0.1;
  var MAX = 8;

  function setup(figure) {
    var img = figure.querySelector('img');
    var frame = figure.querySelector('.viewer-frame');
    if (!img || !frame) { return; }
    var canvas = document.createElement('canvas');
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', img.getAttribute('alt') || '');
    var turn = 0;
    var scale = 0; // 0 until the first draw fits the image to the frame

    function draw() {
      var w = img.naturalWidth;
      var h = img.naturalHeight;
      if (!w || !h) { return; }
      var sideways = turn % 2 === 1;
      canvas.width = sideways ? h : w;
      canvas.height = sideways ? w : h;
      var ctx = canvas.getContext('2d');
      ctx.translate(canvas.width / 2, canvas.height / 2);
      ctx.rotate(turn * Math.PI / 2);
      ctx.drawImage(img, -w / 2, -h / 2);
      if (!scale) { scale = Math.min(1, (frame.clientWidth || canvas.width) / canvas.width); }
      resize();
    }

    function resize() {
      canvas.style.width = Math.round(canvas.width * scale) + 'px';
      canvas.style.height = Math.round(canvas.height * scale) + 'px';
    }

    function ready() {
      img.hidden = true;
      frame.appendChild(canvas);
      draw();
    }

    figure.querySelectorAll('button[data-viewer]').forEach(function (button) {
      button.addEventListener('click', function () {
        var action = button.getAttribute('data-viewer');
        if (action === 'in') { scale = Math.min(MAX, scale * STEP); resize(); }
        if (action === 'out') { scale = Math.max(MIN, scale / STEP); resize(); }
        if (action === 'rotate') { turn = (turn + 1) % 4; draw(); }
      });
    });

    if (img.complete && img.naturalWidth) { ready(); } else { img.addEventListener('load', ready); }
  }

  document.querySelectorAll('figure.viewer').forEach(setup);
})();

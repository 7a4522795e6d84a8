// Loaded between require.js and the Jupyter widget manager (embed-amd.js), both served from this book's _static/.
// The widget manager's bundles load their fonts relative to where require.js believes each bundle lives, which is the
// page's folder by default. Map both bundles ("@jupyter-widgets/html-manager" and its "/dist/..." modules) into
// _static/widget-fonts/, where lsgan-book build puts the fonts, so they load from the book itself, offline too.
(function () {
  var fonts = document.currentScript.src.replace(/[^/]*(\?.*)?$/, "") + "widget-fonts";
  require.config({
    paths: {
      "@jupyter-widgets/html-manager": fonts + "/html-manager",
      "@jupyter-widgets/html-manager/dist": fonts,
    },
  });
})();

// The widget manager typesets widget labels with MathJax 2's API (MathJax.Hub.Queue), but Sphinx loads MathJax 3, which
// has no Hub: on a page with both, rendering a widget threw "Cannot read properties of undefined (reading 'Queue')".
// Sphinx has set window.MathJax to MathJax 3's configuration by now (MathJax itself is deferred and loads later), so
// give it a Hub whose Queue typesets with MathJax 3, there and on MathJax itself once it is ready.
(function () {
  if (window.MathJax === undefined) {
    return; // a page without equations: the widget manager skips typesetting
  }
  var hub = {
    Queue: function () {
      var elements = [];
      Array.prototype.forEach.call(arguments, function (job) {
        if (Array.isArray(job) && job[0] === "Typeset" && job[2]) {
          elements.push(job[2]);
        }
      });
      var mathjax = window.MathJax;
      if (elements.length && mathjax.startup && mathjax.startup.promise && mathjax.typesetPromise) {
        mathjax.startup.promise.then(function () {
          return mathjax.typesetPromise(elements);
        });
      } // before MathJax has loaded there is nothing to do: its start-up typesets the whole page
    },
  };
  var config = window.MathJax;
  config.Hub = hub;
  config.startup = config.startup || {};
  var ready = config.startup.ready;
  config.startup.ready = function () {
    if (ready) {
      ready();
    } else {
      window.MathJax.startup.defaultReady();
    }
    window.MathJax.Hub = hub;
  };
})();

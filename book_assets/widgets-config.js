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

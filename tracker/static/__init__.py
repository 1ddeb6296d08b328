"""Static files of the web page: ``index.html``, ``app.js``, ``app.css`` and ``i18n/*.json``."""

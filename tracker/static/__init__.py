"""Static files of the web page (``index.html``)."""

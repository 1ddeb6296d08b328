"""Real-browser tests of the porter page (Playwright driving Debian's Chromium)."""

"""The sync core's live dashboard: ``/dashboard`` and its feeds (:mod:`.router`), the
in-memory ring of recent observations the driver feeds (:mod:`._recorder`), and the
page's static assets (``static/``: plain HTML, CSS and JS, no build step, no CDN).

Nothing is imported here, so :mod:`sync_core.drivers.asyncio` can use the recorder without
loading the web layer.
"""

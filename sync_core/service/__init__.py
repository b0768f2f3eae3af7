"""The sync core as an HTTP service: :func:`sync_core.service.app.create_app` and one
FastAPI router per resource (webhooks, status, dead letters, experience API)."""

"""HTTP adapters: one FastAPI app factory per emulator, thin over its behaviour."""

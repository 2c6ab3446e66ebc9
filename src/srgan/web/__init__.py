"""``srgan serve``: the web page and JSON API (needs the ``web`` extra: FastAPI + uvicorn)."""

"""The baseline of the HTTP stack: Locust against a bare FastAPI endpoint (bench_live)."""

from __future__ import annotations

from locust import FastHttpUser, task


class Bare(FastHttpUser):
    @task
    def post(self) -> None:
        self.client.post("/orders", json={"item": "A", "quantity": 3}, name="bare POST /orders")

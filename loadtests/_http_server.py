"""The server side of ``bench_http_client``: a bare FastAPI app under uvicorn, run in a
child process on a listening socket the benchmark bound and handed over by descriptor.

    python -m loadtests._http_server FD PARENT_PID MAX_LIFETIME_S
"""

import os
import signal
import socket
import sys
import time
from typing import Any


def build_app() -> Any:
    from datetime import datetime

    from fastapi import FastAPI
    from pydantic import BaseModel, Field

    class OrderLine(BaseModel):
        order_id: str = Field(min_length=1, max_length=40)
        gtin: str = Field(pattern=r"^\d{14}$")
        gln: str = Field(pattern=r"^\d{13}$")
        quantity: int = Field(gt=0)
        unit_price: float = Field(ge=0)
        requested_at: datetime

    class Ack(BaseModel):
        order_id: str
        accepted: bool
        line_total: float

    class Item(BaseModel):
        item_id: int
        gtin: str
        on_hand: int
        status: str

    app = FastAPI()

    @app.post("/orders", response_model=Ack)
    async def post_order(line: OrderLine) -> Ack:
        return Ack(
            order_id=line.order_id, accepted=True, line_total=line.quantity * line.unit_price
        )

    @app.get("/items/{item_id}", response_model=Item)
    async def get_item(item_id: int) -> Item:
        return Item(item_id=item_id, gtin="00312345678906", on_hand=item_id % 97, status="active")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve(fd: int, parent_pid: int, max_lifetime_s: float) -> None:
    """Child entry point: serve on the inherited listening socket until terminated."""
    import threading

    import uvicorn

    started = time.monotonic()

    def watchdog() -> None:
        # Never outlive the benchmark process nor the time budget, whatever happens to it.
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid or time.monotonic() - started > max_lifetime_s:
                os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watchdog, daemon=True).start()
    sock = socket.socket(fileno=fd)
    config = uvicorn.Config(
        build_app(),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        workers=1,
        lifespan="off",
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    fd, parent_pid, lifetime = sys.argv[1:4]
    serve(int(fd), int(parent_pid), float(lifetime))

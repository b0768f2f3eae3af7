"""Scoped access to the core's API: every route x every scope, partner isolation, bad tokens.

The matrix is built from the app's own route list (the ``/v1`` layers' included): a route
that declares no scope fails it.  Each protected route is 401 (problem+json, ``WWW-Authenticate:
Bearer``) without a token, 403 with a token holding every scope but its own, and neither with
a token holding only its own.  The core runs on a SQLite store holding one PO of supplier
S1001; its connector points at a closed port (deliveries fail and retry: the API must not care).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import Request
from fastapi.routing import APIRoute

from emulators._base import Journal
from emulators.erp import Erp
from emulators.web._common import AdminGuard
from emulators.web.erp_app import erp_system
from loadtests.store_workload import EPOCH, NOW
from scenarios.cli.main import main
from scenarios.sim.network import OUR_EDI_ID
from sync_core.auth import AuthConfig, AuthFileError, Claims, load_auth, mint, verify
from sync_core.connectors import HttpConnector
from sync_core.delivery import default_planner
from sync_core.drivers.asyncio import LiveDriver
from sync_core.engine import Engine, EngineConfig
from sync_core.messages import Inbound, Kind
from sync_core.service.access import (
    PUBLIC,
    SCOPES,
    all_routes,
    bearer_check,
    requires,
    route_scope,
)
from sync_core.service.app import create_app
from sync_core.service.layers import DEPRECATED_AT
from sync_core.store_sqlite import SqliteStore
from tests.builders import create_erp_po
from tests.emulators.harness import FakeClock
from tests.ports import free_port

SECRET = "correct horse battery staple, long enough for HS384 too: 48+ bytes"
AUTH = f"issuer: supplysync-test\naudience: supplysync-core\nalgorithm: HS256\nkey: {SECRET!r}\n"
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
ENGINE = Engine(EngineConfig(OUR_EDI_ID, {"S1001": "SUPP1001"}))


def _seed(path: Path) -> str:
    """A store holding one PO of supplier S1001 (as the ERP serves it); its number."""
    erp = Erp(Journal("erp", lambda: 0.0, lambda change: None), lambda: 0.0, EPOCH)
    order = create_erp_po(erp)
    store = SqliteStore(path)
    try:
        po = Inbound(f"erp:po:{order['OrderNumber']}", Kind.ERP_PO_DOCUMENT, order)
        store.commit(ENGINE.handle(po, NOW, store))
    finally:
        store.close()
    return str(order["OrderNumber"])


def _app(store: Path, auth: AuthConfig | None) -> Any:
    closed = f"http://127.0.0.1:{free_port()}"

    async def make_driver() -> LiveDriver:
        connector = HttpConnector(dict.fromkeys(("erp", "supplier", "wms", "ap"), closed))
        driver = LiveDriver(ENGINE, lambda: SqliteStore(store), connector, default_planner(1))
        await driver.start()
        return driver

    return create_app(make_driver, auth=auth)


class Client:
    """A synchronous client of an app, its lifespan entered (the driver started) while open."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=app)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://core")

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.request(method, url, **kw))

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)


@contextmanager
def serving(app: Any) -> Iterator[Client]:
    client = Client(app)
    lifespan = app.router.lifespan_context(app)
    client.loop.run_until_complete(lifespan.__aenter__())
    try:
        yield client
    finally:
        client.loop.run_until_complete(client.http.aclose())
        client.loop.run_until_complete(lifespan.__aexit__(None, None, None))
        client.loop.close()


@dataclasses.dataclass
class Core:
    client: Client
    config: AuthConfig
    po: str

    def token(self, *scopes: str, supplier: str | None = "S1001", **kw: Any) -> dict[str, str]:
        config = kw.pop("config", self.config)
        now = kw.pop("now", time.time())
        t = mint(config, sub="alice", scopes=scopes, now=now, ttl_s=600, supplier=supplier)
        return {"authorization": f"Bearer {t}"}


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Core]:
    folder = tmp_path_factory.mktemp("access")
    (folder / "auth.yaml").write_text(AUTH, encoding="utf-8")
    config = load_auth(folder / "auth.yaml")
    po = _seed(folder / "core.sqlite")
    with serving(_app(folder / "core.sqlite", config)) as client:
        yield Core(client, config, po)


def _routes(app: Any) -> list[tuple[str, str, str | None]]:
    found = []
    for path, route in all_routes(app):
        if re.sub(r"^/v1/[a-z]+", "", path) in DOCS:
            continue  # FastAPI's (and fastapi-offline's) own documents: public
        assert isinstance(route, APIRoute), f"{path}: a route FastAPI cannot check scopes on"
        found += [(m, path, route_scope(route)) for m in sorted(route.methods)]
    return found


def _call(core: Core, method: str, path: str, headers: dict[str, str]) -> Any:
    values = {"system": "erp", "letter_id": "1", "number": core.po, "supplier": "S1001",
              "name": "dashboard.css"}  # fmt: skip
    url = path.format(**values)
    body = {"reason": "a test"} if url.endswith("/discard") else {}
    return core.client.request(method, url, headers=headers, json=body)


def test_every_route_declares_a_scope_and_the_token_must_hold_it(core: Core) -> None:
    routes = _routes(core.client.app)
    assert {p for _, p, _ in routes} >= {"/v1/process/dead-letters", "/dlq", "/v1/system/{system}"}
    undeclared = [(m, p) for m, p, declared in routes if declared is None]
    assert undeclared == [], "every route must declare its scope: dependencies=[requires(...)]"
    for method, path, declared in routes:
        scope = declared.format(system="erp") if declared else declared
        if scope == PUBLIC:
            assert _call(core, method, path, {}).status_code not in (401, 403), path
            continue
        denied = _call(core, method, path, {})
        assert denied.status_code == 401, (method, path, denied.text)
        assert denied.headers["content-type"] == "application/problem+json"
        assert denied.headers["www-authenticate"].startswith("Bearer")
        others = core.token(*(s for s in SCOPES if s != scope))
        forbidden = _call(core, method, path, others)
        assert forbidden.status_code == 403, (method, path, forbidden.text)
        assert forbidden.json()["detail"] == f"the token has no {scope!r} scope"
        allowed = _call(core, method, path, core.token(scope))
        assert allowed.status_code not in (401, 403), (method, path, allowed.text)


def test_a_supplier_token_never_sees_another_suppliers_purchase_orders(core: Core) -> None:
    own, other = core.token("partner:read"), core.token("partner:read", supplier="S1002")
    base = "/v1/partner/suppliers/S1001/purchase-orders"
    listed = core.client.get(base, headers=own).json()
    assert [row["po_number"] for row in listed["items"]] == [core.po]
    assert core.client.get(f"{base}/{core.po}", headers=own).json()["po"]["version"] == 1
    for path in (base, f"{base}/{core.po}"):
        hidden = core.client.get(path, headers=other)
        assert hidden.status_code == 404, hidden.text  # not 403: it learns nothing
        assert hidden.headers["content-type"] == "application/problem+json"
    missing = core.client.get(f"{base}/NO-SUCH-PO", headers=own)
    assert missing.status_code == 404
    # its own supplier with a PO of another supplier's number: as unknown as a missing one
    theirs = core.client.get(f"/v1/partner/suppliers/S1002/purchase-orders/{core.po}",
                             headers=other)  # fmt: skip
    assert theirs.status_code == 404


@pytest.mark.parametrize(
    "why", ["expired", "audience", "none", "algorithm", "key", "issuer", "garbage"]
)
def test_a_token_that_proves_nothing_is_401(core: Core, why: str) -> None:
    if why == "none":
        claims = {"iss": core.config.issuer, "aud": core.config.audience, "sub": "mallory",
                  "exp": int(time.time()) + 600, "scope": " ".join(SCOPES)}  # fmt: skip
        headers = {"authorization": "Bearer " + jwt.encode(claims, None, algorithm="none")}
    elif why == "garbage":
        headers = {"authorization": "Bearer not.a.jwt"}
    else:
        other = {
            "expired": {},
            "audience": {"audience": "another-service"},
            "issuer": {"issuer": "someone-else"},
            "key": {"verify_key": b"k" * 32, "signing_key": b"k" * 32},
            "algorithm": {"algorithm": "HS384"},  # the right secret, another algorithm
        }[why]
        config = dataclasses.replace(core.config, **other)
        now = time.time() - 3600 if why == "expired" else time.time()
        headers = core.token(*SCOPES, config=config, now=now)
    reply = core.client.get("/v1/process/dead-letters", headers=headers)
    assert reply.status_code == 401, reply.text
    assert reply.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert reply.json()["title"] == "Unauthorized"


def test_the_old_routes_name_their_successor_and_the_layers_have_their_own_openapi(
    core: Core,
) -> None:
    old = core.client.get("/dlq/7", headers=core.token("dlq:read"))
    assert old.status_code == 404
    assert old.headers["deprecation"] == f"@{DEPRECATED_AT}"
    assert old.headers["link"] == '</v1/process/dead-letters/7>; rel="successor-version"'
    new = core.client.get("/v1/process/dead-letters/7", headers=core.token("dlq:read"))
    assert new.status_code == 404 and "deprecation" not in new.headers
    assert "deprecation" not in core.client.get("/health").headers  # where probes look
    paths = {
        layer: set(core.client.get(f"/v1/{layer}/openapi.json").json()["paths"])
        for layer in ("system", "process", "experience", "partner")
    }
    assert "/{system}/webhooks" in paths["system"]
    assert {"/dead-letters/{letter_id}/replay", "/reconcile"} <= paths["process"]
    assert "/purchase-orders/{number}" in paths["experience"]
    assert "/suppliers/{supplier}/purchase-orders/{number}" in paths["partner"]
    doc = core.client.get("/v1/process/openapi.json").json()
    replay = doc["paths"]["/dead-letters/{letter_id}/replay"]["post"]
    assert replay["security"] == [{"bearer": ["dlq:replay"]}]
    legacy = core.client.get("/openapi.json").json()["paths"]["/dlq"]["get"]
    assert legacy["deprecated"] is True
    docs = core.client.get("/v1/process/docs")  # offline docs per layer: no CDN
    assets = re.findall(r'(?:src|href)="(/v1/process/static-offline-docs/[^"]+)"', docs.text)
    assert assets and all(core.client.get(u).status_code == 200 for u in assets)


def test_the_matrix_catches_a_route_that_declares_no_scope(tmp_path: Path) -> None:
    app = _app(tmp_path / "core.sqlite", None)

    @app.get("/forgotten")
    async def forgotten() -> dict[str, str]:
        return {}

    assert ("GET", "/forgotten", None) in _routes(app)


def test_an_asymmetric_key_file_verifies_and_only_a_signing_key_mints(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "private.pem").write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))  # fmt: skip
    (tmp_path / "public.pem").write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))  # fmt: skip
    head = "issuer: i\naudience: a\nalgorithm: ES256\nkey: public.pem\n"
    (tmp_path / "verify.yaml").write_text(head, encoding="utf-8")
    (tmp_path / "sign.yaml").write_text(head + "signing_key: private.pem\n", encoding="utf-8")
    signer, verifier = load_auth(tmp_path / "sign.yaml"), load_auth(tmp_path / "verify.yaml")
    token = mint(signer, sub="bob", scopes=["dlq:read"], now=time.time(), ttl_s=60)
    assert verify(verifier, token).sub == "bob"
    assert not verifier.can_mint
    with pytest.raises(AuthFileError):
        mint(verifier, sub="bob", scopes=["dlq:read"], now=time.time(), ttl_s=60)


def test_the_actor_is_the_tokens_subject(tmp_path: Path) -> None:
    (tmp_path / "auth.yaml").write_text(AUTH, encoding="utf-8")
    config = load_auth(tmp_path / "auth.yaml")
    app = _app(tmp_path / "core.sqlite", config)

    @app.get("/whoami", dependencies=[requires("status:read")])
    async def whoami(request: Request) -> dict[str, Any]:
        return {"actor": request.state.actor}

    token = mint(config, sub="alice", scopes=["status:read"], now=time.time(), ttl_s=60)
    with serving(app) as client:
        reply = client.get("/whoami", headers={"authorization": f"Bearer {token}"})
    assert reply.json() == {"actor": "alice"}


def test_with_access_off_every_route_is_open(tmp_path: Path) -> None:
    _seed(tmp_path / "core.sqlite")
    with serving(_app(tmp_path / "core.sqlite", None)) as client:
        assert client.get("/v1/process/dead-letters").json() == []
        assert client.get("/v1/partner/suppliers/S1001/purchase-orders").json()["count"] == 1
        assert client.post("/v1/process/reconcile").status_code == 202
        erp = client.get("/v1/system/erp").json()
        assert erp["system"] == "erp" and erp["circuit"] == "closed", erp
        assert client.get("/v1/system/sap").status_code == 404


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("issuer: a\naudience: b\nalgorithm: none\nkey: x\n", "algorithm"),
        ("issuer: a\naudience: b\nalgorithm: HS256\nkey: short\n", "key"),
        ("issuer: a\naudience: b\nalgorithm: RS256\nkey: nowhere.pem\n", "key"),
        ("issuer: a\nalgorithm: HS256\nkey: x\n", "audience"),
        (AUTH + "scopes: all\n", "scopes"),
    ],
)
def test_an_auth_file_that_cannot_be_used_names_the_field(
    tmp_path: Path, text: str, field: str
) -> None:
    (tmp_path / "auth.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(AuthFileError) as e:
        load_auth(tmp_path / "auth.yaml")
    assert e.value.field == field


def test_the_emulators_admin_api_needs_an_admin_faults_token(tmp_path: Path) -> None:
    (tmp_path / "auth.yaml").write_text(AUTH, encoding="utf-8")
    config = load_auth(tmp_path / "auth.yaml")
    live = erp_system(seed=1, clock=FakeClock(), schedule=lambda delay, action: None)
    live.app.add_middleware(AdminGuard, check=bearer_check(config, "admin:faults"))

    def token(scope: str) -> dict[str, str]:
        t = mint(config, sub="tester", scopes=[scope], now=time.time(), ttl_s=60)
        return {"authorization": f"Bearer {t}"}

    with serving(live.app) as client:
        refused = client.get("/__admin/faults")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert refused.headers["content-type"] == "application/problem+json"
        assert client.get("/__admin/faults", headers=token("dlq:read")).status_code == 403
        assert client.get("/__admin/faults", headers=token("admin:faults")).status_code == 200
        assert client.get("/health").status_code == 200  # only /__admin is guarded


def test_auth_token_mints_what_the_core_accepts_and_bad_input_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "auth.yaml").write_text(AUTH, encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # FILE is relative to where the command runs
    argv = ["auth", "token", "--auth", "auth.yaml", "--sub", "portal", "--scope",
            "partner:read", "--supplier", "S1001"]  # fmt: skip
    assert main(argv) == 0
    token = capsys.readouterr().out.strip()
    claims = verify(load_auth(Path("auth.yaml")), token)
    assert claims == Claims("portal", frozenset({"partner:read"}), "S1001")
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["exp"] - payload["iat"] == 3600  # the default --ttl
    for bad, named in [
        (["auth", "token", "--auth", "missing.yaml", "--sub", "a", "--scope", "dlq:read"],
         "missing.yaml"),
        (["auth", "token", "--auth", "auth.yaml", "--sub", "a", "--scope", "dlq:eat"],
         "unknown scope 'dlq:eat'"),
        (["serve", "core", "--erp", "http://127.0.0.1:9", "--auth", "missing.yaml"],
         "--auth: missing.yaml"),
    ]:  # fmt: skip
        assert main(bad) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and named in err and "Traceback" not in err, err

"""The greeter over mutual TLS: the real runtime's async transport against ``statefun serve``.

``statefun serve`` requires a client certificate (``--tls-client-ca``); the runtime's
module.yaml gives the async transport ``trust_cacerts``, ``client_cert`` and
``client_key`` (PKCS#8, as Netty needs), with an ``https://`` endpoint. Certificates come
from ``trustme``: one CA signs the server's, another the runtime's. Greetings arriving
prove the runtime's handshake was accepted; a client without a certificate is refused.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from . import harness
from .conftest import FunctionServerFactory, StatefunJobFactory
from .test_greeter import NAMES, SERVE, expected, greet_records, greetings_by_name

pytestmark = pytest.mark.e2e

GREETER = harness.REPO_ROOT / "examples" / "greeter" / "module.yaml"


def pkcs8(key_pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(key_pem, password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def tls_module(folder: Path) -> Path:
    """The greeter's module.yaml, its endpoint over https with the runtime's certificates."""
    server_ca, runtime_ca = trustme.CA(), trustme.CA()
    server = server_ca.issue_cert(harness.HOST)
    runtime = runtime_ca.issue_cert("statefun-runtime")
    server.cert_chain_pems[0].write_to_path(str(folder / "server.crt"))
    server.private_key_pem.write_to_path(str(folder / "server.key"))
    runtime_ca.cert_pem.write_to_path(str(folder / "runtime-ca.crt"))
    server_ca.cert_pem.write_to_path(str(folder / "server-ca.crt"))
    runtime.cert_chain_pems[0].write_to_path(str(folder / "runtime.crt"))
    (folder / "runtime.key").write_bytes(pkcs8(runtime.private_key_pem.bytes()))
    module = folder / "module"
    module.mkdir()
    text = GREETER.read_text()
    old = """  urlPathTemplate: http://127.0.0.1:8000/statefun
  transport:
    type: io.statefun.transports.v1/async
"""
    assert old in text, "examples/greeter/module.yaml changed: update this test"
    (module / "module.yaml").write_text(
        text.replace(
            old,
            f"""  urlPathTemplate: https://127.0.0.1:8000/statefun
  transport:
    type: io.statefun.transports.v1/async
    trust_cacerts: {folder / "server-ca.crt"}
    client_cert: {folder / "runtime.crt"}
    client_key: {folder / "runtime.key"}
""",
        )
    )
    return module


@pytest.mark.e2e_timeout(240)
def test_the_greeter_over_mutual_tls(
    kafka: harness.KafkaBroker,
    function_server: FunctionServerFactory,
    statefun_job: StatefunJobFactory,
    tmp_path: Path,
) -> None:
    module = tls_module(tmp_path)
    kafka.reset_topics(["names", "greetings"])
    fn = function_server(
        [
            *SERVE,
            "--tls-cert",
            str(tmp_path / "server.crt"),
            "--tls-key",
            str(tmp_path / "server.key"),
            "--tls-client-ca",
            str(tmp_path / "runtime-ca.crt"),
        ]
    )
    job = statefun_job(module)
    kafka.produce("names", greet_records(NAMES, rounds=2))

    got = kafka.consume("greetings", count=2 * len(NAMES), timeout=90, settle=3)

    job.check_alive()
    assert greetings_by_name(got) == expected(NAMES, 1, 2), f"got {got!r}"
    # The same server refuses a client that trusts it but shows no certificate.
    context = ssl.create_default_context(cafile=str(tmp_path / "server-ca.crt"))
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(
            urllib.request.Request(f"https://{harness.HOST}:{fn.port}/statefun", data=b"x"),
            context=context,
            timeout=30,
        )

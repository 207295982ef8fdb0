"""HTTPS and mutual TLS on `statefun serve`, with certificates made by trustme.

The runtime's async transport checks the server against ``trust_cacerts`` and
presents ``client_cert``/``client_key``; here Python's ssl module plays that
client, and each handshake the server must refuse is refused.
"""

from __future__ import annotations

import http.client
import signal
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from examples.greeter.functions import GREET, GreetRequest
from statefun import Address
from statefun._generated.request_reply_pb2 import FromFunction
from statefun.cli import main
from statefun.loader import CliError
from statefun.serve import TlsOptions, ssl_context
from tests.serve.process import HANG_GUARD, Served, both_servers, run_serve
from tests.wire.builders import call, request, typed

Serve = Callable[..., Served]
GREETER = "examples.greeter.functions:functions"
ANA = request(Address("example/person", "Ana"), call(typed(GREET, GreetRequest("Ana"))))
PASSWORD = b"correct horse"

pytestmark = both_servers


class Pki:
    """Two CAs, a server certificate and client certificates from each, as PEM files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ca = trustme.CA()
        self.ca_file = folder / "ca.pem"
        self.ca.cert_pem.write_to_path(self.ca_file)
        self.other_ca = trustme.CA()
        self.server = self.write(self.ca.issue_cert("127.0.0.1", "localhost"), "server")
        self.client = self.write(self.ca.issue_cert("statefun-runtime"), "client")
        self.stranger = self.write(self.other_ca.issue_cert("statefun-runtime"), "stranger")

    def write(self, cert: trustme.LeafCert, name: str) -> tuple[Path, Path]:
        """The certificate chain and key of ``cert``, as ``<name>.pem`` and ``<name>.key``."""
        chain, key = self.folder / f"{name}.pem", self.folder / f"{name}.key"
        chain.write_bytes(b"".join(pem.bytes() for pem in cert.cert_chain_pems))
        cert.private_key_pem.write_to_path(key)
        return chain, key

    def encrypted_server_key(self) -> tuple[Path, Path]:
        """The server key encrypted with PASSWORD, and a password file as ``echo`` writes it."""
        key = serialization.load_pem_private_key(self.server[1].read_bytes(), password=None)
        encrypted = self.folder / "server-encrypted.key"
        encrypted.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(PASSWORD),
            )
        )
        password = self.folder / "password.txt"
        password.write_bytes(PASSWORD + b"\n")
        return encrypted, password

    def client_context(self, identity: tuple[Path, Path] | None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        if identity is not None:
            context.load_cert_chain(*identity)
        return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


def mutual_tls(serve: Serve, pki: Pki) -> Served:
    cert, key = pki.server
    return serve(
        GREETER, "--tls-cert", str(cert), "--tls-key", str(key), "--tls-client-ca", str(pki.ca_file)
    )


def post(port: int, context: ssl.SSLContext | None) -> tuple[int, bytes]:
    connection = (
        http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=HANG_GUARD)
        if context is not None
        else http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_GUARD)
    )
    try:
        connection.request("POST", "/statefun", ANA, {"Content-Type": "application/octet-stream"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def assert_refused(port: int, context: ssl.SSLContext | None) -> None:
    """The connection fails without an HTTP answer, and not because it hung."""
    with pytest.raises((OSError, http.client.HTTPException)) as failure:
        post(port, context)
    assert not isinstance(failure.value, TimeoutError)


def assert_answered(port: int, context: ssl.SSLContext) -> None:
    status, body = post(port, context)
    assert status == 200
    missing = FromFunction.FromString(body).incomplete_invocation_context.missing_values
    assert [m.state_name for m in missing] == ["visits"]


def serial_served(port: int, context: ssl.SSLContext) -> int:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        certificate = tls.getpeercert()
    assert certificate is not None
    serial = certificate["serialNumber"]
    assert isinstance(serial, str)
    return int(serial, 16)


def serial_of(chain: Path) -> int:
    return x509.load_pem_x509_certificate(chain.read_bytes()).serial_number


class TestMutualTls:
    def test_a_client_certificate_from_the_ca_is_accepted(self, serve: Serve, pki: Pki) -> None:
        served = mutual_tls(serve, pki)
        assert "at https://127.0.0.1:" in served.output[-1]
        assert served.output[-1].rstrip().endswith("/statefun (mutual TLS)")
        assert_answered(served.port, pki.client_context(pki.client))

    def test_no_client_certificate_is_refused(self, serve: Serve, pki: Pki) -> None:
        served = mutual_tls(serve, pki)
        assert_refused(served.port, pki.client_context(None))

    def test_a_client_certificate_from_another_ca_is_refused(self, serve: Serve, pki: Pki) -> None:
        served = mutual_tls(serve, pki)
        assert_refused(served.port, pki.client_context(pki.stranger))
        assert_answered(served.port, pki.client_context(pki.client))  # and it still serves

    def test_plain_http_to_the_tls_port_fails(self, serve: Serve, pki: Pki) -> None:
        served = mutual_tls(serve, pki)
        assert_refused(served.port, None)


class TestHttps:
    def test_an_encrypted_key_with_its_password_file_serves_any_client(
        self, serve: Serve, pki: Pki
    ) -> None:
        key, password = pki.encrypted_server_key()
        cert = pki.server[0]
        served = serve(
            GREETER,
            *("--tls-cert", str(cert), "--tls-key", str(key)),
            *("--tls-key-password-file", str(password)),
        )
        assert served.output[-1].rstrip().endswith("/statefun")
        assert_answered(served.port, pki.client_context(None))

    def test_sighup_reloads_the_certificate_for_new_handshakes(
        self, serve: Serve, pki: Pki, tmp_path: Path
    ) -> None:
        live = pki.write(pki.ca.issue_cert("127.0.0.1"), "live")
        first = serial_of(live[0])
        served = serve(GREETER, "--tls-cert", str(live[0]), "--tls-key", str(live[1]))
        client = pki.client_context(None)
        assert serial_served(served.port, client) == first

        pki.write(pki.ca.issue_cert("127.0.0.1"), "live")
        second = serial_of(live[0])
        served.signal(signal.SIGHUP)
        served.wait_for(f"SIGHUP: reloaded --tls-cert {live[0]} and --tls-key {live[1]}")
        assert serial_served(served.port, client) == second != first
        assert_answered(served.port, client)

    def test_a_reload_that_fails_keeps_the_certificate_in_use(self, serve: Serve, pki: Pki) -> None:
        live = pki.write(pki.ca.issue_cert("127.0.0.1"), "kept")
        in_use = serial_of(live[0])
        served = serve(GREETER, "--tls-cert", str(live[0]), "--tls-key", str(live[1]))
        client = pki.client_context(None)

        # A new certificate beside the old key: loaded alone it would leave the
        # server with a pair that cannot handshake.
        cert_only = pki.ca.issue_cert("127.0.0.1")
        live[0].write_bytes(b"".join(pem.bytes() for pem in cert_only.cert_chain_pems))
        served.signal(signal.SIGHUP)
        served.wait_for(
            f"SIGHUP: kept the certificate in use: --tls-key {live[1]} is not the private key"
            f" of the certificate in --tls-cert {live[0]}"
        )
        assert serial_served(served.port, client) == in_use
        assert_answered(served.port, client)


class TestBadTlsFiles:
    """Each is one ``statefun: error: ...`` line from ``main``; here, the CliError it prints."""

    def message(self, **options: Path) -> str:
        with pytest.raises(CliError) as error:
            ssl_context(TlsOptions(**options))
        assert error.value.status == 2
        return str(error.value)

    def test_a_missing_file(self, pki: Pki) -> None:
        missing = pki.folder / "missing.pem"
        assert self.message(cert=missing, key=pki.server[1]) == (
            f"cannot read --tls-cert {missing}: No such file or directory"
        )

    def test_a_file_that_cannot_be_read(self, pki: Pki) -> None:
        # Root reads any file whatever its mode: a folder is unreadable as a file for everyone.
        assert self.message(cert=pki.server[0], key=pki.folder) == (
            f"cannot read --tls-key {pki.folder}: Is a directory"
        )

    def test_a_key_given_as_the_certificate(self, pki: Pki) -> None:
        key = pki.server[1]
        assert self.message(cert=key, key=key) == (
            f"--tls-cert {key} holds no PEM certificate (no `-----BEGIN CERTIFICATE-----` line)"
        )

    def test_a_certificate_given_as_the_key(self, pki: Pki) -> None:
        cert = pki.server[0]
        assert self.message(cert=cert, key=cert) == (
            f"--tls-key {cert} holds no PEM private key (no `-----BEGIN ... PRIVATE KEY-----` line)"
        )

    def test_the_key_of_another_certificate(self, pki: Pki) -> None:
        cert, key = pki.server[0], pki.client[1]
        assert self.message(cert=cert, key=key) == (
            f"--tls-key {key} is not the private key of the certificate in --tls-cert {cert}"
        )

    def test_an_encrypted_key_without_its_password(self, pki: Pki) -> None:
        key, _ = pki.encrypted_server_key()
        assert self.message(cert=pki.server[0], key=key) == (
            f"--tls-key {key} is encrypted: give the file holding its password with"
            " --tls-key-password-file"
        )

    def test_the_wrong_password(self, pki: Pki, tmp_path: Path) -> None:
        key, _ = pki.encrypted_server_key()
        wrong = tmp_path / "wrong.txt"
        wrong.write_bytes(b"incorrect horse")
        assert self.message(cert=pki.server[0], key=key, key_password_file=wrong) == (
            f"--tls-key {key} cannot be decrypted with the password in"
            f" --tls-key-password-file {wrong}"
        )

    def test_a_client_ca_that_is_not_a_certificate(self, pki: Pki) -> None:
        cert, key = pki.server
        assert self.message(cert=cert, key=key, client_ca=key) == (
            f"--tls-client-ca {key} holds no PEM certificate (no `-----BEGIN CERTIFICATE-----` line)"
        )


class TestTlsCommandLines:
    @pytest.mark.parametrize(
        ("options", "error"),
        [
            (
                ["--tls-key", "k.pem"],
                "--tls-key needs --tls-cert too: HTTPS takes a certificate and its key",
            ),
            (
                ["--tls-cert", "c.pem"],
                "--tls-cert needs --tls-key too: HTTPS takes a certificate and its key",
            ),
            (
                ["--tls-client-ca", "ca.pem"],
                "--tls-client-ca needs --tls-cert and --tls-key: it is part of HTTPS",
            ),
            (
                ["--tls-key-password-file", "p.txt"],
                "--tls-key-password-file needs --tls-cert and --tls-key: it is part of HTTPS",
            ),
        ],
    )
    def test_incomplete_tls_options(
        self, options: list[str], error: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["serve", GREETER, *options]) == 2
        assert capsys.readouterr().err == f"statefun: error: {error}\n"

    def test_a_bad_file_is_one_line_and_status_2_from_the_command(self, pki: Pki) -> None:
        missing = pki.folder / "missing.pem"
        done = run_serve(GREETER, "--tls-cert", str(missing), "--tls-key", str(pki.server[1]))
        assert done.returncode == 2
        assert done.stderr == (
            f"statefun: error: cannot read --tls-cert {missing}: No such file or directory\n"
        )

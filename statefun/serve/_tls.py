"""TLS for `statefun serve`: a server context from PEM files, and its reload on SIGHUP."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

from ..loader import CliError
from ._options import TlsOptions

logger = logging.getLogger("statefun")


def ssl_context(tls: TlsOptions) -> ssl.SSLContext:
    """A server-side :class:`ssl.SSLContext` for ``tls``: TLS 1.2 or later.

    Raises :class:`statefun.loader.CliError` naming the option and the file for
    a file that cannot be read, is not PEM of the right kind, a key that does not
    match the certificate, and an encrypted key without its password or with
    the wrong one.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(context, tls)
    if tls.client_ca is not None:
        _check_pem(tls.client_ca, "--tls-client-ca", "certificate", "-----BEGIN CERTIFICATE-----")
        try:
            context.load_verify_locations(cafile=tls.client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise CliError(f"--tls-client-ca {tls.client_ca}: {_reason(exc)}") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _load_chain(context: ssl.SSLContext, tls: TlsOptions) -> None:
    """Load the certificate chain and key into ``context``, or raise a CliError saying why not."""
    _check_pem(tls.cert, "--tls-cert", "certificate", "-----BEGIN CERTIFICATE-----")
    _check_pem(tls.key, "--tls-key", "private key", "PRIVATE KEY-----")
    password = None
    if tls.key_password_file is not None:
        password = _read(tls.key_password_file, "--tls-key-password-file")
        password = password[:-2] if password.endswith(b"\r\n") else password.removesuffix(b"\n")
    asked = False

    def give_password() -> bytes:
        # Without a callback, OpenSSL would prompt on the terminal for the password.
        nonlocal asked
        asked = True
        return password or b""

    try:
        context.load_cert_chain(tls.cert, tls.key, give_password)
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise CliError(
                f"--tls-key {tls.key} is not the private key of the certificate in --tls-cert"
                f" {tls.cert}"
            ) from None
        if asked and password is None:
            raise CliError(
                f"--tls-key {tls.key} is encrypted: give the file holding its password with"
                " --tls-key-password-file"
            ) from None
        if asked:
            raise CliError(
                f"--tls-key {tls.key} cannot be decrypted with the password in"
                f" --tls-key-password-file {tls.key_password_file}"
            ) from None
        raise CliError(
            f"cannot load --tls-cert {tls.cert} with --tls-key {tls.key}: {_reason(exc)}"
        ) from None
    except OSError as exc:  # the file went away since it was checked
        raise CliError(f"cannot load --tls-cert {tls.cert}: {_reason(exc)}") from None


def _read(path: Path, option: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {option} {path}: {_reason(exc)}") from None


def _check_pem(path: Path, option: str, kind: str, marker: str) -> None:
    # OpenSSL says only "PEM lib" for a file of the wrong kind: say which file, and what it lacks.
    if marker.encode() not in _read(path, option):
        begin = marker if marker.startswith("-----BEGIN") else f"-----BEGIN ... {marker}"
        raise CliError(f"{option} {path} holds no PEM {kind} (no `{begin}` line)")


def _reason(exc: OSError | ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc)
    return exc.strerror or str(exc)


def reload(context: ssl.SSLContext, tls: TlsOptions) -> None:
    # Loaded into a fresh context first: a certificate that loads with a key that
    # then fails would leave the live context with a mismatched pair.
    try:
        _load_chain(ssl.create_default_context(ssl.Purpose.CLIENT_AUTH), tls)
        _load_chain(context, tls)
    except CliError as exc:
        logger.error("SIGHUP: kept the certificate in use: %s", exc)
        return
    logger.info("SIGHUP: reloaded --tls-cert %s and --tls-key %s", tls.cert, tls.key)

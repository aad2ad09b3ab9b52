"""The HTTPS certificate: a configured pair, or a self-signed one made at first start
under `DATA/web/` and reused until it nears its end. The only files the web UI writes."""

from __future__ import annotations

import ipaddress
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID_DAYS = 825  # the longest browsers accept for a leaf certificate
RENEW_DAYS = 30  # made anew when fewer days than this are left
CERT_NAME = "tls-cert.pem"
KEY_NAME = "tls-key.pem"


def _when(now_ns: int) -> datetime:
    return datetime.fromtimestamp(now_ns / 1e9, UTC)


def still_good(cert_path: Path, key_path: Path, now_ns: int) -> bool:
    if not cert_path.is_file() or not key_path.is_file():
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError:
        return False
    return cert.not_valid_after_utc - _when(now_ns) > timedelta(days=RENEW_DAYS)


def _names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName(socket.gethostname())]
    ips = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    try:
        ip = ipaddress.ip_address(host)
        if not ip.is_unspecified:
            ips.add(ip)
    except ValueError:
        if host and host not in ("localhost", socket.gethostname()):
            names.append(x509.DNSName(host))
    return names + [x509.IPAddress(ip) for ip in sorted(ips, key=str)]


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically (a temporary file renamed over `path`) with `mode` from the start."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def self_signed(data_dir: Path, host: str, now_ns: int) -> tuple[Path, Path]:
    """`DATA/web/tls-cert.pem` and `tls-key.pem`, made if missing or ending soon."""
    folder = data_dir / "web"
    cert_path, key_path = folder / CERT_NAME, folder / KEY_NAME
    if still_good(cert_path, key_path, now_ns):
        return cert_path, key_path
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Vigil NVR (self-signed)")])
    start = _when(now_ns) - timedelta(days=1)  # tolerates a client clock a little behind
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(key_path, key_pem, 0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert_path, key_path


def fingerprint(cert_path: Path) -> str:
    """SHA-256 of the certificate, as browsers show it, to check on first connection."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()

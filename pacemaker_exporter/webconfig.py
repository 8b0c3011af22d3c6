"""`--web.config.file`: TLS and basic auth in the Prometheus exporter-toolkit format.

Supported keys (the rest of the format is rejected with a one-line error, never ignored silently)::

    tls_server_config:
      cert_file: /etc/pacemaker-exporter/tls.crt
      key_file: /etc/pacemaker-exporter/tls.key
      client_auth_type: RequireAndVerifyClientCert   # NoClientCert (default), RequestClientCert,
                                                     # RequireAnyClientCert, VerifyClientCertIfGiven
      client_ca_file: /etc/pacemaker-exporter/ca.crt
      min_version: TLS12                             # TLS10..TLS13 (default TLS12)
      max_version: TLS13
    http_server_config:
      headers: {X-Frame-Options: deny}
    basic_auth_users:
      prometheus: $2y$10$...                         # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\\n')

The file is read with PyYAML (``yaml.safe_load``), a dependency of the package.
"""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple


class WebConfigError(ValueError):
    """The web config file is unreadable or invalid (one line, for the user)."""


_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}


@dataclass
class WebConfig:
    cert_file: str = ""
    key_file: str = ""
    client_ca_file: str = ""
    client_auth_type: str = "NoClientCert"
    min_version: str = "TLS12"
    max_version: str = ""
    headers: Dict[str, str] = field(default_factory=dict)
    users: Dict[str, bytes] = field(default_factory=dict)  # user -> bcrypt hash
    _cache: Dict[Tuple[str, bytes], bool] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def tls(self) -> bool:
        return bool(self.cert_file)

    def ssl_context(self) -> Optional[ssl.SSLContext]:
        if not self.tls:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = _TLS_VERSIONS[self.min_version]
        if self.max_version:
            ctx.maximum_version = _TLS_VERSIONS[self.max_version]
        try:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise WebConfigError(f"cannot load cert_file/key_file: {exc}") from None
        ctx.verify_mode = _CLIENT_AUTH[self.client_auth_type]
        if self.client_ca_file:
            try:
                ctx.load_verify_locations(self.client_ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise WebConfigError(f"cannot load client_ca_file: {exc}") from None
        elif self.client_auth_type in ("RequireAndVerifyClientCert", "VerifyClientCertIfGiven"):
            raise WebConfigError(f"client_auth_type {self.client_auth_type} needs client_ca_file")
        elif self.client_auth_type in ("RequestClientCert", "RequireAnyClientCert"):
            # Python cannot accept unverified client certificates: use the system CAs
            ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)
        return ctx

    def authorized(self, header: Optional[str]) -> bool:
        """Check an Authorization header against basic_auth_users (always True without users)."""
        if not self.users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        hashed = self.users.get(user)
        if hashed is None:
            return False
        # bcrypt is slow on purpose; remember verdicts (keyed by a digest, never the password) so that a
        # scrape every few seconds does not cost 50-100 ms of CPU each time
        key = (user, hashlib.sha256(password.encode("utf-8") + b"\0" + hashed).digest())
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        try:
            import bcrypt  # here, not at start: serving without basic auth never needs it

            ok = bcrypt.checkpw(password.encode("utf-8"), hashed)
        except ValueError:
            ok = False
        with self._lock:
            if len(self._cache) > 1000:
                self._cache.clear()
            self._cache[key] = ok
        return ok


def load_web_config(path: str) -> WebConfig:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise WebConfigError(f"{path}: {exc.strerror or exc}") from None
    try:
        data = _load_yaml(text)
    except ValueError as exc:
        raise WebConfigError(f"{path}: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WebConfigError(f"{path}: expected a mapping at the top level")
    return _build(path, data)


def _build(path: str, data: Dict[str, Any]) -> WebConfig:
    known = {"tls_server_config", "http_server_config", "basic_auth_users"}
    unknown = set(data) - known
    if unknown:
        raise WebConfigError(f"{path}: unsupported keys: {', '.join(sorted(unknown))}")
    cfg = WebConfig()
    tls = data.get("tls_server_config") or {}
    if not isinstance(tls, dict):
        raise WebConfigError(f"{path}: tls_server_config must be a mapping")
    tls_known = {
        "cert_file",
        "key_file",
        "client_ca_file",
        "client_auth_type",
        "min_version",
        "max_version",
        "cipher_suites",
        "prefer_server_cipher_suites",
        "curve_preferences",
    }
    unknown = set(tls) - tls_known
    if unknown:
        raise WebConfigError(f"{path}: unsupported tls_server_config keys: {', '.join(sorted(unknown))}")
    cfg.cert_file = str(tls.get("cert_file") or "")
    cfg.key_file = str(tls.get("key_file") or "")
    cfg.client_ca_file = str(tls.get("client_ca_file") or "")
    cfg.client_auth_type = str(tls.get("client_auth_type") or "NoClientCert")
    cfg.min_version = str(tls.get("min_version") or "TLS12")
    cfg.max_version = str(tls.get("max_version") or "")
    if tls and (not cfg.cert_file or not cfg.key_file):
        raise WebConfigError(f"{path}: tls_server_config needs both cert_file and key_file")
    if cfg.client_auth_type not in _CLIENT_AUTH:
        raise WebConfigError(f"{path}: invalid client_auth_type {cfg.client_auth_type!r}")
    for key in ("min_version", "max_version"):
        value = getattr(cfg, key)
        if value and value not in _TLS_VERSIONS:
            raise WebConfigError(f"{path}: invalid {key} {value!r} (TLS10, TLS11, TLS12, TLS13)")
    http = data.get("http_server_config") or {}
    if not isinstance(http, dict):
        raise WebConfigError(f"{path}: http_server_config must be a mapping")
    headers = http.get("headers") or {}
    if not isinstance(headers, dict):
        raise WebConfigError(f"{path}: http_server_config.headers must be a mapping")
    cfg.headers = {str(k): str(v) for k, v in headers.items()}
    users = data.get("basic_auth_users") or {}
    if not isinstance(users, dict):
        raise WebConfigError(f"{path}: basic_auth_users must be a mapping of user: bcrypt-hash")
    for user, hashed in users.items():
        h = str(hashed).encode("ascii", "replace")
        if not re.match(rb"^\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}$", h):
            raise WebConfigError(f"{path}: basic_auth_users.{user}: not a bcrypt hash")
        cfg.users[str(user)] = h
    if cfg.tls:
        cfg.ssl_context()  # fail at start, not at the first scrape
    return cfg


# --- YAML ---------------------------------------------------------------------------------------


def _load_yaml(text: str) -> Any:
    import yaml  # here, not at start: serving without a web config never needs it (benchmarks/README.md)

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(" ".join(str(exc).split())) from None

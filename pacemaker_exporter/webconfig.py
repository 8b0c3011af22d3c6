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

PyYAML is used when installed; otherwise a small parser reads the block-mapping subset of
YAML that such files use (nested mappings, scalars, quoted strings, flow lists/maps).
"""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import bcrypt


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
    tls_known = {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version", "max_version",
                 "cipher_suites", "prefer_server_cipher_suites", "curve_preferences"}
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


# --- a YAML subset --------------------------------------------------------------------------------


def _load_yaml(text: str) -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        return _MiniYaml(text).parse()
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc).replace("\n", " ")) from None


class _MiniYaml:
    """Block mappings, block sequences of scalars, scalars, flow lists/maps of scalars, comments."""

    def __init__(self, text: str) -> None:
        self.lines: List[Tuple[int, int, str]] = []
        for number, raw in enumerate(text.splitlines(), 1):
            if raw.strip() in ("---", "..."):
                continue
            line = _strip_comment(raw).rstrip()
            if not line.strip():
                continue
            if "\t" in line[: len(line) - len(line.lstrip())]:
                raise ValueError(f"line {number}: tabs are not allowed for indentation")
            self.lines.append((number, len(line) - len(line.lstrip(" ")), line.strip()))
        self.pos = 0

    def parse(self) -> Any:
        if not self.lines:
            return None
        value = self._block(self.lines[0][1])
        if self.pos != len(self.lines):
            number = self.lines[self.pos][0]
            raise ValueError(f"line {number}: unexpected indentation")
        return value

    def _block(self, indent: int) -> Any:
        number, ind, text = self.lines[self.pos]
        if text.startswith("- ") or text == "-":
            items: List[Any] = []
            while self.pos < len(self.lines) and self.lines[self.pos][1] == indent \
                    and (self.lines[self.pos][2].startswith("- ") or self.lines[self.pos][2] == "-"):
                self.pos += 1
                items.append(_scalar(self.lines[self.pos - 1][2][1:].strip()))
            return items
        mapping: Dict[str, Any] = {}
        while self.pos < len(self.lines):
            number, ind, text = self.lines[self.pos]
            if ind < indent:
                break
            if ind > indent:
                raise ValueError(f"line {number}: unexpected indentation")
            key, sep, rest = _split_key(text)
            if not sep:
                raise ValueError(f"line {number}: expected 'key: value'")
            if key in mapping:
                raise ValueError(f"line {number}: duplicate key {key!r}")
            self.pos += 1
            if rest:
                mapping[key] = _scalar(rest)
            elif self.pos < len(self.lines) and self.lines[self.pos][1] > indent:
                mapping[key] = self._block(self.lines[self.pos][1])
            elif self.pos < len(self.lines) and self.lines[self.pos][1] == indent \
                    and self.lines[self.pos][2].startswith("- "):
                mapping[key] = self._block(indent)
            else:
                mapping[key] = None
        return mapping


def _strip_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _split_key(text: str) -> Tuple[str, bool, str]:
    if text[:1] in "'\"":
        q = text[0]
        end = text.find(q, 1)
        if end < 0 or text[end + 1: end + 2] != ":":
            return text, False, ""
        return text[1:end], True, text[end + 2:].strip()
    m = re.match(r"^([^:]+?):(?:\s+(.*))?$", text)
    if not m:
        return text, False, ""
    return m.group(1).strip(), True, (m.group(2) or "").strip()


def _scalar(text: str) -> Any:
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [_scalar(p.strip()) for p in _split_flow(inner)] if inner else []
    if text.startswith("{") and text.endswith("}"):
        out: Dict[str, Any] = {}
        for part in _split_flow(text[1:-1].strip()):
            key, sep, rest = _split_key(part.strip())
            if not sep:
                raise ValueError(f"bad flow mapping entry {part!r}")
            out[key] = _scalar(rest)
        return out
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        body = text[1:-1]
        return body.replace("''", "'") if text[0] == "'" else body.replace('\\"', '"').replace("\\\\", "\\")
    if text in ("null", "~", ""):
        return None
    if text in ("true", "True", "yes"):
        return True
    if text in ("false", "False", "no"):
        return False
    return text


def _split_flow(text: str) -> List[str]:
    parts, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        cur += ch
    if cur.strip():
        parts.append(cur)
    return parts

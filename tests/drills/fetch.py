"""A tiny HTTP client that lives in the monitor namespace: one URL per stdin line, one JSON line out.

The host namespace cannot reach the node addresses; the drill test keeps one of these running
inside the monitor namespace (``python -m tests.drills.fetch``) instead of starting a Python
interpreter per request.  Output: ``{"ok": bool, "status": int, "body": str, "error": str}``.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request


def main() -> None:
    for line in sys.stdin:
        url = line.strip()
        if not url:
            continue
        out = {"ok": False, "status": 0, "body": "", "error": ""}
        try:
            with urllib.request.urlopen(url, timeout=4) as r:  # noqa: S310 - test URLs
                out.update(ok=True, status=r.status, body=r.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as e:
            out.update(status=e.code, error=str(e), body=e.read().decode("utf-8", "replace"))
        except Exception as e:  # noqa: BLE001 - any failure is reported, the loop goes on
            out.update(error=f"{type(e).__name__}: {e}")
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

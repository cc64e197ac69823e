"""JSON over HTTP to an OpenAI-compatible server, with retries and named errors.

Retried (exponential backoff): HTTP 429 and 5xx, refused or dropped
connections, timeouts. Not retried: other 4xx (bad request, wrong key,
unknown model), which no amount of waiting fixes. Standard library only, so
the server engine adds no dependency.
"""
from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from calib_eval.engines.spec import API_KEY_ENVS, ServerConfig
from calib_eval.errors import ServerError

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass
class JsonClient:
    base_url: str
    config: ServerConfig
    sleep: object = time.sleep  # tests pass a no-op

    def api_key(self) -> str | None:
        return next((os.environ[n] for n in API_KEY_ENVS if os.environ.get(n)), None)

    def _request(self, path: str, body: dict | None) -> urllib.request.Request:
        headers = {"Content-Type": "application/json"}
        key = self.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = None if body is None else json.dumps(body).encode()
        return urllib.request.Request(self.base_url + path, data=data, headers=headers,
                                      method="GET" if body is None else "POST")

    def call(self, path: str, body: dict | None = None) -> dict:
        """GET (body None) or POST `path`; the parsed JSON reply, or ServerError naming why not."""
        last = ""
        for attempt in range(self.config.max_retries + 1):
            wait = self.config.backoff_s * 2 ** attempt
            try:
                with urllib.request.urlopen(self._request(path, body), timeout=self.config.timeout_s) as reply:
                    return json.loads(reply.read().decode())
            except urllib.error.HTTPError as exc:
                detail = _error_text(exc)
                if exc.code not in RETRY_STATUS:
                    raise ServerError(_refusal(self.base_url + path, exc.code, detail)) from None
                last = f"HTTP {exc.code}: {detail}"
                wait = max(wait, _retry_after(exc))
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as exc:
                last = _connection_text(exc)
            except json.JSONDecodeError:
                last = "the reply was not JSON (is this an OpenAI-compatible server?)"
            if attempt < self.config.max_retries:
                self.sleep(wait)
        raise ServerError(f"model server {self.base_url}{path} failed {self.config.max_retries + 1} times; "
                          f"last: {last}. Finished items are kept: re-run the same command to resume.")


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read().decode(errors="replace")
    except Exception:  # noqa: BLE001 - the body is only decoration for the message
        raw = ""
    try:
        err = json.loads(raw).get("error", raw)
        raw = err.get("message", raw) if isinstance(err, dict) else str(err)
    except (ValueError, AttributeError):
        pass
    return " ".join(str(raw).split())[:300] or exc.reason


def _refusal(url: str, code: int, detail: str) -> str:
    hint = {401: f" Set the key in ${API_KEY_ENVS[0]} (or ${API_KEY_ENVS[1]}).",
            403: f" Set the key in ${API_KEY_ENVS[0]} (or ${API_KEY_ENVS[1]}).",
            404: " Check the URL (it usually ends in /v1) and the served model name after '#'."}.get(code, "")
    return f"model server refused {url}: HTTP {code}: {detail}.{hint}"


def _retry_after(exc: urllib.error.HTTPError) -> float:
    try:
        return float(exc.headers.get("Retry-After", 0))
    except (TypeError, ValueError):
        return 0.0


def _connection_text(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    return f"{type(reason).__name__}: {reason}"

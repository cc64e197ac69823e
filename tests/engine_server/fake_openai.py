"""A tiny OpenAI-compatible completions server on 127.0.0.1, in a thread, for engine tests.

It answers like a deterministic model: the uncertainty query gets " ii"
likelier than " i", the verbalized query gets " 80", everything else gets
ANSWER. `failures` is a script of what the next completion requests get
instead (an HTTP status, or "drop" to close the connection unanswered);
`die_after` makes every completion after that many fail with a drop, as a
server that went away mid-run.
"""
from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from calib_eval import prompts

ANSWER = " Paris"
P_YES, P_NO = -0.5, -1.5  # log-probs of " ii" and " i" after the uncertainty query
CHOICE_TOP = {" B": -0.7, " A": -1.2, " C": -2.0, " D": -2.5}  # after a multiple-choice prompt


class FakeServer:
    def __init__(self, models=("tiny",), logprobs=True, layout="openai", n_choices=True, query_rank=None,
                 max_logprobs=None, n_vocab=None):
        self.models, self.logprobs, self.layout, self.n_choices = list(models), logprobs, layout, n_choices
        # " i"/" ii" only among the alternatives when more than query_rank are asked for;
        # more than max_logprobs alternatives is refused (HTTP 400, as vLLM's --max-logprobs)
        self.query_rank, self.max_logprobs = query_rank, max_logprobs
        self.n_vocab = n_vocab  # listed under /models meta, as llama.cpp does
        self.failures: list = []
        self.die_after: int | None = None
        self.completions = 0  # completion requests answered
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def next_failure(self):
        with self._lock:
            if self.die_after is not None and self.completions >= self.die_after:
                return "drop"
            return self.failures.pop(0) if self.failures else None

    def reply(self, body: dict) -> tuple[int, dict]:
        if body.get("model") not in self.models:
            return 404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}}
        n = int(body.get("n", 1))
        if n > 1 and not self.n_choices:
            return 400, {"error": {"message": "Only one completion choice is allowed"}}
        if self.max_logprobs is not None and int(body.get("logprobs") or 0) > self.max_logprobs:
            return 400, {"error": {"message": f"logprobs must be <= {self.max_logprobs}"}}
        prompt = body["prompt"]
        with self._lock:
            self.completions += 1
            self.requests.append(body)
        if prompt.endswith(prompts.UNCERTAINTY_QUERY):
            tokens, top = [" ii"], [{" ii": P_YES, " i": P_NO, " yes": -3.0}]
            if self.query_rank is not None and int(body.get("logprobs") or 0) <= self.query_rank:
                tokens, top = [" yes"], [{" yes": -3.0, " no": -4.0}]
        elif prompt.endswith("Answer:") and "\nA. " in prompt:  # a multiple-choice prompt: letters
            tokens, top = [" B"], [dict(CHOICE_TOP)]
        elif prompt.endswith(prompts.VERBALIZED_QUERY):
            tokens, top = [" 80"], [{" 80": -0.2, " 50": -2.0}]
        else:
            tokens, top = [" Par", "is", "\n"], [{" Par": -0.1, " Lon": -2.5}, {"is": -0.05, "ma": -3.0},
                                                 {"\n": -0.3, ".": -1.5}]
        tokens, top = tokens[: int(body.get("max_tokens", 16))], top[: int(body.get("max_tokens", 16))]
        text = "".join(tokens).split("\n")[0]
        choices = [{"index": i, "text": text, "finish_reason": "stop",
                    "logprobs": self._logprobs(tokens, top, body)} for i in range(n)]
        return 200, {"object": "text_completion", "model": body["model"], "choices": choices}

    def _logprobs(self, tokens, top, body):
        if not self.logprobs or body.get("logprobs") is None:
            return None
        chosen = [t[tok] for tok, t in zip(tokens, top)]
        if self.layout == "llama.cpp":
            return {"content": [{"token": tok, "logprob": lp,
                                 "top_logprobs": [{"token": k, "logprob": v} for k, v in t.items()]}
                                for tok, lp, t in zip(tokens, chosen, top)]}
        return {"tokens": tokens, "token_logprobs": chosen, "top_logprobs": top,
                "text_offset": [sum(map(len, tokens[:i])) for i in range(len(tokens))]}


def _handler(fake: FakeServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def _send(self, status: int, payload: dict, headers: dict | None = None):
            data = json.dumps(payload).encode()
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip("/") == "/v1/models":
                meta = {"meta": {"n_vocab": fake.n_vocab}} if fake.n_vocab else {}
                self._send(200, {"object": "list", "data": [{"id": m, "object": "model", **meta}
                                                            for m in fake.models]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            failure = fake.next_failure()
            if failure == "drop":
                self.close_connection = True
                self.connection.shutdown(2)  # no status line at all: the client sees a dropped connection
                return
            if failure is not None:
                self._send(failure, {"error": {"message": f"scripted HTTP {failure}"}}, {"Retry-After": "0"})
                return
            self._send(*fake.reply(body))

    return Handler


def p_true() -> float:
    """What P(True) must come out as for the fake's uncertainty-query reply."""
    return 1.0 / (1.0 + math.exp(P_NO - P_YES))

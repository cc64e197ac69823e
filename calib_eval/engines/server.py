"""The OpenAI-compatible server engine: what it is, what it can do, and how it completes.

Opening it asks the server which models it serves (an unknown name fails
with a did-you-mean, before any item runs) and sends one one-token probe to
learn whether completions carry log-probs. Requests go out `concurrency` at
a time; every request is retried by `JsonClient` on 429/5xx/drops.
"""
from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from calib_eval.engines.completions import Completion, choices_of
from calib_eval.engines.http import JsonClient
from calib_eval.engines.spec import SERVER_PREFIX, ServerConfig, parse_server_model
from calib_eval.errors import ServerError, unknown_name

# what any server engine can do; log-prob capabilities are added when the probe sees them
BASE_CAPABILITIES = frozenset({"generate", "sample"})


@dataclass
class ServerEngine:
    client: JsonClient
    served_model: str
    config: ServerConfig
    capabilities: frozenset = BASE_CAPABILITIES
    skipped: dict = field(default_factory=dict)  # scorer -> why this server cannot run it
    wide_top_k: bool = True  # False once the server refused a wide top-k (calib_eval.engines.remote_ops)
    meta: dict = field(default_factory=dict)  # what /models says about the model (llama.cpp: n_vocab, ftype ...)
    tokenizer: object = None  # no local tokenizer or weights: scorers must go through the server
    model: object = None
    device: str = "server"
    dtype: str = "served"

    @property
    def name(self) -> str:  # the runner's output folder and the results' model name
        return self.served_model

    @property
    def source(self) -> str:
        return f"{SERVER_PREFIX}{self.served_model}"

    @property
    def url(self) -> str:
        return self.client.base_url

    @property
    def fingerprint(self) -> str:
        """Served name + what the server says about the weights; the URL is left out so a
        restarted server on another port still resumes the same item cache."""
        blob = json.dumps({"model": self.served_model, "meta": self.meta}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def complete(self, prompts: list[str], **params) -> list[list[Completion]]:
        """One /completions call per prompt, same parameters; the choices of each, in order."""
        return self.complete_bodies([{"prompt": p, **params} for p in prompts])

    def complete_bodies(self, bodies: list[dict]) -> list[list[Completion]]:
        """One /completions call per body (run `concurrency` at a time); the choices of each, in order."""
        def one(body: dict) -> list[Completion]:
            return choices_of(self.client.call("/completions", {"model": self.served_model, **body}))

        if len(bodies) == 1 or self.config.concurrency == 1:
            return [one(b) for b in bodies]
        with ThreadPoolExecutor(max_workers=min(self.config.concurrency, len(bodies))) as pool:
            return list(pool.map(one, bodies))

    def describe(self) -> dict:
        return {"kind": "openai-completions", "url": self.url, "served_model": self.served_model,
                "capabilities": ",".join(sorted(self.capabilities))}


def served_models(client: JsonClient) -> dict[str, dict]:
    """{name: metadata} of what the server serves; llama.cpp lists aliases too."""
    reply = client.call("/models")
    models: dict[str, dict] = {}
    for entry in reply.get("data") or [] if isinstance(reply, dict) else []:
        meta = entry.get("meta") or {}
        for name in [entry.get("id"), *(entry.get("aliases") or [])]:
            if isinstance(name, str) and name:
                models.setdefault(name, meta)
    if not models:
        raise ServerError(f"model server {client.base_url} lists no models at /models: {str(reply)[:200]}")
    return models


def open_server(model: str, config: ServerConfig | None = None, client: JsonClient | None = None) -> ServerEngine:
    """Connect, check the served model name, probe log-probs."""
    config = config or ServerConfig()
    target = parse_server_model(model)
    client = client or JsonClient(target.base_url, config)
    models = served_models(client)
    served = target.served_model
    if served is None:
        if len(models) != 1:
            raise ServerError(f"{target.base_url} serves {len(models)} models; name one: "
                              f"{SERVER_PREFIX}{target.base_url}#NAME ({', '.join(sorted(models))})")
        served = next(iter(models))
    elif served not in models:
        raise unknown_name(f"served model (at {target.base_url})", served, models)
    engine = ServerEngine(client, served, config, meta=models[served])
    engine.capabilities = BASE_CAPABILITIES | probe_logprobs(engine)
    return engine


def probe_logprobs(engine: ServerEngine) -> frozenset:
    """Which log-prob capabilities one greedy token reveals, and whether one request gives n choices."""
    reply = engine.complete(["The capital of France is"], max_tokens=1, temperature=0.0,
                            logprobs=engine.config.top_logprobs)[0][0]
    found = set()
    try:  # llama.cpp answers n > 1 with HTTP 400: samples then go one request each
        if len(engine.complete(["The capital of France is"], max_tokens=1, n=2)[0]) == 2:
            found.add("n_choices")
    except ServerError:
        pass
    if reply.has_logprobs:
        found.add("token_logprobs")
        if reply.top and len(reply.top[0]) >= 2:  # also picks single-token options (choice tasks)
            found |= {"next_token_logprobs", "choice_logprobs"}
    return frozenset(found)

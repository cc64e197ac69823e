"""Which engine a `--model` string names, and the server engine's settings.

`--model openai-completions:<base URL>[#<served model>]` selects the
OpenAI-compatible server engine (vLLM, SGLang, llama.cpp's llama-server, TGI,
hosted APIs); anything else is the in-process Hugging Face engine. The served
model name may be left out when the server serves exactly one model.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from calib_eval.errors import ConfigError

SERVER_PREFIX = "openai-completions:"
API_KEY_ENVS = ("CALIB_EVAL_API_KEY", "OPENAI_API_KEY")  # first one set wins


@dataclass(frozen=True)
class ServerConfig:
    """How the server engine talks to its server (the CLI mirrors these fields)."""

    timeout_s: float = 120.0  # per HTTP request
    max_retries: int = 4  # extra tries on HTTP 429/5xx and dropped connections
    backoff_s: float = 1.0  # first wait; doubles each retry (a 429's Retry-After wins when longer)
    concurrency: int = 4  # requests in flight at once
    top_logprobs: int = 20  # next-token alternatives asked for (entropy, P(True)); OpenAI's own API allows 5

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.backoff_s < 0:
            raise ConfigError(f"server timeout must be > 0 and backoff >= 0, got {self.timeout_s}, {self.backoff_s}")
        if self.max_retries < 0 or self.concurrency < 1 or self.top_logprobs < 2:
            raise ConfigError(f"server retries must be >= 0, concurrency >= 1 and top_logprobs >= 2, got "
                              f"{self.max_retries}, {self.concurrency}, {self.top_logprobs}")


@dataclass(frozen=True)
class ServerTarget:
    base_url: str  # ends before /completions, e.g. http://127.0.0.1:8080/v1
    served_model: str | None  # None: the one model the server lists


def is_server_model(model: str) -> bool:
    return model.startswith(SERVER_PREFIX)


def parse_server_model(model: str) -> ServerTarget:
    """`openai-completions:http://host:port/v1#name` -> ServerTarget; bad URLs named."""
    rest = model[len(SERVER_PREFIX):]
    url, _, served = rest.partition("#")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"--model {model!r}: expected {SERVER_PREFIX}http(s)://HOST:PORT/v1[#SERVED_MODEL], "
                          f"e.g. {SERVER_PREFIX}http://127.0.0.1:8000/v1#Qwen/Qwen2.5-7B-Instruct")
    url = url.rstrip("/")
    if not parsed.path.rstrip("/"):  # servers mount the OpenAI routes under /v1
        url += "/v1"
    return ServerTarget(url, served or None)

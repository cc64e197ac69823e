"""The server engine's HTTP layer and parsing, against a fake OpenAI server on 127.0.0.1 (normal CI)."""
from __future__ import annotations

import math
import socket

import pytest
from fake_openai import FakeServer

from calib_eval.engines.completions import choices_of, topk_entropy
from calib_eval.engines.http import JsonClient
from calib_eval.engines.server import open_server
from calib_eval.engines.spec import ServerConfig, parse_server_model
from calib_eval.errors import ConfigError, ServerError, UnknownNameError


def client(fake, retries=3, sleeps=None):
    return JsonClient(fake.url, ServerConfig(max_retries=retries, backoff_s=0.5),
                      sleep=(sleeps.append if sleeps is not None else lambda s: None))


BODY = {"model": "tiny", "prompt": "Q: capital of France?\nA:", "max_tokens": 4, "logprobs": 5}


def test_429_500_and_a_dropped_connection_are_retried_with_doubling_waits():
    sleeps = []
    with FakeServer() as fake:
        fake.failures = [429, 500, "drop"]
        reply = client(fake, sleeps=sleeps).call("/completions", BODY)
    assert choices_of(reply)[0].text == " Paris"
    assert sleeps == [0.5, 1.0, 2.0]  # 429's Retry-After: 0 is shorter than the backoff
    assert fake.completions == 1


def test_a_server_that_keeps_failing_names_the_status_and_the_tries():
    with FakeServer() as fake:
        fake.failures = [500] * 10
        with pytest.raises(ServerError, match=r"failed 3 times; last: HTTP 500: scripted HTTP 500.*resume"):
            client(fake, retries=2).call("/completions", BODY)


def test_client_errors_are_not_retried():
    with FakeServer() as fake:
        with pytest.raises(ServerError, match="HTTP 404: The model `nope` does not exist"):
            client(fake).call("/completions", {**BODY, "model": "nope"})
        assert fake.completions == 0 and fake.failures == []


def test_an_unreachable_server_is_named():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ServerError, match=rf"127.0.0.1:{port}/v1/models failed 2 times; last: ConnectionRefused"):
        open_server(f"openai-completions:http://127.0.0.1:{port}/v1#tiny", ServerConfig(max_retries=1, backoff_s=0))


def test_a_model_the_server_does_not_serve_gets_did_you_mean():
    with FakeServer(models=("tiny-instruct", "other")) as fake, \
            pytest.raises(UnknownNameError, match=r"'tiny-instrcut'.*Did you mean 'tiny-instruct'"):
        open_server(f"openai-completions:{fake.url}#tiny-instrcut")


def test_the_served_name_may_be_left_out_only_when_one_model_is_served():
    with FakeServer(models=("only",)) as fake:
        assert open_server(f"openai-completions:{fake.url}").served_model == "only"
    with FakeServer(models=("a", "b")) as fake, pytest.raises(ServerError, match="serves 2 models; name one"):
        open_server(f"openai-completions:{fake.url}")


@pytest.mark.parametrize("layout", ["openai", "llama.cpp"])
def test_capabilities_are_probed(layout):
    with FakeServer(layout=layout, n_choices=layout == "openai") as fake:
        engine = open_server(f"openai-completions:{fake.url}#tiny")
    assert {"token_logprobs", "next_token_logprobs", "generate", "sample"} <= engine.capabilities
    assert ("n_choices" in engine.capabilities) == (layout == "openai")
    with FakeServer(logprobs=False) as fake:
        assert open_server(f"openai-completions:{fake.url}#tiny").capabilities == {"generate", "sample", "n_choices"}


def test_both_logprob_layouts_parse_alike_and_kept_drops_the_stop_token():
    parsed = []
    for layout in ("openai", "llama.cpp"):
        with FakeServer(layout=layout) as fake:
            parsed.append(choices_of(client(fake).call("/completions", BODY))[0])
    assert parsed[0] == parsed[1]
    full = parsed[0]
    assert full.tokens == (" Par", "is", "\n") and full.logprobs == (-0.1, -0.05, -0.3)
    kept = full.kept(full.text.rstrip())
    assert kept.tokens == (" Par", "is") and kept.logprobs == (-0.1, -0.05) and len(kept.top) == 2


def test_topk_entropy_counts_the_unseen_tail_as_one_outcome():
    assert topk_entropy({"a": 0.0}) == 0.0
    half = math.log(0.5)
    assert topk_entropy({"a": half, "b": half}) == pytest.approx(math.log(2))
    assert topk_entropy({"a": half}) == pytest.approx(math.log(2))  # 0.5 seen + 0.5 tail


@pytest.mark.parametrize("model", ["openai-completions:localhost:8000", "openai-completions:ftp://x/v1"])
def test_bad_server_urls_are_named(model):
    with pytest.raises(ConfigError, match="expected openai-completions:http"):
        parse_server_model(model)


def test_a_bare_host_gets_v1_and_the_name_after_hash():
    target = parse_server_model("openai-completions:http://127.0.0.1:8000#Qwen/Qwen2.5-7B-Instruct")
    assert target.base_url == "http://127.0.0.1:8000/v1" and target.served_model == "Qwen/Qwen2.5-7B-Instruct"


def test_the_api_key_comes_from_the_environment(monkeypatch):
    with FakeServer() as fake:
        monkeypatch.setenv("CALIB_EVAL_API_KEY", "sk-test")
        request = client(fake)._request("/models", None)
    assert request.get_header("Authorization") == "Bearer sk-test"

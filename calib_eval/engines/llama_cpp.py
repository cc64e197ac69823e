"""A local llama.cpp server for a zoo model's GGUF, for tests, the two-engine bench and demos.

    python -m calib_eval.engines.llama_cpp default --port 8080
    calib-eval run --model openai-completions:http://127.0.0.1:8080/v1#default ...

It runs llama.cpp's own C++ server (continuous batching, OpenAI routes,
log-probs) through the `xllamacpp` wheel, which ships it prebuilt for CPU
(`pip install 'calib-eval[server-test]'`), so nothing is compiled. The GGUF
is the one the offline zoo converts from (`calib_eval.model_zoo`), kept
under the cache the first time.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from calib_eval import model_zoo
from calib_eval.errors import ModelError


def gguf_path(name: str = "default") -> Path:
    """The zoo model's original GGUF (quantised, as its wheel ships it), assembled once."""
    spec = model_zoo.ZOO[model_zoo.canonical_name(name)]
    target = model_zoo.cache_root() / "gguf" / spec.gguf_name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".assemble-") as tmp:
        wheels = model_zoo._pip_download(spec.wheels, Path(tmp) / "wheels")
        built = model_zoo._assemble_gguf(spec, wheels, Path(tmp))
        built.rename(target)  # same folder: atomic, so a killed run never leaves half a file
    return target


def start(gguf: Path, port: int, alias: str, threads: int = 1, n_ctx: int = 8192, slots: int = 1):
    """Start llama.cpp's server on 127.0.0.1:port; returns the server object (keep it alive)."""
    try:
        import xllamacpp
    except ImportError as exc:
        raise ModelError("the local llama.cpp server needs the xllamacpp wheel: "
                         "pip install 'calib-eval[server-test]'") from exc
    params = xllamacpp.CommonParams()
    params.model.path = str(gguf)
    params.model_alias = {alias}
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = n_ctx * slots  # llama.cpp splits the context over its slots
    params.n_parallel = slots
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    return xllamacpp.Server(params)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="default", help="zoo model name, or a .gguf path")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--alias", default=None, help="served model name (default: the zoo name given)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--slots", type=int, default=1, help="requests decoded in parallel")
    args = parser.parse_args(argv)
    gguf = Path(args.model) if args.model.endswith(".gguf") else gguf_path(args.model)
    server = start(gguf, args.port, args.alias or Path(args.model).stem, args.threads, slots=args.slots)
    print(f"serving {gguf.name} as {args.alias or Path(args.model).stem!r} at {server.listening_address}/v1",
          flush=True)
    while True:  # the server runs on its own threads; Ctrl-C ends it
        time.sleep(3600)


if __name__ == "__main__":
    raise SystemExit(main())

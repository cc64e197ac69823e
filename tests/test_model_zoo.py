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

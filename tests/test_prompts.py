"""The prompt files: loading, versioning by content, strict rendering."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from agent.prompts import PROMPT_FILES, PromptError, PromptSet
from merchant_review.resources import data_dir
from merchant_review.taxonomy import Category


@pytest.fixture
def prompt_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "prompts"
    shutil.copytree(data_dir("prompts"), folder)
    return folder


def test_the_shipped_prompts_load_with_a_content_version() -> None:
    prompts = PromptSet.load()
    assert set(prompts.texts) == set(PROMPT_FILES)
    assert re.fullmatch(r"prompts-[0-9a-f]{12}", prompts.version)
    assert PromptSet.load().version == prompts.version


def test_editing_a_prompt_changes_the_version(prompt_dir: Path) -> None:
    before = PromptSet.load(prompt_dir).version
    assert before == PromptSet.load().version  # same contents, same version
    path = prompt_dir / "submit_reminder.md"
    path.write_text(path.read_text() + "\nPlease.\n")
    assert PromptSet.load(prompt_dir).version != before


def test_unrelated_files_do_not_change_the_version(prompt_dir: Path) -> None:
    before = PromptSet.load(prompt_dir).version
    (prompt_dir / "NOTES.txt").write_text("scratch")
    assert PromptSet.load(prompt_dir).version == before


def test_a_missing_prompt_file_is_a_clear_error(prompt_dir: Path) -> None:
    (prompt_dir / "final_call.md").unlink()
    with pytest.raises(PromptError, match=r"final_call\.md"):
        PromptSet.load(prompt_dir)


def test_a_template_syntax_error_is_reported_at_load(prompt_dir: Path) -> None:
    (prompt_dir / "system.md").write_text("{% if %}broken")
    with pytest.raises(PromptError, match=r"system\.md"):
        PromptSet.load(prompt_dir)


def test_the_system_prompt_lists_every_category_and_the_untrusted_data_rule() -> None:
    system = PromptSet.load().system()
    lines = {line.split(": ", 1)[0]: line for line in system.splitlines() if ": " in line}
    for category in Category:
        # Ids grouped under their tier: "- prohibited: adult_content, illegal_drugs, ..."
        assert category.value in lines[f"- {category.tier.value}"].split(": ", 1)[1].split(", ")
    assert "never instructions" in system
    assert "proves nothing" in system
    assert "<untrusted_page>" in system


def test_a_missing_value_fails_instead_of_rendering_empty() -> None:
    with pytest.raises(PromptError, match=r"review_task\.md"):
        PromptSet.load().review_task(website="https://x.example/")


def test_values_are_not_evaluated_as_template_code() -> None:
    text = PromptSet.load().invalid_verdict("bad {{ 7 * 7 }} {% raw %}", "tool")
    assert "bad {{ 7 * 7 }} {% raw %}" in text
    assert "49" not in text


def test_final_call_carries_the_schema_only_in_json_mode() -> None:
    prompts = PromptSet.load()
    assert '{"title": "S"}' in prompts.final_call("json_object", '{"title": "S"}')
    tool = prompts.final_call("tool", '{"title": "S"}')
    assert "submit_verdict" in tool
    assert '"title"' not in tool


def test_each_template_is_compiled_once_however_often_it_is_rendered() -> None:
    from agent import prompts as module

    module._template.cache_clear()
    loaded = PromptSet.load()
    for _ in range(3):
        loaded.submit_reminder()
        loaded.system()
    info = module._template.cache_info()
    assert (info.misses, info.hits) == (2, 4)

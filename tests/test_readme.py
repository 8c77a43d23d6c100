"""The README's quickstart runs as written, and its set-up commands stay as CI uses them."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # integration: the fast tier is pytest -m "not slow"

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _block(title, language):
    section = README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(rf"```{language}\n(.*?)```", section, re.S).group(1)


def test_quickstart_runs(capsys):
    code = _block("Quickstart", "python")
    assert len(code.strip().splitlines()) <= 20
    exec(compile(code, "README quickstart", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert "'learning_rate'" in out[0] and "'batch_size'" in out[0]
    assert "explore" in out[1] and "narrow" in out[1]
    assert len(out[2].split(",")) == 3  # three epochs of learning rates


def test_the_keras_tuner_example_runs(capsys):
    code = _block("Coming from KerasTuner: build functions of `hp`", "python")
    exec(compile(code, "README KerasTuner example", "exec"), {})
    out = capsys.readouterr().out
    assert "hp__units" in out and "hp__learning_rate" in out and "{'packed'}" in out


def test_the_first_two_commands_are_the_main_job_and_the_tests():
    commands = re.findall(r"```bash\n(.*?)\n```", README, re.S)[:2]
    assert commands[0].endswith("pip install . && skhp tune")
    assert commands[1].endswith('pip install -e ".[test]" && pytest -n 2')
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert 'pip install -e ".[test]" && pytest -n 2' in ci

"""Every command README.md and docs/ give parses with the scripts' own flags, as written."""
import re
import shlex

import pytest

from conftest import PROJECT_DIR, unparsed

DOCUMENTS = ["README.md", "CONTRIBUTING.md", *sorted(str(path.relative_to(PROJECT_DIR)) for path in (PROJECT_DIR / "docs").glob("*.md"))]


def documented_commands(document):
    """(line, argv) of each python3 command in the document's fenced shell blocks."""
    text = (PROJECT_DIR / document).read_text()
    commands = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)  # "#" starts a comment
            lexer.whitespace_split = True
            part = []
            for token in [*lexer, ";"]:
                if token not in ("&&", ";", "|", "||"):
                    part.append(token)
                    continue
                words, part = part, []
                while words and "=" in words[0]:  # KERAS_BACKEND=jax python3 ...
                    words = words[1:]
                if words and re.fullmatch(r"(python3(\.\d+)?|\.venv/bin/python)", words[0]) and words[1:2] != ["-m"]:
                    commands.append((line.strip(), words[1:]))
    return commands


def test_the_readme_gives_its_first_command_early_and_stays_short():
    lines = (PROJECT_DIR / "README.md").read_text().splitlines()
    assert len(lines) <= 250
    first_fence = next(number for number, line in enumerate(lines, 1) if line.startswith("```"))
    assert first_fence <= 40


@pytest.mark.parametrize("document", DOCUMENTS)
def test_each_documented_command_parses(document):
    commands = documented_commands(document)
    missing = [line for line, argv in commands if not (PROJECT_DIR / argv[0]).is_file()]
    assert not missing, f"{document}: no such script in {missing}"
    assert unparsed([argv for _, argv in commands]) == [], f"{document}: commands that do not parse"

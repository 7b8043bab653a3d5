"""Every command README.md and docs/ give parses with the scripts' own flags, as written."""
import json
import re
import shlex
import subprocess
import sys

import pytest

from conftest import PROJECT_DIR

DOCUMENTS = ["README.md", "CONTRIBUTING.md", *sorted(str(path.relative_to(PROJECT_DIR)) for path in (PROJECT_DIR / "docs").glob("*.md"))]
# Runs scripts with argparse made strict and harmless: each command line is parsed in full
# (unknown flags and bad values fail as they would), then the script stops before any work.
# One process for all of a document's commands, so Keras is imported once.
PARSE_ONLY = """
import argparse, contextlib, io, json, runpy, sys
def parse_only(self, args=None, namespace=None):
    namespace, extra = self.parse_known_args(args, namespace)
    if extra:
        self.error("unrecognized arguments: " + " ".join(extra))
    raise SystemExit(0)
argparse.ArgumentParser.parse_args = parse_only
sys.path.insert(0, ".")
failures = []
for argv in json.loads(sys.argv[1]):
    sys.argv = argv
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(io.StringIO()):
            runpy.run_path(argv[0], run_name="__main__")
        code = 0
    except SystemExit as stop:
        code = stop.code
    if code not in (0, None):
        failures.append(" ".join(argv) + ": " + said.getvalue()[-500:])
print(json.dumps(failures))
"""


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
    result = subprocess.run([sys.executable, "-c", PARSE_ONLY, json.dumps([argv for _, argv in commands])],
                            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [], f"{document}: commands that do not parse"

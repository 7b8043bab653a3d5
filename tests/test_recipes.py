"""Each shipped model's recipe: its chain of commands parses with the scripts' own flags,
reads only files made by an earlier step, and a rerun skips or resumes its steps."""
import shlex
import shutil
import subprocess

import pytest

from conftest import PROJECT_DIR, unparsed

RECIPES = sorted(path.stem for path in (PROJECT_DIR / "recipes").glob("*.sh") if path.stem != "common")
READS = ("--init", "--teacher")


def dry_run(recipe):
    result = subprocess.run(["bash", f"recipes/{recipe}.sh", "--dry-run"], cwd=PROJECT_DIR, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    commands = []
    for line in result.stdout.splitlines():
        if line.startswith("#"):
            continue
        words = shlex.split(line)
        if words[0] == "env":
            words = words[1:]
        while "=" in words[0]:
            words = words[1:]
        assert words[0] == "python3", line
        commands.append(words[1:])
    return commands


def files_read(argv):
    """The model files a command reads: average_models.py's models, --init and --teacher's."""
    read, flag = [], "models" if argv[0] == "average_models.py" else None
    for word in argv[1:]:
        if word.startswith("--"):
            flag = word
        elif flag in ("models", *READS):
            read.append(word)
    return read


def output(argv):
    return argv[argv.index("--output") + 1]


def shipped_outputs():
    return {output(argv) for recipe in RECIPES for argv in dry_run(recipe) if output(argv).startswith("models/")}


@pytest.mark.parametrize("recipe", RECIPES)
def test_a_recipe_parses_and_reads_only_what_it_made_before(recipe):
    commands = dry_run(recipe)
    assert commands and unparsed(commands) == []
    made, shipped = set(), shipped_outputs()
    for argv in commands:
        missing = [path for path in files_read(argv) if path not in made and path not in shipped]
        assert not missing, f"{' '.join(argv)} reads {missing}, which no earlier step makes"
        made.add(output(argv))
    if recipe != "retired":
        assert f"models/{recipe}.h5" in made  # the member; a later step may derive files from it


def test_a_recipe_rerun_skips_finished_steps_and_resumes_the_interrupted_one(tmp_path):
    (tmp_path / "recipes").mkdir()
    shutil.copy(PROJECT_DIR / "recipes" / "common.sh", tmp_path / "recipes")
    (tmp_path / "recipes" / "demo.sh").write_text(
        'source "$(dirname "$0")/common.sh"\n'
        'step sh -c \'echo first "$@" >> log\' - --output runs/a.h5\n'
        'step sh -c \'echo second "$@" >> log; test -f go\' - --output runs/b.h5\n')
    first = subprocess.run(["bash", "recipes/demo.sh"], cwd=tmp_path, capture_output=True, text=True)
    assert first.returncode != 0  # the second step fails, as an interrupted training would
    (tmp_path / "runs" / "b.resume.json").write_text("{}")
    (tmp_path / "go").write_text("")
    again = subprocess.run(["bash", "recipes/demo.sh"], cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "log").read_text().splitlines() == [
        "first --output runs/a.h5", "second --output runs/b.h5", "second --output runs/b.h5 --resume"]
    dry = subprocess.run(["bash", "recipes/demo.sh", "--dry-run"], cwd=tmp_path, capture_output=True, text=True)
    assert dry.stdout.splitlines()[0].startswith("sh -c") and len((tmp_path / "log").read_text().splitlines()) == 3

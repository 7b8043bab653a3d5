"""bench.py's command line: bad input stops before the timing starts."""
from conftest import assert_clean_error, run_in_process


def test_a_missing_data_file_or_bad_widths_stop_before_the_timing(tmp_path, capsys):
    missing = run_in_process("bench.py", "--data", tmp_path / "nowhere.csv", "--quick", capsys=capsys)
    assert_clean_error(missing, "nowhere.csv: no such file")
    bad_widths = run_in_process("bench.py", "--widths", "0.25,abc", "--quick", capsys=capsys)
    assert bad_widths.returncode == 2 and "--widths" in bad_widths.stderr and "Traceback" not in bad_widths.stderr

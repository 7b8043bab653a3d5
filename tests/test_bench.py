"""bench.py's command line: bad input stops before the timing starts."""
from conftest import assert_clean_error, run_script


def test_a_missing_data_file_or_bad_widths_stop_before_the_timing(tmp_path):
    missing = run_script("bench.py", "--data", tmp_path / "nowhere.csv", "--quick")
    assert_clean_error(missing, "nowhere.csv: no such file")
    bad_widths = run_script("bench.py", "--widths", "0.25,abc", "--quick")
    assert bad_widths.returncode == 2 and "--widths" in bad_widths.stderr and "Traceback" not in bad_widths.stderr

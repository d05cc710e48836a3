"""Tests mirror the packages: nas/, search_spaces/, export/ and nas/study/ (study/)."""

# Options every quick CLI study in the tests takes: the CPU, no progress bars, no confirm stage.
QUICK = ["--device", "cpu", "--quiet", "--no-confirm"]

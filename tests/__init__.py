"""Tests mirror the packages: nas/, search_spaces/, export/ and nas/study/ (study/)."""

# Options every quick CLI study in the tests takes: the CPU, no progress bars, no confirm stage.
QUICK = ["--device", "cpu", "--quiet", "--no-confirm"]

# For a study that confirms but whose test is not about latency: the exported graphs are not
# timed (exporting each tested layout takes seconds).
NO_LATENCY = ["--confirm-latency-repeats", "0"]

# For a study that confirms but whose test is not about the peers (nas.model.peers): none
# joins, so the stage trains only the layouts the test is about.
NO_PEERS = ["--confirm-peers", "none"]

# The smallest confirm stage worth checking: one finalist, two seeds (a spread and a pairing),
# nothing timed, no peers.
SMALL_CONFIRM = ["--confirm-top", "1", "--confirm-seeds", "2", *NO_LATENCY, *NO_PEERS]

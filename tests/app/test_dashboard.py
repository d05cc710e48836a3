"""``mtlnas dashboard`` serves a study written by ``mtlnas search``, with no conversion."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna_dashboard  # noqa: F401  (in the 'test' extra: these tests must not skip)
import pytest

from nas.app.cli import main
from tests import QUICK
from tests.servers import free_port

pytestmark = pytest.mark.slow  # real servers, several processes

TINY = ["--size", "tiny", *QUICK, "--epochs", "1"]


def get_json(url: str, deadline: float) -> dict[str, object]:
    # The server needs a moment to bind: poll until it answers or the deadline passes.
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.loads(r.read())  # type: ignore[no-any-return]
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def serve(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "nas.app.cli", "dashboard", "--port", str(port)]
    return subprocess.Popen(
        cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture
def study_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    args = ["search", "--benchmark", "digits", "--n-trials", "3", "--name", "dash", *TINY]
    assert main(args) == 0
    return tmp_path


def test_dashboard_serves_the_stored_study(study_dir: Path) -> None:
    port = free_port()
    server = serve(study_dir, port)
    try:
        base = f"http://127.0.0.1:{port}/api/studies"
        studies = get_json(base, time.monotonic() + 30)["study_summaries"]
        assert isinstance(studies, list)
        (study,) = [s for s in studies if s["study_name"] == "dash"]
        detail = get_json(f"{base}/{study['study_id']}?after=0", time.monotonic() + 10)
        trials = detail["trials"]
        assert isinstance(trials, list) and len(trials) >= 3
        # The layout and per-task metrics stored by the search show as user attributes.
        keys = {a["key"] for a in trials[0]["user_attrs"]}
        assert {"layout", "metrics", "delta_mtl"} <= keys
        # So do the stored weights, as the trial's artifacts.
        with_weights = [t for t in trials if t["artifacts"]]
        assert with_weights, "no trial's weights visible"
        for t in with_weights:
            assert [a["filename"] for a in t["artifacts"]] == [f"trial-{t['number']}.pt"]
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_dashboard_on_a_taken_port_is_a_one_line_error(study_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = serve(study_dir, port)
        _, err = server.communicate(timeout=60)
    assert server.returncode == 2
    assert "pick another --port" in err and "Traceback" not in err


def test_dashboard_on_a_missing_database_touches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["dashboard", "--port", str(free_port())]) == 2
    assert "studies.db" in capsys.readouterr().err
    assert not (tmp_path / "studies.db").exists()

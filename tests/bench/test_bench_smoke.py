"""The benchmark harness runs end to end against Hearth alone, at minimal sizes.

Timings are never asserted: only that every scenario produced its figures and the report
(JSON and table) came out.
"""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_harness_runs_against_hearth(tmp_path):
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--servers", "hearth", "--tiny", "--out", str(out),
         "--workdir", str(tmp_path / "work")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    figures = {row["key"]: row for row in result["figures"]}
    expected = {
        "first_start_s", "cold_start_s", "idle_rss_start_mib", "register_users_per_s", "send_events_per_s",
        "send_p99_ms", "delivery_idle_p99_ms", "delivery_load_p99_ms", "initial_sync_ms",
        "incremental_sync_ms", "ss_first_list_ms", "ss_delivery_p50_ms", "join_ms", "ingest_seq_events_per_s", "ingest_concurrent_events_per_s",
        "db_bytes_per_1000_messages", "written_bytes_per_message", "idle_rss_after_load_mib",
    }
    assert expected <= set(figures), expected - set(figures)
    for key in expected:
        assert figures[key]["hearth"] is not None and figures[key]["hearth"] > 0, key
        assert figures[key]["synapse"] is None  # Synapse was not run
    assert result["servers"]["hearth"].startswith("hearth")
    assert "send throughput" in proc.stdout and "Hearth/Synapse" in proc.stdout
    assert (tmp_path / "work" / "hearth" / "data" / "hearth.db").exists()

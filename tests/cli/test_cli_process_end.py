"""The ``vpcflow`` command ends its process without interpreter teardown (``cli/main.py``
``_end_process``), yet with everything teardown would have done that anyone can see: exit codes as
``SystemExit`` gives them, atexit handlers run, stdout and stderr flushed, non-daemon threads waited for."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


def test_codes_atexit_and_buffered_output() -> None:
    for code, want_rc, want_err in [("None", 0, ""), ("7", 7, ""), ("'refused'", 1, "refused\n")]:
        proc = _python(f"""
            import atexit, sys
            from vpcflow.cli.main import _end_process
            atexit.register(lambda: print("atexit ran"))
            sys.stdout.write("x" * 100_000)  # still in the buffer when the process ends
            _end_process({code})
            print("not reached")
            """)
        assert proc.returncode == want_rc
        assert proc.stdout == "x" * 100_000 + "atexit ran\n"
        assert proc.stderr == want_err


def test_a_running_non_daemon_thread_is_waited_for() -> None:
    proc = _python("""
        import threading, time
        from vpcflow.cli.main import _end_process
        t = threading.Thread(target=lambda: (time.sleep(0.3), print("thread done", flush=True)))
        t.start()
        _end_process(5)
        """)
    assert proc.returncode == 5
    assert proc.stdout == "thread done\n"


def test_the_command_without_argv_ends_the_process_with_its_code() -> None:
    ok = _python("""
        import sys
        from vpcflow.cli.main import main
        sys.argv = ["vpcflow", "fields"]
        main()
        print("not reached")
        """)
    assert ok.returncode == 0 and "srcaddr" in ok.stdout and "not reached" not in ok.stdout
    bad = _python("""
        import sys
        from vpcflow.cli.main import main
        sys.argv = ["vpcflow", "run", "/nonexistent/run.yaml"]
        main()
        """)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")

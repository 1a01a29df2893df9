"""A stand-in for autograder.batch.worker that speaks its protocol without grading: crashes and hangs on cue.

``crasher`` kills its own process (unless ``--no-crash``), ``hang`` never answers; any other
student gets full marks on one test. Run by the pool tests in place of the real worker.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from multiprocessing.connection import Connection

from autograder.batch import store
from autograder.grade.results import Results, TestResult, write_results


def main() -> None:
    fd, _parent = (int(a) for a in sys.argv[-2:])
    conn = Connection(fd)
    settings = conn.recv()
    conn.send({"ready": os.getpid()})
    while (job := conn.recv()) is not None:
        student = job.submission.student
        if student == "crasher" and "--no-crash" not in sys.argv:
            os.kill(os.getpid(), signal.SIGKILL)
        if student == "hang":
            time.sleep(3600)
        test = TestResult(name="public/test_toy.py::test_double", number="1.1", score=1.0, max_score=1.0,
                          passed=True, output="", visibility="visible")
        data = Results(assignment=settings.assignment.id, tests=(test,), output="", execution_time=0.1).to_json()
        write_results(store.annotate(data, job.submission, fingerprint=None, final=True),
                      store.results_path(settings.results_dir, student))
        conn.send({"done": {"student": student, "status": "graded", "final": True, "score": 1.0, "max_score": 1.0,
                            "seconds": 0.1}})


if __name__ == "__main__":
    main()

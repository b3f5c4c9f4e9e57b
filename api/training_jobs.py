"""Training jobs started over the API (`POST /v1/admin/train`).

Each job is `voc train` in a child process, so training never blocks or crashes the
server and uses the same validation, comparison and promote rule as the command line.
A job directory under $VOC_HOME/jobs/<id>/ holds the labeled data (personal data masked, as
everywhere, and deleted when the job ends), the log and job.json (status, result), so jobs
can be listed after a restart. One job runs at a time: training takes both cores of a small
machine. When a job promotes its model, `on_promoted` swaps it into the running server.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

from models.registry import InvalidName, check_name
from nlp.files import InputError
from nlp.normalize import clean_unicode, mask_pii
from training.data import TooLittleData, build_labeled_set, plan_split


class JobError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code = status, code


class TrainingJobs:
    def __init__(self, root: Path, on_promoted: Callable[[], None]):
        self.root, self.on_promoted = Path(root), on_promoted
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._procs: dict[str, subprocess.Popen] = {}
        for job in self.list():  # a server restart ends its children
            if job["status"] in ("running", "cancelling"):
                self._update(job["id"], status="interrupted", finished=time.time())
                self._job_file(job["id"]).with_name("data.jsonl").unlink(missing_ok=True)

    def _job_file(self, job_id: str) -> Path:
        if not job_id.isalnum():
            raise JobError(404, "not_found", f"no training job {job_id!r}")
        return self.root / job_id / "job.json"

    def _update(self, job_id: str, **fields) -> dict:
        path = self._job_file(job_id)
        job = {**json.loads(path.read_text()), **fields} if path.exists() else fields
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(job, ensure_ascii=False, indent=2))
        os.replace(tmp, path)
        return job

    def get(self, job_id: str, log_lines: int = 20) -> dict:
        path = self._job_file(job_id)
        if not path.exists():
            raise JobError(404, "not_found", f"no training job {job_id!r}")
        job = json.loads(path.read_text())
        log_file = path.parent / "train.log"
        if log_file.exists():  # progress bars redraw with \r: keep the last state of each line
            lines = [ln.split("\r")[-1] for ln in log_file.read_text(errors="replace").splitlines()]
            job["log_tail"] = [ln for ln in lines if ln.strip()][-log_lines:]
        return job

    def list(self) -> list[dict]:
        jobs = [json.loads(p.read_text()) for p in self.root.glob("*/job.json")]
        return sorted(jobs, key=lambda j: j.get("created", 0), reverse=True)

    def start(self, pairs: list[tuple[str, str]], name: str | None, epochs: float, promote: bool, force: bool) -> dict:
        """Validate the labels (a bad set fails here, before anything runs) and start `voc train`."""
        try:
            if name is not None:
                check_name(name)
        except InvalidName as e:
            raise JobError(422, "invalid_name", str(e))
        try:
            # masked as the analyzer masks what it reads (training reads the same text: normalisation masks first)
            data = build_labeled_set([(mask_pii(clean_unicode(t)) if isinstance(t, str) else t, lab) for t, lab in pairs], "items")
            plan_split(data, promote=promote)  # the split `voc train` makes: too few rows fail here, not in the job
        except TooLittleData as e:
            raise JobError(422, "too_little_data", str(e))
        except InputError as e:
            raise JobError(422, "bad_labels", str(e))
        with self._lock:
            running = [j for j, p in self._procs.items() if p.poll() is None]
            if running:
                raise JobError(409, "job_running", f"training job {running[0]} is still running; one job at a time")
            job_id = uuid.uuid4().hex[:12]
            folder = self.root / job_id
            folder.mkdir()
            with open(folder / "data.jsonl", "w", encoding="utf-8") as f:
                for ex in data.examples:
                    f.write(json.dumps({"text": ex.text, "label": ex.label}, ensure_ascii=False) + "\n")
            cmd = [sys.executable, "-m", "api.cli", "train", str(folder / "data.jsonl"), "--epochs", str(epochs)]
            cmd += ["--name", name] if name else []
            cmd += ["--promote"] if promote else []
            cmd += ["--force"] if force else []
            job = self._update(job_id, id=job_id, status="running", created=time.time(), examples=len(data.examples),
                               counts=data.counts, warnings=data.warnings, promote=promote, epochs=epochs)
            log = open(folder / "train.log", "wb")
            out = open(folder / "result.json", "wb")
            self._procs[job_id] = subprocess.Popen(cmd, stdout=out, stderr=log, stdin=subprocess.DEVNULL,
                                                   cwd=Path(__file__).resolve().parent.parent, start_new_session=True)
        threading.Thread(target=self._watch, args=(job_id, log, out), daemon=True, name=f"voc-train-{job_id}").start()
        return job

    def cancel(self, job_id: str) -> dict:
        job = self.get(job_id)
        proc = self._procs.get(job_id)
        if job["status"] != "running" or proc is None or proc.poll() is not None:
            raise JobError(409, "not_running", f"training job {job_id} is {job['status']}")
        self._update(job_id, status="cancelling")
        os.killpg(proc.pid, signal.SIGTERM)  # the serving model is only switched after a finished run
        return self.get(job_id)

    def _watch(self, job_id: str, log, out) -> None:
        proc = self._procs[job_id]
        code = proc.wait()
        log.close(); out.close()
        folder = self.root / job_id
        (folder / "data.jsonl").unlink(missing_ok=True)  # the reviews are in the model now; job.json keeps the counts
        result = None
        try:
            result = json.loads((folder / "result.json").read_text() or "null")
        except json.JSONDecodeError:
            pass
        cancelled = json.loads((folder / "job.json").read_text()).get("status") == "cancelling"
        status = "cancelled" if cancelled else ("succeeded" if code == 0 else "failed")
        self._update(job_id, status=status, exit_code=code, finished=time.time(), result=result)
        if status == "succeeded" and result and result.get("promoted"):
            self.on_promoted()

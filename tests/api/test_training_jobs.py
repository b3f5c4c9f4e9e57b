"""Training jobs (api/training_jobs.py) without a server; tests/api/test_service_training.py runs them over HTTP."""
import pytest

from api.training_jobs import JobError, TrainingJobs


def test_a_training_job_checks_the_name_itself(tmp_path):
    jobs = TrainingJobs(tmp_path / "jobs", on_promoted=lambda: None)
    with pytest.raises(JobError) as info:
        jobs.start([("好", "positive")] * 30, "..", 1.0, False, False)
    assert info.value.status == 422 and info.value.code == "invalid_name"
    assert not list((tmp_path / "jobs").iterdir())  # nothing started


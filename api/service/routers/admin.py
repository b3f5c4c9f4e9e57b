"""/v1/admin: swap in the registry's serving model, and training jobs (fine-tuning in a background process)."""
import asyncio

from fastapi import APIRouter, Depends

from api.service.dependencies import ServiceDep, require_admin
from api.service.errors import ApiError, errors
from api.service.schemas import TrainRequest
from api.training_jobs import JobError

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)])


def job_call(fn, *args):
    try:
        return fn(*args)
    except JobError as e:
        raise ApiError(e.status, e.code, str(e))


@router.post("/reload", responses=errors(401, 403))
async def reload(service: ServiceDep):
    """Load the registry's serving model and swap it in; requests keep being served by the old one meanwhile."""
    new = await asyncio.get_running_loop().run_in_executor(None, service.reload)
    return {"serving": new.model_name}


@router.post("/train", status_code=202, responses=errors(400, 401, 403, 409, 413, 422))
async def start_training(req: TrainRequest, service: ServiceDep):
    """Fine-tune the serving model on labeled reviews in a background process (`voc train`).

    Labels are validated first (422 listing unknown labels). Poll `GET /v1/admin/train/{id}`;
    with `promote`, a better model is served as soon as the job succeeds.
    """
    pairs = [(it.text, str(it.label)) for it in req.items]
    return job_call(service.jobs.start, pairs, req.name, req.epochs, req.promote, req.force)


@router.get("/train", responses=errors(401, 403))
async def list_training(service: ServiceDep):
    return {"jobs": job_call(service.jobs.list)}


@router.get("/train/{job_id}", responses=errors(401, 403, 404, 422))
async def training_status(job_id: str, service: ServiceDep):
    return job_call(service.jobs.get, job_id)


@router.delete("/train/{job_id}", responses=errors(401, 403, 404, 409, 422))
async def cancel_training(job_id: str, service: ServiceDep):
    """Stop a running job; the serving model is untouched."""
    return job_call(service.jobs.cancel, job_id)

"""The retry policy the apps' tasks share. A task stays in its app's tasks.py, with its own
name and time limits; only the policy is written once."""

from celery import shared_task


def retried_task(*, name: str, backoff: int, backoff_max: int, soft_time_limit: int, time_limit: int, **options):
    """`shared_task` for an idempotent task that Celery retries on any error: acknowledged
    late (a lost worker's message is redelivered), at most five retries with exponential
    backoff from `backoff` seconds up to `backoff_max`, no result kept."""
    return shared_task(
        name=name,
        ignore_result=True,
        acks_late=True,
        autoretry_for=(Exception,),
        retry_backoff=backoff,
        retry_backoff_max=backoff_max,
        max_retries=5,
        soft_time_limit=soft_time_limit,
        time_limit=time_limit,
        **options,
    )

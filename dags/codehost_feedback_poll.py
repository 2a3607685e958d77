"""👍/👎 reactions on the bot's finding comments → feedback (GitHub sends no webhook for reactions).

repositories (every repository a project is bound to) → poll, mapped one per
repository (its finding comments since its cursor, the reactions of those on
open pull requests, each recorded once).  A repository whose poll fails does
not hold up the others and is asked again on the next run.  Logic lives in
``include.codehost.reactions``; this file only wires it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import dag, task


@dag(
    dag_id="codehost_feedback_poll",
    schedule=timedelta(minutes=15),
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # two polls of one repository would only ask GitHub twice
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2)},
    tags=["autopr", "feedback"],
    doc_md=__doc__,
)
def codehost_feedback_poll():
    @task
    def repositories() -> list[str]:
        from include.codehost.reactions import repositories_to_poll

        return repositories_to_poll()

    @task(max_active_tis_per_dag=4)
    def poll(repository: str) -> dict:
        from include.codehost.reactions import poll

        return poll(repository)

    poll.expand(repository=repositories())


codehost_feedback_poll()

"""/api/v1 tasks: listed with filters (assignee, startup, open, due before), read, created on a
startup, and changed: done or open again, moved to another due moment, given to someone else."""

from __future__ import annotations

from datetime import datetime

from flask import url_for
from pydantic import BaseModel, Field
from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from crm.api.blueprint import actor, api, tag
from crm.api.common import (
    ListQuery,
    Strict,
    id_page,
    json_response,
    page_response,
    read_responses,
    write_responses,
)
from crm.api.guards import editable, restricted
from crm.api.moments import Moment
from crm.api.problems import ApiProblem, FieldError
from crm.db import get_or_404, get_session
from crm.startups import services
from crm.startups.forms import SUBJECT_MAX
from crm.startups.models import Startup, Task
from crm.users.models import User

TAGS = tag("Tasks", "To-dos on startups (and the workflow's own), each with one assignee.")
CURSOR_KIND = "tasks"
ID_MAX = 2**31 - 1
Assignee = aliased(User)


class TaskOut(BaseModel):
    id: int
    title: str
    description: str
    startup_id: int | None
    startup_name: str | None
    enrollment_id: int | None = Field(description="Set when a programme stage made the task.")
    assignee_id: int | None
    assignee_name: str | None
    created_by_id: int | None
    due_at: datetime | None
    done: bool
    done_at: datetime | None
    created_at: datetime
    updated_at: datetime


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None


class TaskListQuery(ListQuery):
    assignee: str | None = Field(default=None, pattern=r"^(me|\d{1,9})$",
                                 description="A user id or `me`.")
    startup_id: int | None = Field(default=None, ge=1, le=ID_MAX)
    open: bool | None = Field(default=None, description="true: not done yet; false: done.")
    due_before: Moment | None = Field(default=None, description="Due before this moment "
                                      "(ISO 8601 with an offset; write + as %2B).")


class TaskPath(BaseModel):
    task_id: int = Field(ge=1, le=ID_MAX)


class TaskCreate(Strict):
    startup_id: int = Field(ge=1, le=ID_MAX)
    title: str = Field(min_length=1, max_length=SUBJECT_MAX, pattern=r"\S")
    due_at: Moment | None = None
    assignee_id: int | None = Field(default=None, ge=1, le=ID_MAX, description="Someone "
                                    "who may work on the startup; default: its owner, else you.")


class TaskChange(Strict):
    """Only the fields sent change (none may be null); no version needed: each change is
    recorded."""

    done: bool = Field(default=None, description="true completes, false reopens.")
    due_at: Moment = Field(default=None, description="Moves an open task.")
    assignee_id: int = Field(default=None, ge=1, le=ID_MAX)


def _tasks() -> Select:
    """Tasks with their startup's and assignee's names: one query, whatever the page's size."""
    return (select(Task, Startup.name, Assignee.name)
            .outerjoin(Startup, Startup.id == Task.startup_id)
            .outerjoin(Assignee, Assignee.id == Task.assignee_id))


def _task_out(task: Task, startup_name: str | None, assignee_name: str | None) -> TaskOut:
    return TaskOut(id=task.id, title=task.title, description=task.description,
                   startup_id=task.startup_id, startup_name=startup_name,
                   enrollment_id=task.enrollment_id, assignee_id=task.assignee_id,
                   assignee_name=assignee_name, created_by_id=task.created_by_id,
                   due_at=task.due_at, done=task.done_at is not None, done_at=task.done_at,
                   created_at=task.created_at, updated_at=task.updated_at)


def _one(task_id: int) -> TaskOut:
    row = get_session().execute(_tasks().where(Task.id == task_id)).first()
    if row is None:
        raise ApiProblem(404)
    return _task_out(*row)


def _field_error(field: str, message: str) -> ApiProblem:
    return ApiProblem(422, message, kind="invalid-fields",
                      errors=[FieldError(field=f"body.{field}", message=message,
                                         code="value_error")])


def _assignee(assignee_id: int, startup: Startup | None) -> User:
    """The user the task may go to: active, and allowed to work on its startup."""
    user = get_session().get(User, assignee_id)
    if user is None or not services.may_be_assigned(user, startup):
        raise _field_error("assignee_id", "Not someone who may work on this task's startup.")
    return user


@api.get("/tasks", tags=TAGS, summary="List tasks",
         description="Oldest first; filters combine.", responses=read_responses(TaskPage))
def list_tasks(query: TaskListQuery):
    statement = _tasks()
    if query.assignee is not None:
        assignee_id = actor().id if query.assignee == "me" else int(query.assignee)
        statement = statement.where(Task.assignee_id == assignee_id)
    if query.startup_id is not None:
        statement = statement.where(Task.startup_id == query.startup_id)
    if query.open is not None:
        statement = statement.where(Task.done_at.is_(None) if query.open
                                    else Task.done_at.is_not(None))
    if query.due_before is not None:
        statement = statement.where(Task.due_at < query.due_before)
    page, next_cursor = id_page(statement, Task.id, CURSOR_KIND, query)
    return page_response(TaskPage(items=[_task_out(*row) for row in page],
                                  next_cursor=next_cursor), next_cursor)


@api.get("/tasks/<int:task_id>", tags=TAGS, summary="One task", responses=read_responses(TaskOut))
def show_task(path: TaskPath):
    return json_response(_one(path.task_id))


@api.post("/tasks", tags=TAGS, summary="Create a task on a startup",
          responses=write_responses(201, TaskOut))
def create_task(body: TaskCreate):
    db = get_session()
    startup = db.get(Startup, body.startup_id)
    if startup is None:
        raise _field_error("startup_id", "No startup has this id.")
    editable(startup)
    assignee = _assignee(body.assignee_id, startup) if body.assignee_id is not None else None
    task = services.create_task(db, startup, body.title, body.due_at, assignee, actor())
    return json_response(_one(task.id), 201, location=url_for("api.show_task", task_id=task.id))


@api.patch("/tasks/<int:task_id>", tags=TAGS, summary="Change a task",
           description="`done` completes or reopens it, `due_at` moves it (open tasks only), "
                       "`assignee_id` gives it to someone else; sent together they apply in this "
                       "order: reopen, move, give, complete.",
           responses=write_responses(200, TaskOut))
def change_task(path: TaskPath, body: TaskChange):
    db, user = get_session(), actor()
    task = get_or_404(Task, path.task_id)
    startup = db.get(Startup, task.startup_id) if task.startup_id else None
    if startup is not None and startup.restricted_at is not None:
        raise restricted()
    if not services.may_change_task(user, task, startup):
        raise services.NotAllowed(task.id)
    assignee = _assignee(body.assignee_id, startup) if body.assignee_id is not None else None
    if body.done is False:
        services.reopen_task(db, task, startup, user)
    if body.due_at is not None:
        try:
            services.snooze_task(db, task, body.due_at, user)
        except services.TaskDone:
            raise ApiProblem(409, "The task is done: reopen it (done: false) to move it.",
                             kind="task-done") from None
    if assignee is not None:
        services.reassign_task(db, task, assignee, user)
    if body.done is True:
        services.complete_task(db, task, startup, user)
    return json_response(_one(task.id))

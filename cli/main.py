"""The `xinfang` command line: set-up, deployment, cases and tasks, audit, benchmarks, serving."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

import click

from engine.api import (
    INCIDENT_STATES,
    Database,
    Engine,
    EngineError,
    FormErrors,
    UnknownUser,
    ValidationFailed,
    backup,
    instance_folder,
    load_audit_key,
    load_organisation,
    local_minutes,
    parse_schedule,
    read_paths,
    restore,
    schema,
)

ROOT = Path(__file__).resolve().parent.parent
DEMO_ORGANISATION = ROOT / "config" / "demo-organisation.toml"


def _engine(ctx: click.Context) -> Engine:
    """One engine per invocation, on a database brought up to the current schema."""
    if "engine" not in ctx.obj:
        database = Database(ctx.obj["database_url"])
        schema.upgrade(database)
        try:
            database.audit_key = load_audit_key(instance_folder(database.url))
        except ValueError as exc:
            _fail(str(exc))
        ctx.obj["engine"] = Engine(database)
    return ctx.obj["engine"]


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


def _json_option(text: str | None, option: str = "--data") -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"{option} 不是合法的 JSON：{exc}")
    if not isinstance(value, dict):
        _fail(f"{option} 必须是 JSON 对象")
    return value


def _print_json(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


class _Group(click.Group):
    """Report engine errors as one clear line and exit 1, never with a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ValidationFailed as failure:
            for problem in failure.problems:
                click.echo(str(problem), err=True)
            sys.exit(1)
        except FormErrors as errors:
            for field, message in errors.errors.items():
                click.echo(f"{field}: {message}", err=True)
            sys.exit(1)
        except (EngineError, UnknownUser) as error:
            _fail(error.message)


@click.group(cls=_Group)
@click.option("--database-url", envvar="XINFANG_DATABASE_URL", default=None,
              help="SQLAlchemy URL; default sqlite:///instance/xinfang.db")
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """信访举报流程系统 (xinfang)."""
    ctx.ensure_object(dict)
    ctx.obj["database_url"] = database_url


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or upgrade the schema (Alembic)."""
    _engine(ctx)
    click.echo("数据库已是最新结构")


@db.command("revision")
@click.argument("message")
@click.pass_context
def db_revision(ctx: click.Context, message: str) -> None:
    """Write a new migration from the difference between engine/store/models.py and the database (developers)."""
    schema.autogenerate(_engine(ctx).db, message)


@main.group()
def org() -> None:
    """Organisation: roles, departments, users."""


@org.command("load")
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--demo", is_flag=True, help="load the demo organisation")
@click.pass_context
def org_load(ctx: click.Context, path: Path | None, demo: bool) -> None:
    """Create or update roles, departments and users from a TOML file."""
    if (path is None) == (not demo):
        _fail("请指定组织机构文件，或使用 --demo")
    engine = _engine(ctx)
    try:
        with engine.db.write() as session:
            counts = load_organisation(session, path or DEMO_ORGANISATION)
    except (ValueError, KeyError) as exc:
        _fail(f"组织机构文件有误：{exc}")
    click.echo(f"已载入 {counts['roles']} 个角色、{counts['departments']} 个部门、{counts['users']} 个用户")


_READ_ERRORS = {errno.ENOENT: "文件不存在", errno.EACCES: "没有读取权限", errno.EISDIR: "这是一个文件夹"}


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def validate(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Check BPMN and DMN files; one problem per line as FILE:LINE: ELEMENT-ID: message."""
    contents, problems = {}, []
    for path in files:
        try:
            contents[str(path)] = path.read_bytes()
        except OSError as exc:
            problems.append(f"{path}:1: -: 无法读取文件：{_READ_ERRORS.get(exc.errno, '无法访问')}")
    problems += [str(problem) for problem in _engine(ctx).validate(contents)]
    for line in problems:
        click.echo(line)
    if problems:
        sys.exit(1)
    click.echo(f"{len(contents)} 个文件校验通过", err=True)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--by", default="admin", show_default=True, help="who deploys (recorded)")
@click.option("--force", is_flag=True, help="deploy even when a process id was deployed from a file of another name")
@click.pass_context
def deploy(ctx: click.Context, paths: tuple[Path, ...], by: str, force: bool) -> None:
    """Validate and deploy BPMN and DMN files (folders: every *.bpmn and *.dmn in them)."""
    for outcome in _engine(ctx).deploy(read_paths(list(paths)), by, force):
        state = "新版本" if outcome.created else "未变化"
        click.echo(f"{outcome.process_id} v{outcome.version}（{state}）")


@main.group()
def cases() -> None:
    """Cases."""


@cases.command("start")
@click.argument("process_id")
@click.option("--data", help="initial data as a JSON object")
@click.option("--user", default="admin", show_default=True)
@click.pass_context
def cases_start(ctx: click.Context, process_id: str, data: str | None, user: str) -> None:
    """Start a case on the newest deployment; prints the case id."""
    engine = _engine(ctx)
    click.echo(engine.start_case(process_id, _json_option(data), engine.actor(user)))


@main.command()
@click.argument("name")
@click.option("--keys", help='correlation keys as a JSON object, e.g. {"businessKey": "2026-001"}')
@click.option("--data", help="message variables as a JSON object")
@click.option("--user", default="admin", show_default=True)
@click.pass_context
def message(ctx: click.Context, name: str, keys: str | None, data: str | None, user: str) -> None:
    """Correlate a message to the one case waiting for it (or start the process it starts); prints the case id."""
    engine = _engine(ctx)
    click.echo(engine.correlate(name, _json_option(keys, "--keys"), _json_option(data), engine.actor(user)))


@main.command()
@click.argument("name")
@click.option("--data", help="signal variables as a JSON object")
@click.option("--user", default="admin", show_default=True)
@click.pass_context
def signal(ctx: click.Context, name: str, data: str | None, user: str) -> None:
    """Broadcast a signal to every waiting case and every process it starts; prints the case ids."""
    engine = _engine(ctx)
    reached = engine.signal(name, _json_option(data), engine.actor(user))
    click.echo(" ".join(map(str, reached)) if reached else f"没有等待信号“{name}”的案件")


@cases.command("show")
@click.argument("case_id", type=int)
@click.pass_context
def cases_show(ctx: click.Context, case_id: int) -> None:
    """Status, deployment, data, open work items, waiting timers, incidents and events as JSON."""
    _print_json(_engine(ctx).case(case_id))


@main.group()
def tasks() -> None:
    """Work on a case's open tasks."""


@tasks.command("complete")
@click.argument("case_id", type=int)
@click.argument("bpmn_id")
@click.option("--user", required=True)
@click.option("--data", help="form data as a JSON object")
@click.pass_context
def tasks_complete(ctx: click.Context, case_id: int, bpmn_id: str, user: str, data: str | None) -> None:
    engine = _engine(ctx)
    engine.complete(engine.find_task(case_id, bpmn_id), engine.actor(user), _json_option(data))
    click.echo("已办理")


@tasks.command("claim")
@click.argument("case_id", type=int)
@click.argument("bpmn_id")
@click.option("--user", required=True)
@click.pass_context
def tasks_claim(ctx: click.Context, case_id: int, bpmn_id: str, user: str) -> None:
    engine = _engine(ctx)
    engine.claim(engine.find_task(case_id, bpmn_id), engine.actor(user))
    click.echo("已领取")


@main.group()
def incidents() -> None:
    """Failed scripts and handlers: list them, retry, skip, or resolve with a note."""


@incidents.command("list")
@click.option("--state", type=click.Choice(sorted(INCIDENT_STATES)), default="open", show_default=True)
@click.pass_context
def incidents_list(ctx: click.Context, state: str) -> None:
    """Open (or closed) incidents, newest first: one line each."""
    rows = _engine(ctx).incidents(state)
    if not rows:
        click.echo(f"没有{INCIDENT_STATES[state]}的流程异常")
    for row in rows:
        case = row["registration_number"] or f"案件 {row['case_id']}"
        line = (f"#{row['id']}  {case}  {row['task_name'] or '流程'}  {local_minutes(row['created_at'])}  "
                f"{row['message']}")
        if row["resolved_at"]:
            line += f"  [{row['resolution_label']}，{row['resolved_by']}，{local_minutes(row['resolved_at'])}" \
                    + (f"：{row['note']}]" if row["note"] else "]")
        click.echo(line)


@incidents.command("resolve")
@click.argument("incident_id", type=int)
@click.option("--note", required=True, help="what was done about it (required, kept in the audit log)")
@click.option("--user", default="admin", show_default=True, help="a process owner or administrator (recorded)")
@click.pass_context
def incidents_resolve(ctx: click.Context, incident_id: int, note: str, user: str) -> None:
    """Close an incident by hand, with a note; the case stays where it is."""
    engine = _engine(ctx)
    engine.resolve_incident(incident_id, engine.actor(user), note)
    click.echo(f"异常 #{incident_id} 已关闭")


def _resolve_incident(ctx: click.Context, incident_id: int, user: str, skip: bool) -> None:
    engine = _engine(ctx)
    outcome = (engine.skip if skip else engine.retry)(incident_id, engine.actor(user))
    if outcome == "stale":
        click.echo("该异常已不再适用（任务已另行办理或案件已推进），已自动关闭")
    else:
        click.echo("已跳过出错的步骤" if skip else "已重试成功")


@incidents.command("retry")
@click.argument("incident_id", type=int)
@click.option("--user", required=True)
@click.pass_context
def incidents_retry(ctx: click.Context, incident_id: int, user: str) -> None:
    """Run the failed command again, as it was given."""
    _resolve_incident(ctx, incident_id, user, skip=False)


@incidents.command("skip")
@click.argument("incident_id", type=int)
@click.option("--user", required=True)
@click.pass_context
def incidents_skip(ctx: click.Context, incident_id: int, user: str) -> None:
    """Run the failed command again, completing the failed step without running it."""
    _resolve_incident(ctx, incident_id, user, skip=True)


@main.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a file written by `xinfang audit checkpoint`: the database must still hold that history")
@click.pass_context
def audit_verify(ctx: click.Context, checkpoint: Path | None) -> None:
    """Check the hash chain and every case's event numbering; exit 1 and name the first bad row if anything
    was edited, deleted or inserted."""
    text = checkpoint.read_text(encoding="utf-8") if checkpoint else None
    report = _engine(ctx).verify_audit(text)
    click.echo(report.message, err=not report.ok)
    if not report.ok:
        sys.exit(1)
    if checkpoint:
        click.echo(f"与检查点 {checkpoint} 一致")


@audit.command("checkpoint")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="write the checkpoint here (default: print it)")
@click.pass_context
def audit_checkpoint(ctx: click.Context, output: Path | None) -> None:
    """Write a signed checkpoint (head event, hash, count, time) to keep outside the database."""
    checkpoint = _engine(ctx).audit_checkpoint()
    text = json.dumps(checkpoint, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"已写入检查点 {output}：共 {checkpoint['count']} 条事件，最后一条 {checkpoint['event_id']}，"
               f"验证公钥 {checkpoint['public_key']}", err=True)


@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def backup_command(ctx: click.Context, path: Path) -> None:
    """Write a consistent copy of the database while it runs (SQLite: backup API; PostgreSQL: pg_dump)."""
    database = Database(ctx.obj["database_url"])
    try:
        backup(database, path)
    finally:
        database.dispose()
    click.echo(f"已备份到 {path}")


@main.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="replace the content of a database that is not empty")
@click.pass_context
def restore_command(ctx: click.Context, path: Path, force: bool) -> None:
    """Load a backup into an empty database (stop the server first), then check its audit chain."""
    database = Database(ctx.obj["database_url"])
    try:
        restore(database, path, force)
    finally:
        database.dispose()
    report = _engine(ctx).verify_audit()  # also brings an older backup up to the current schema
    click.echo(f"已从 {path} 恢复；{report.message}", err=not report.ok)
    if not report.ok:
        sys.exit(1)


@main.group()
def keys() -> None:
    """Data keys of reporter identity and attachments."""


@keys.command("rotate")
@click.option("--by", default="admin", show_default=True, help="who rotates (recorded)")
@click.pass_context
def keys_rotate(ctx: click.Context, by: str) -> None:
    """New data key (key file), or the key now in XINFANG_DATA_KEY: re-encrypt every reporter record and
    attachment under it, then drop the old keys. Safe to run again after an interruption."""
    rotation = _engine(ctx).rotate_keys(by)
    click.echo(f"已轮换至密钥 {rotation.key_id}：重新加密 {rotation.records} 条反映人信息、"
               f"{rotation.attachments} 个附件")
    if rotation.retired:
        click.echo(f"已停用旧密钥：{'、'.join(rotation.retired)}（如来自 XINFANG_PREVIOUS_DATA_KEYS，请将其移除）")


@main.group()
def reporter() -> None:
    """Reporter identity kept in the vault."""


@reporter.command("purge")
@click.option("--before", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="destroy records of archived items whose retention date is before this day (at most today)")
@click.option("--by", default="admin", show_default=True, help="who destroys (recorded)")
@click.pass_context
def reporter_purge(ctx: click.Context, before, by: str) -> None:
    """Destroy the reporter records of archived items past their retention date (audited per case)."""
    destroyed = _engine(ctx).purge_reporters(before.date(), by)
    listed = f"：{', '.join(map(str, destroyed))}" if destroyed else ""
    click.echo(f"已销毁 {len(destroyed)} 件案件的反映人信息{listed}")


@main.command()
@click.option("--postgres-url", envvar="XINFANG_TEST_POSTGRES_URL",
              default="postgresql+psycopg://postgres@127.0.0.1:5432/test", show_default=True,
              help="server for the PostgreSQL half (a scratch database is created and dropped)")
@click.option("--cases", "case_count", default=30, show_default=True, help="cases per backend")
@click.option("--timers", "timer_count", default=10_000, show_default=True, help="timers falling due at once")
@click.option("--web-cases", default=100_000, show_default=True,
              help="cases in the web-page dataset (3 work items and 3 audit events each)")
@click.option("--only", "parts", multiple=True, type=click.Choice(["engine", "timers", "web"]),
              help="run only this part (repeatable); default: all")
def bench(postgres_url: str, case_count: int, timer_count: int, web_cases: int, parts: tuple[str, ...]) -> None:
    """Benchmarks as JSON (see docs/performance.md)."""
    from bench.suite import PARTS, run_all

    _print_json(run_all(postgres_url, case_count, timer_count, web_cases, set(parts) or PARTS))


@main.group()
def calendar() -> None:
    """The working-day calendar: holidays and make-up working days."""


@calendar.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), help="default: from the file name")
@click.pass_context
def calendar_import(ctx: click.Context, path: Path, fmt: str | None) -> None:
    """Import a year's schedule (CSV: date,workday,note — or a JSON list)."""
    try:
        days = parse_schedule(path.read_text(encoding="utf-8-sig"), fmt or path.suffix.lstrip(".").lower())
    except ValueError as exc:
        _fail(str(exc))
    click.echo(f"已导入 {_engine(ctx).import_calendar(days)} 天的放假调休安排")


@calendar.command("check")
@click.pass_context
def calendar_check(ctx: click.Context) -> None:
    """Exit 1 with a warning when the coming year's schedule is missing (from 1 November on)."""
    warning = _engine(ctx).calendar_warning()
    if warning:
        _fail(warning)
    click.echo("节假日安排齐全")


def _warn_calendar(engine: Engine) -> None:
    warning = engine.calendar_warning()
    if warning:
        click.echo(f"警告：{warning}", err=True)


@main.command()
@click.option("--interval", default=1.0, show_default=True, help="seconds between ticks")
@click.pass_context
def scheduler(ctx: click.Context, interval: float) -> None:
    """Fire due timers (any number of these processes may share one database)."""
    engine = _engine(ctx)
    _warn_calendar(engine)
    timer_scheduler = engine.scheduler()
    click.echo(f"定时器进程 {timer_scheduler.owner} 已启动，每 {interval} 秒检查一次")
    timer_scheduler.start(interval, blocking=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--scheduler/--no-scheduler", "run_scheduler", default=True, show_default=True,
              help="fire timers in this process (turn off when dedicated `xinfang scheduler` processes run)")
@click.option("--interval", default=1.0, show_default=True, help="seconds between timer ticks")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, run_scheduler: bool, interval: float) -> None:
    """Serve the web UI (waitress), with the timer ticker in-process by default."""
    from waitress import serve as waitress_serve

    from web import create_app, settle

    engine = _engine(ctx)
    _warn_calendar(engine)
    if run_scheduler:
        engine.scheduler().start(interval)
    app = create_app(engine=engine)
    settle()
    click.echo(f"信访举报流程系统已启动：http://{host}:{port}/")
    click.echo(f"演示账号见 {DEMO_ORGANISATION.relative_to(ROOT)}：信访室 xf_wang、信访室主任 xf_chen、"
               "分管领导 leader_li、主要负责同志 leader_zhao、承办 s1_liu / s1_sun、系统管理员 admin；"
               "初始密码 xinfang-demo（登录后请修改）")
    waitress_serve(app, host=host, port=port, threads=8)

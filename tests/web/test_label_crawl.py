"""Every page a demo role reaches from the navigation, and a demo case's pages, speak Chinese: no raw enum
value, field key, code or login name in the visible text (the forbidden words are read from the code's own
enums, the deployed forms and the organisation, not from a hand list), one <h1> and a title that names the
system once, and navigation labels that are the headings of the pages they open."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from support import SIGN_OFF, login, post, register, signed_in, work_through

from engine.api import DEPARTMENT_KINDS
from engine.reads.casepage import EVENT_LABELS
from engine.reads.queues import QUEUES
from engine.store.models import Department, Deployment, Role, User, UserRole
from web import labels
from web.nav import VIEW_LABELS

SYSTEM_NAME = "信访举报流程系统"
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")
_SKIPPED_PATHS = ("/logout", "/static/", "/assets/", "/cases/attachments/")
MAX_PAGES_PER_ROLE = 120
_PAGE_PARAMETERS = ("view", "timeline", "accused")


class _Visible(HTMLParser):
    """The text a reader sees: no script, style, template or head; `<code>` marks an identifier shown on
    purpose (an administrator's codes), so it is left out too."""

    HIDDEN = {"script", "style", "template", "head", "code"}

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []
        self.links: list[str] = []
        self.titles: list[str] = []
        self.h1: list[str] = []
        self._in_title = self._in_h1 = False
        self._muted = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in self.HIDDEN:
            self.depth += 1
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])
        if tag == "title":
            self._in_title = True
            self.titles.append("")
        if tag == "h1":
            self._in_h1 = True
            self.h1.append("")
        if tag == "span" and self._in_h1:
            self._muted += 1

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self.depth -= 1
        if tag == "title":
            self._in_title = False
        if tag == "h1":
            self._in_h1 = False
        if tag == "span" and self._muted:
            self._muted -= 1

    def handle_data(self, data):
        if self._in_title:
            self.titles[-1] += data
        if self._in_h1 and not self._muted:
            self.h1[-1] += data
        if self.depth == 0:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def _parse(html: str) -> _Visible:
    parser = _Visible()
    parser.feed(html)
    return parser


def _nav_labels(html: str) -> dict[str, str]:
    """Navigation link target -> its label, without the count beside it."""
    nav = html.split('<nav class="main-nav">', 1)[1].split("</nav>", 1)[0]
    found = {}
    for href, inner in re.findall(r'<a href="([^"]+)">(.*?)</a>', nav, re.S):
        found[href.replace("&amp;", "&")] = " ".join(re.sub(r"<span[^>]*>.*?</span>", "", inner, flags=re.S).split())
    return found


def _forbidden(engine) -> set[str]:
    """Raw words no page may show: the code's enums and labels' keys, every form field key and enum value
    of the deployed diagrams, role names, department codes and kinds, and login names."""
    words = set(labels.CHANNELS) | set(labels.CATEGORIES) | set(labels.STATUSES) | set(EVENT_LABELS)
    words |= set(VIEW_LABELS) | set(QUEUES) | set(DEPARTMENT_KINDS)
    with engine.db.read() as session:
        words |= set(session.scalars(sa.select(Role.name))) | set(session.scalars(sa.select(Department.code)))
        words |= set(session.scalars(sa.select(User.name)))
        for deployment_id in session.scalars(sa.select(Deployment.id)):
            loaded = engine.specs.for_id(session, deployment_id)
            for spec in (loaded.spec, *loaded.subprocess_specs.values()):
                for task in spec.task_specs.values():
                    for field in getattr(getattr(task, "xinfang_form", None), "fields", ()):
                        words |= {field.id, field.key, *(option.id for option in field.options)}
                        words |= {field.group} if field.group else set()
    return {word for word in words if word and _IDENTIFIER.match(word) and len(word) > 2}


def _raw_words(text: str, forbidden: set[str]) -> list[str]:
    tokens = set(re.findall(r"[A-Za-z][A-Za-z0-9_.]*[A-Za-z0-9_]|[A-Za-z]", text))
    tokens |= {part for token in tokens for part in token.split(".")}
    return sorted(tokens & forbidden)


@pytest.fixture
def demo_case(client, engine, clock) -> int:
    """A case half-way along the chain, read by the petition office (so its timeline has reporter-view
    lines), with an accused whose rank and region are coded values."""
    login(client, "xf_wang")
    case_id = register(client, **{"accused.0.rank": "township", "keywords": "工程招标\n礼金"})
    work_through(engine, clock, case_id, *SIGN_OFF, "Task_investigate", "Task_department_sign")
    for _ in range(3):
        client.get(f"/cases/{case_id}")
    return case_id


def _demo_users(engine) -> list[str]:
    """One user per role of the demo organisation."""
    with engine.db.read() as session:
        rows = session.execute(sa.select(UserRole.role_name, sa.func.min(UserRole.user_name))
                               .group_by(UserRole.role_name).order_by(UserRole.role_name)).all()
    return sorted({user for _, user in rows})


def _key(href: str) -> str | None:
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith(_SKIPPED_PATHS):
        return None
    # a queue view, the whole timeline and a search are pages of their own; other parameters only reorder
    kept = {name: values[0] for name, values in parse_qs(parts.query).items() if name in _PAGE_PARAMETERS}
    return parts.path + "".join(f"?{name}={value}" for name, value in sorted(kept.items()))


def _crawl(browser, start: list[str]):
    """Every page reachable by links from `start` (one per path, queue views apart)."""
    seen: dict[str, str] = {}
    todo = list(start)
    while todo and len(seen) < MAX_PAGES_PER_ROLE:
        href = todo.pop(0)
        key = _key(href)
        if key is None or key in seen:
            continue
        response = browser.get(href)
        if response.status_code != 200 or not response.content_type.startswith("text/html"):
            seen[key] = ""
            continue
        html = response.get_data(as_text=True)
        seen[key] = html
        todo.extend(link.replace("&amp;", "&") for link in _parse(html).links)
    return {key: html for key, html in seen.items() if html}


def _page_problems(who: str, key: str, html: str, forbidden: set[str]) -> list[str]:
    page = _parse(html)
    found = []
    raw = _raw_words(page.text, forbidden)
    if raw:
        found.append(f"{who} {key}: raw words {raw}")
    if len(page.titles) != 1 or page.titles[0].count(SYSTEM_NAME) != 1:
        found.append(f"{who} {key}: title {page.titles}")
    segments = [part.strip() for part in page.titles[0].split(" - ")] if page.titles else []
    if len(segments) != len(set(segments)):
        found.append(f"{who} {key}: title repeats itself: {page.titles[0]}")
    if len(page.h1) != 1:
        found.append(f"{who} {key}: {len(page.h1)} <h1>")
    return found


def test_no_page_shows_raw_ids_duplicated_titles_or_nav_labels_unlike_their_headings(app, engine, demo_case):
    forbidden = _forbidden(engine)
    assert {"township", "keywords", "xf_wang", "petition_staff", "supervision_1", "letter"} <= forbidden
    problems = _page_problems("anonymous", "/login", app.test_client().get("/login").get_data(as_text=True),
                              forbidden)
    visited = 0
    for user in _demo_users(engine):
        browser = signed_in(app, user)
        first = browser.get("/tasks/").get_data(as_text=True)
        nav = _nav_labels(first)
        pages = _crawl(browser, ["/tasks/", *nav, f"/cases/{demo_case}", f"/cases/{demo_case}/slip",
                                 f"/cases/{demo_case}?timeline=all", f"/intake/registered/{demo_case}",
                                 "/search/?accused=张", "/tasks/done",
                                 *(f"/tasks/{item['task_id']}" for item in engine.work_items(demo_case))])
        visited += len(pages)
        for key, html in pages.items():
            problems += _page_problems(user, key, html, forbidden)
        for href, label in nav.items():
            target = pages.get(_key(href) or "")
            if target is None:
                continue
            heading = " ".join(_parse(target).h1[0].split()) if _parse(target).h1 else ""
            if heading != label:
                problems.append(f"{user}: nav “{label}” opens a page headed “{heading}”")
    assert visited > len(_demo_users(engine)) * 5
    assert not problems, "\n".join(sorted(set(problems)))


def test_the_timeline_is_newest_first_and_leaves_out_the_reading_lines_unless_asked(client, engine, demo_case):
    def lines(query: str = "") -> list[str]:
        html = client.get(f"/cases/{demo_case}{query}").get_data(as_text=True)
        listed = html.split('id="timeline">', 1)[1].split("</ol>", 1)[0]
        return re.findall(r'<li class="event-([a-z-]+)">\s*<div><time class="muted">([^<]+)</time>', listed)

    work = lines()
    assert work and all(kind != "reporter-viewed" for kind, _ in work)
    times = [at for _, at in work]
    assert times == sorted(times, reverse=True) and work[-1][0] == "start"
    everything = lines("?timeline=all")
    viewed = [kind for kind, _ in everything if kind == "reporter-viewed"]
    assert viewed and len(everything) == len(work) + len(viewed)
    page = client.get(f"/cases/{demo_case}").get_data(as_text=True)
    assert f"未显示 {len(viewed)} 条查阅记录" in page and "显示查阅记录" in page
    assert len([e for e in engine.history(demo_case) if e["kind"] == "reporter viewed"]) >= len(viewed)


def test_refusals_name_people_by_their_display_names(client, app, engine):
    login(client, "xf_wang")
    case_id = register(client)
    task_id = engine.find_task(case_id, "Task_classify")
    wang = engine.actor("xf_wang")
    engine.claim(task_id, wang)
    colleague = signed_in(app, "xf_chen")
    taken = post(colleague, f"/tasks/{task_id}/claim", follow_redirects=True).get_data(as_text=True)
    assert f"该任务已由 {wang.label} 领取" in taken
    work_through(engine, engine.clock, case_id, "Task_classify")
    late = colleague.get(f"/tasks/{task_id}", follow_redirects=True).get_data(as_text=True)
    assert f"该任务已由 {wang.label} 于" in late
    for page in (taken, late):
        assert "xf_wang" not in _parse(page).text

"""The segmentation flow in Chromium: an analyst starts a run, watches it finish, reads the segments,
writes a rule segment with its live count, runs again for the transitions, and reads it in Chinese.

Each run goes through a real Celery worker (threads, in this process) and Redis, as in production:
"Run now" only queues it. Uses Debian's Chromium (Playwright cannot download its own browser here).
"""

from __future__ import annotations

import pytest
from django.utils import translation

from crm_bank.runs.models import Run
from crm_bank.runs.selectors import current_run
from segmentation.models import LearnedSegment, RuleSegment, segment_label
from segmentation.segments import SEGMENTATION
from tests.browser.chromium import BROWSER_MARKS, SCREENSHOTS, log_in, wait_for_chart
from tests.segmentation.segment_bank import AS_OF, PER_KIND, segment_bank_fixture  # noqa: F401

pytestmark = [*BROWSER_MARKS, pytest.mark.worker]

RULE = "age < 30 and digital_share > 0.7"  # the twelve young digital customers
RICH_RETIREES = "age >= 65 and deposit_balance > 500000"  # deposits of 505–565 thousand: five of the retirees
# Chart.js has drawn: the canvas has a size and pixels that are not blank.
# The transition heat map as numbers: one list of cell counts per earlier segment (the "New" row left out).
TRANSITION_COUNTS = (
    "() => [...document.querySelectorAll('#transition-matrix tbody tr')].slice(0, -1)"
    ".map((tr) => [...tr.querySelectorAll('td')].slice(0, -1).map((td) => Number(td.innerText.replace(/,/g, ''))))"
)


def _run_now_and_wait(page, *, k: int) -> Run:
    """Fills the run form, presses Run now, follows the htmx bar to 100% and opens the results."""
    before = set(Run.objects.filter(kind=SEGMENTATION).values_list("pk", flat=True))
    page.fill("#id_as_of", AS_OF.isoformat())
    page.fill("#id_k", str(k))
    page.click("#segmentation-run-form button[type=submit]")
    page.wait_for_selector("#segmentation-run-progress .progress")
    run = Run.objects.filter(kind=SEGMENTATION).exclude(pk__in=before).get()
    assert f"Segmentation run #{run.pk} queued." in page.inner_text("main")
    # The bar polls every 2 s until the worker has published the run; "Run now" waits meanwhile.
    page.wait_for_selector("#segmentation-run-results", timeout=60_000)
    run.refresh_from_db()
    assert page.get_attribute("#segmentation-run-progress .progress", "aria-valuenow") == "100"
    assert f"{run.chunks_total} of {run.chunks_total} chunks" in page.inner_text("#segmentation-run-progress")
    page.click("#segmentation-run-results")
    page.wait_for_selector("#segment-table")
    return run


def test_analyst_runs_segmentation_reads_segments_rules_transitions_and_chinese(
    browser, live_server, analyst_b, segment_bank, worker,
):
    SCREENSHOTS.mkdir(exist_ok=True)
    page = log_in(browser, live_server, "analyst_b")
    page.click("nav a:text('Segmentation')")
    page.wait_for_url(f"{live_server.url}/segmentation/")
    assert page.locator("#no-segmentation-run").is_visible()

    # 1. The first run: progress bar to the end, then the segment report.
    first = _run_now_and_wait(page, k=3)
    assert first.status == Run.Status.SUCCEEDED, first.error
    assert first.started_by == analyst_b and first.as_of == AS_OF and first.metrics["k"] == 3
    assert current_run(kind=SEGMENTATION) == first
    assert page.locator("#no-segmentation-run").count() == 0
    assert f"{3 * PER_KIND} customers in 3 learned segments" in page.inner_text("#segmentation-run")
    segments = list(LearnedSegment.objects.filter(run=first).order_by("number"))
    rows = page.locator("#segment-table tbody tr")
    assert rows.count() == 3
    for row, segment in zip(rows.all(), segments, strict=True):
        cells = row.locator("td").all_inner_texts()
        assert segment.label in cells[0] and cells[1].startswith(f"{PER_KIND} (33.3%)")
    assert {s.name for s in segments} == {"affluent retirees", "young digital customers", "mortgage holders"}
    wait_for_chart(page, "segment-chart")
    assert "Transitions appear from the second run on." in page.inner_text("main")
    page.screenshot(path=str(SCREENSHOTS / "segmentation_first_run.png"), full_page=True)

    # 2. A rule segment: the count follows the rule as it is typed, errors say where, Save keeps it.
    page.click("a:text('Rule segments')")
    page.wait_for_selector("#rule-segment-form")
    page.fill("#id_name", "Young and digital")
    page.fill("#id_rule", RICH_RETIREES)
    page.wait_for_function("() => document.getElementById('rule-count-value')?.innerText === '5'")
    assert f"run #{first.pk}" in page.inner_text("#rule-count")
    page.fill("#id_rule", "age <")
    page.wait_for_selector("#rule-count .text-danger")
    assert page.locator("#rule-count-value").count() == 0
    page.fill("#id_rule", RULE)
    page.wait_for_function(f"() => document.getElementById('rule-count-value')?.innerText === '{PER_KIND}'")
    page.click("#rule-segment-form button[type=submit]")
    page.wait_for_selector("#rule-segments td:text('Young and digital')")
    assert "Rule segment “Young and digital” saved" in page.inner_text("main")
    rule = RuleSegment.objects.get(name="Young and digital")
    assert rule.rule == RULE and rule.created_by == analyst_b

    # 3. The second run: transitions against the first, and the rule segment's size.
    page.click("nav[aria-label=Breadcrumb] a:text('Segmentation')")
    page.wait_for_url(f"{live_server.url}/segmentation/")
    second = _run_now_and_wait(page, k=3)
    assert second.status == Run.Status.SUCCEEDED, second.error
    assert current_run(kind=SEGMENTATION) == second and second.metrics["rule_sizes"] == {str(rule.pk): PER_KIND}
    assert f"run #{first.pk}" in page.inner_text("main")
    counts = page.evaluate(TRANSITION_COUNTS)
    assert sorted(map(sorted, counts)) == [[0, 0, PER_KIND]] * 3  # nobody changed segment
    page.click("a:text('Rule segments')")
    page.wait_for_selector("#rule-segments")
    assert f"Customers (run #{second.pk})" in page.inner_text("#rule-segments thead")
    assert page.locator("#rule-segments tbody tr").first.locator("td").last.inner_text().strip() == str(PER_KIND)

    # 4. In Chinese: the page's own text and the learned segments' names.
    page.click("nav[aria-label=Breadcrumb] a:text('Segmentation')")
    page.wait_for_url(f"{live_server.url}/segmentation/")
    page.click("#language-form button[value='zh-hans']")
    page.wait_for_selector("html[lang='zh-hans']")
    assert page.inner_text("main h1") == "客户分群"
    assert "立即运行" in page.inner_text("#segmentation-run-form")
    assert "学习分群" in page.inner_text("main")
    table = page.inner_text("#segment-table")
    with translation.override("zh-hans"):
        chinese = [segment_label(s.name) for s in LearnedSegment.objects.filter(run=second)]
    assert sorted(chinese) == ["富裕退休人士", "年轻数字化客户", "按揭客户"]
    assert all(name in table for name in chinese) and "retirees" not in table
    page.screenshot(path=str(SCREENSHOTS / "segmentation_chinese.png"), full_page=True)
    page.close()

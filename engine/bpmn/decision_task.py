"""A business rule task runs a deployed decision table with SpiffWorkflow's DMN engine, as Camunda 7 does.

SpiffWorkflow's engine treats UNIQUE as FIRST, has no FIRST, merges outputs into the task data and
compares each cell with `==`. Here the cells are already Python (engine/bpmn/decisions.py), evaluated
by the case's restricted script engine with the column's value as `cellInput`; the hit policy is kept
(UNIQUE with two matching rules is an error, as in Camunda) and the result is stored in
`camunda:resultVariable`, shaped by `camunda:mapDecisionResult`. COLLECT may aggregate (SUM, MIN, MAX, COUNT).
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.task import Task

from engine.bpmn import task_errors
from engine.bpmn.feel import INPUT
from engine.bpmn.safe_xml import CAMUNDA_NS

_AGGREGATIONS = {"SUM": sum, "MIN": min, "MAX": max, "COUNT": len}


class DecisionEngine(DMNEngine):
    def __init__(self, decision, aggregation: str | None = None) -> None:
        super().__init__(decision.decisionTables[0])
        self.label = decision.name or decision.id
        self.aggregation = aggregation  # COLLECT SUM / MIN / MAX / COUNT over the table's one output

    def decide(self, task: Task) -> list:
        matched = [rule for rule in self.decision_table.rules if self._matches(rule, task)]
        policy = self.decision_table.hit_policy
        if policy == "UNIQUE" and len(matched) > 1:
            rows = "、".join(str(rule.row_number) for rule in matched)
            raise task_errors.failure(f"决策表“{self.label}”的命中策略为 UNIQUE，但第 {rows} 条规则同时命中", task)
        return matched if policy == "COLLECT" else matched[:1]

    def _matches(self, rule, task: Task) -> bool:
        for entry in rule.inputEntries:
            for test in entry.lhs:
                if test is None:
                    continue  # "-": any value
                value = self._evaluate(task, rule, entry.input.expression)
                if not self._evaluate(task, rule, test, {INPUT: value}):
                    return False
        return True

    def rows(self, task: Task) -> list[dict[str, Any]]:
        """Each matched rule's outputs by output name, as Camunda's decision result (empty cell: null);
        with an aggregation, one row holding the aggregate of the non-null values (none: COUNT 0, else null)."""
        rows = [{entry.output.name: self._evaluate(task, rule, entry.text) if entry.text else None
                 for entry in rule.outputEntries} for rule in self.decide(task)]
        if not self.aggregation:
            return rows
        [output] = self.decision_table.outputs
        values = [row[output.name] for row in rows if row[output.name] is not None]
        if self.aggregation != "COUNT" and not values:
            return [{output.name: None}]
        try:
            return [{output.name: _AGGREGATIONS[self.aggregation](values)}]
        except TypeError as error:
            raise task_errors.failure(f"决策表“{self.label}”无法汇总（{self.aggregation}）命中的值：{error}", task,
                                      "TypeError") from error

    def _evaluate(self, task: Task, rule, text: str, context: dict[str, Any] | None = None) -> Any:
        return task_errors.evaluate(task, text, f"决策表“{self.label}”第 {rule.row_number} 条规则", context)


class DecisionTask(BusinessRuleTask):
    def __init__(self, wf_spec, bpmn_id, dmnEngine: DecisionEngine, result_variable: str, map_result: str,
                 **kwargs) -> None:
        super().__init__(wf_spec, bpmn_id, dmnEngine, **kwargs)
        self.result_variable = result_variable
        self.map_result = map_result

    def _run_hook(self, my_task: Task) -> bool:
        rows = self.dmnEngine.rows(my_task)
        my_task.data[self.result_variable] = self._mapped(rows, my_task)
        return True

    def _mapped(self, rows: list[dict[str, Any]], task: Task) -> Any:
        if self.map_result == "resultList":
            return rows
        if self.map_result == "collectEntries":
            return [value for row in rows for value in row.values()]
        if len(rows) > 1:
            raise task_errors.failure(f"决策表“{self.dmnEngine.label}”命中 {len(rows)} 条规则，"
                           f"camunda:mapDecisionResult=\"{self.map_result}\" 只能接受一条", task)
        if not rows:
            return None
        return rows[0] if self.map_result == "singleResult" else next(iter(rows[0].values()), None)


class DecisionTaskParser(CamundaTaskParser):
    @staticmethod
    def get_decision_ref(node) -> str | None:
        """SpiffWorkflow's parser asks for it to list a file's dependencies."""
        return node.get(f"{{{CAMUNDA_NS}}}decisionRef")

    def create_task(self) -> DecisionTask:
        ref = self.get_decision_ref(self.node)
        parsers = self.process_parser.parser.dmn_parsers
        if ref not in parsers:
            self.raise_validation_exception(f"决策表“{ref or ''}”不存在（.dmn 文件需要一起部署）")
        parsers[ref].parse()
        table = parsers[ref].xpath(".//dmn:decisionTable")[0]  # SpiffWorkflow's model drops the aggregation
        return self.spec_class(
            self.spec, self.bpmn_id, dmnEngine=DecisionEngine(parsers[ref].decision, table.get("aggregation")),
            result_variable=self.node.get(f"{{{CAMUNDA_NS}}}resultVariable"),
            map_result=self.node.get(f"{{{CAMUNDA_NS}}}mapDecisionResult") or "resultList",
            **self.bpmn_attributes)

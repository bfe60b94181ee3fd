"""Case state <-> JSON, without the spec.

SpiffWorkflow embeds the whole spec in every serialised workflow; we store a reference to the deployment
instead and hand the cached parsed spec back on load. `date` and `Decimal` data round-trip.
SpiffWorkflow keeps some run-time state on the (shared, cached) spec rather than in the workflow: a loop or
multi-instance task hears of its instances' completion through a callback connected when it first runs,
and a Camunda multi-instance task fills in its input collection and item when it first runs. A spec fresh
from parsing — another process, a restart, an evicted cache entry — lacks both, so loading restores them;
without it sequential loops stall and collections are merged twice (tests/engine/test_warm_cold.py).
Stored state carries FORMAT_VERSION; an upgrade of stored cases gets its own migration when it changes.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_FORMAT
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask, MultiInstanceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.multiinstance_task import ParallelMultiInstanceTask as CamundaParallel
from SpiffWorkflow.camunda.specs.multiinstance_task import SequentialMultiInstanceTask as CamundaSequential

FORMAT_VERSION = 1
_SPIFF_FORMAT_KEY = "serializer_version"


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow: BpmnWorkflow) -> dict:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def restore(self, dct: dict, spec, subprocess_specs: dict) -> BpmnWorkflow:
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class CaseSerializer:
    def __init__(self) -> None:
        self.registry = BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG)
        self.registry.register(
            date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"])
        )
        self.registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
        self._workflow_converter = _SpeclessWorkflowConverter(BpmnWorkflow, self.registry)
        # SpiffWorkflow 3.2 leaves task data (stored as deltas) unconverted and relies on its JSON encoder
        # for registered types; the registry's thread-unsafe "encoder mode" is not needed for that.
        self._encoder = create_encoder(self.registry)

    def dumps(self, workflow: BpmnWorkflow) -> str:
        dct = self.registry.convert(workflow)
        dct[_SPIFF_FORMAT_KEY] = SPIFF_FORMAT
        return json.dumps(dct, separators=(",", ":"), ensure_ascii=False, cls=self._encoder)

    def loads(self, state: str, spec, subprocess_specs: dict) -> BpmnWorkflow:
        dct = json.loads(state)
        version = dct.pop(_SPIFF_FORMAT_KEY, SPIFF_FORMAT)
        if version in MIGRATIONS:
            MIGRATIONS[version](dct)
        restore_loop_state([spec, *subprocess_specs.values()])
        return self._workflow_converter.restore(dct, spec, subprocess_specs)


def restore_loop_state(specs: list) -> None:
    """Give each loop spec what its first run would have (idempotent)."""
    for spec in specs:
        for task_spec in list(spec.task_specs.values()):
            if not isinstance(task_spec, LoopTask):
                continue
            instance = spec.task_specs[task_spec.task_spec]
            if not instance.completed_event.is_connected(task_spec.merge_child):
                instance.completed_event.connect(task_spec.merge_child)
            if isinstance(task_spec, (CamundaParallel, CamundaSequential)):
                _camunda_collection(task_spec)


def _camunda_collection(task_spec: MultiInstanceTask) -> None:
    """As SpiffWorkflow's camunda `update_task_spec` sets it on the first run: `camunda:collection` is
    both input and output, `camunda:elementVariable` the input item."""
    item = task_spec.output_item
    if task_spec.cardinality is None and task_spec.data_input is None and task_spec.data_output is not None:
        task_spec.data_input = TaskDataReference(task_spec.data_output.bpmn_id)
    if task_spec.input_item is None and item is not None:
        task_spec.input_item = TaskDataReference(item.bpmn_id)

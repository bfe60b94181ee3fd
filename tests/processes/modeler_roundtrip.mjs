// Reads each BPMN file given as an argument the way bpmn-js (and so the Camunda Modeler) does, with the
// Camunda 7 extension, saves it again and prints one JSON line per file:
//   {"file", "warnings": [message], "xml": saved XML}   or   {"file", "error": message}
// Usage: node tests/processes/modeler_roundtrip.mjs processes/*.bpmn
// Bare imports resolve from this file's location, not the cwd, so the repo root's node_modules is used.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

import { BpmnModdle } from 'bpmn-moddle';

const require = createRequire(import.meta.url);
const camunda = require('camunda-bpmn-moddle/resources/camunda.json');

for (const file of process.argv.slice(2)) {
  let entry;
  try {
    // A fresh instance per file, so that nothing one file left behind can hide a problem in the next.
    const moddle = new BpmnModdle({ camunda });
    const { rootElement, warnings } = await moddle.fromXML(await readFile(file, 'utf8'));
    const { xml } = await moddle.toXML(rootElement, { format: true });
    entry = { file, warnings: warnings.map((w) => w.message), xml };
  } catch (err) {
    entry = { file, error: String(err && err.message || err) };
  }
  process.stdout.write(JSON.stringify(entry) + '\n');
}

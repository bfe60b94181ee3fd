/* The case page's diagram: the bpmn-js NavigatedViewer showing the case's state as markers computed by
   the engine (GET data-src: per process its XML, call activities and completed/active/timer element ids).
   A call activity opens the diagram of the process it calls; the breadcrumb leads back up. */
(function () {
  'use strict';

  var root = document.getElementById('case-diagram');
  if (!root || !window.BpmnJS) { return; }

  var MARKERS = { completed: 'state-completed', active: 'state-active', timers: 'state-timer' };
  var crumbs = root.querySelector('.diagram-crumbs');
  var callList = root.querySelector('.diagram-calls');
  var message = root.querySelector('.diagram-message');
  var viewer = new window.BpmnJS({ container: root.querySelector('.diagram-canvas') });
  var diagrams = null;
  var path = [];  // process ids from the case's own process down to the one shown

  function current() { return path[path.length - 1]; }

  function say(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  // A call activity leads somewhere only if the deployment holds the process it calls.
  function drillTargets(processId) {
    var calls = diagrams.processes[processId].calls;
    return Object.keys(calls).filter(function (id) { return diagrams.processes[calls[id]]; });
  }

  function mark(processId) {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    var process = diagrams.processes[processId];
    Object.keys(MARKERS).forEach(function (state) {
      process[state].forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, MARKERS[state]); }
      });
    });
    drillTargets(processId).forEach(function (id) {
      if (registry.get(id)) { canvas.addMarker(id, 'drillable'); }
    });
  }

  function button(label, onClick) {
    var element = document.createElement('button');
    element.type = 'button';
    element.textContent = label;
    element.addEventListener('click', onClick);
    return element;
  }

  function renderCrumbs() {
    crumbs.replaceChildren();
    path.forEach(function (processId, index) {
      var name = diagrams.processes[processId].name;
      if (index === path.length - 1) {
        var here = document.createElement('strong');
        here.textContent = name;
        crumbs.appendChild(here);
      } else {
        crumbs.appendChild(button(name, function () { show(path.slice(0, index + 1)); }));
        crumbs.appendChild(document.createTextNode(' › '));
      }
    });
  }

  // The same drill-down without a mouse: one button per call activity of the diagram shown.
  function renderCalls(processId) {
    callList.replaceChildren();
    var calls = diagrams.processes[processId].calls;
    drillTargets(processId).forEach(function (id) {
      var called = calls[id];
      callList.appendChild(button('进入 ' + diagrams.processes[called].name, function () { drill(called); }));
    });
  }

  function show(newPath) {
    path = newPath;
    var processId = current();
    say('正在加载流程图…');
    viewer.importXML(diagrams.processes[processId].xml).then(function () {
      viewer.get('canvas').zoom('fit-viewport', 'auto');
      mark(processId);
      renderCrumbs();
      renderCalls(processId);
      say('');
    }).catch(function (error) {
      say('流程图无法显示：' + error.message);
    });
  }

  function drill(processId) { show(path.concat([processId])); }

  viewer.get('eventBus').on('element.click', function (event) {
    var called = diagrams.processes[current()].calls[event.element.id];
    if (called && diagrams.processes[called]) { drill(called); }
  });

  fetch(root.dataset.src, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
    .then(function (response) {
      if (!response.ok) { throw new Error('服务器返回 ' + response.status); }
      return response.json();
    })
    .then(function (data) {
      diagrams = data;
      show([data.root]);
    })
    .catch(function (error) { say('流程图数据加载失败：' + error.message); });
}());

// omp's pages: draws what the server rendered into <script id="data"> and
// keeps it live. Nothing here loads from the network but this server's own
// /api/; in a report (data-page="report") nothing is loaded at all.
(function () {
  'use strict';
  var main = document.querySelector('main');
  if (!main) return;
  var page = main.dataset.page;
  var dataEl = document.getElementById('data');
  var data = dataEl ? JSON.parse(dataEl.textContent) : null;
  var live = document.getElementById('live');

  // The same marks as the server's stateIcon.
  var ICON = { SUCCESS: '✓', FAILURE: '✗', RUNNING: '▶', STARTED: '▶', RETRY: '↻', CANCELLED: '⊘', CACHED: '≡', LOST: '?', PENDING: '○' };
  var ENDED = { SUCCESS: 1, FAILURE: 1, CANCELLED: 1, CACHED: 1, RETRY: 1 };

  function h(tag, attrs) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') e.textContent = attrs[k];
      else if (attrs[k] !== null && attrs[k] !== undefined) e.setAttribute(k, attrs[k]);
    }
    for (var i = 2; i < arguments.length; i++) if (arguments[i]) e.append(arguments[i]);
    return e;
  }
  var SVG = 'http://www.w3.org/2000/svg';
  function s(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs || {}) {
      if (k === 'text') e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    return e;
  }
  function badge(state) {
    var b = h('span', { class: 'badge s-' + state });
    b.append(h('span', { 'aria-hidden': 'true', text: ICON[state] || '○' }), ' ' + state);
    return b;
  }
  function fmtTime(t) {
    if (!t || t.indexOf('0001-') === 0) return '';
    // As the server writes times: UTC, whatever the browser's zone.
    return new Date(t).toISOString().slice(0, 19).replace('T', ' ') + 'Z';
  }
  function isZero(t) { return !t || t.indexOf('0001-') === 0; }
  function fmtDur(ms) {
    if (ms < 1000) return Math.round(ms) + 'ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + 's';
    var m = Math.floor(ms / 60000), sec = Math.round((ms % 60000) / 1000);
    if (m < 60) return m + 'm' + sec + 's';
    return Math.floor(m / 60) + 'h' + (m % 60) + 'm';
  }
  function say(text) { if (live) live.textContent = text; }
  function ready() { main.dataset.ready = 'true'; }
  // Rows and nodes open with a click, Enter or Space.
  function activate(elem, fn) {
    elem.addEventListener('click', function (ev) { if (!ev.target.closest('a')) fn(ev); });
    elem.addEventListener('keydown', function (ev) {
      if ((ev.key === 'Enter' || ev.key === ' ') && ev.target === elem) { ev.preventDefault(); fn(ev); }
    });
  }

  // ---- Runs ----
  function runsPage() {
    var form = document.querySelector('form.filters');
    form.querySelectorAll('select').forEach(function (sel) {
      sel.addEventListener('change', function () {
        var q = new URLSearchParams();
        form.querySelectorAll('select').forEach(function (x) { if (x.value) q.set(x.name, x.value); });
        location.search = q.toString();
      });
    });
    function wire() {
      document.querySelectorAll('#runs tbody tr[data-run]').forEach(function (tr) {
        activate(tr, function () { location.href = '/runs/' + encodeURIComponent(tr.dataset.run); });
      });
    }
    wire();
    ready();
    // The table is the server's: it is fetched again and swapped in when
    // it changed, so new runs and state changes show without a reload.
    var failures = 0;
    function poll() {
      fetch(location.href, { headers: { Accept: 'text/html' } }).then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.text();
      }).then(function (text) {
        failures = 0;
        var doc = new DOMParser().parseFromString(text, 'text/html');
        var fresh = doc.querySelector('#runs tbody'), cur = document.querySelector('#runs tbody');
        if (fresh && cur && fresh.innerHTML !== cur.innerHTML) {
          var focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.run : null;
          cur.replaceWith(fresh);
          wire();
          if (focused) {
            var again = fresh.querySelector('tr[data-run="' + CSS.escape(focused) + '"]');
            if (again) again.focus();
          }
        }
        say('live · updated ' + fmtTime(new Date().toISOString()));
      }).catch(function (err) {
        failures++;
        say('not updating: ' + err.message);
      }).finally(function () {
        setTimeout(poll, Math.min(2000 * (1 + failures), 30000));
      });
    }
    setTimeout(poll, 2000);
  }

  // ---- Run and report ----
  function runPage() {
    var report = page === 'report';
    var run = data.run;
    var tasks = {};
    data.tasks.forEach(function (t) { tasks[t.node] = t; });
    var transitions = data.transitions || [];
    var logs = data.logs || [];
    var groupOf = {};
    var nodeEls = {};
    var openNode = null, openSeq = 0;

    function taskState(n) { var t = tasks[n]; return (t && t.state) || 'PENDING'; }

    // A folded comprehension shows its worst state, and how many of its
    // members are in each.
    function groupState(members) {
      var c = {};
      members.forEach(function (m) { var st = taskState(m); c[st] = (c[st] || 0) + 1; });
      var order = ['FAILURE', 'STARTED', 'RETRY', 'PENDING', 'CANCELLED', 'SUCCESS', 'CACHED'];
      var worst = 'PENDING';
      for (var i = 0; i < order.length; i++) if (c[order[i]]) { worst = order[i]; break; }
      // Members not started yet while others ran: the group is under way.
      if (worst === 'PENDING' && (c.SUCCESS || c.CACHED)) worst = 'STARTED';
      var parts = [];
      ['SUCCESS', 'CACHED', 'STARTED', 'RETRY', 'FAILURE', 'CANCELLED', 'PENDING'].forEach(function (st) {
        if (c[st]) parts.push(ICON[st] + ' ' + c[st]);
      });
      return { state: worst, text: ICON[worst] + ' ' + worst + ' · ' + parts.join(' ') };
    }

    function trunc(text, n) { return text.length > n ? text.slice(0, n - 1) + '…' : text; }

    function drawGraph() {
      var svgEl = document.getElementById('graph');
      var gv = data.graph;
      if (!gv.nodes.length) { svgEl.replaceWith(h('p', { class: 'muted', text: 'This run has no tasks.' })); return; }
      var g = new dagre.graphlib.Graph();
      g.setGraph({ rankdir: 'LR', nodesep: 12, ranksep: 36, marginx: 12, marginy: 12, ranker: gv.nodes.length > 300 ? 'tight-tree' : 'network-simplex' });
      g.setDefaultEdgeLabel(function () { return {}; });
      gv.nodes.forEach(function (n) {
        var label = trunc(n.label, 42);
        var w = Math.max(110, Math.min(300, 7 * Math.max(label.length, n.id.length + 2, 16) + 22));
        // A group's state line counts its members by state.
        if (n.members) w = Math.max(w, 240);
        g.setNode(n.id, { width: w, height: 54, n: n, label: label });
        (n.members || []).forEach(function (m) { groupOf[m] = n.id; });
      });
      gv.edges.forEach(function (e) { g.setEdge(e.from, e.to, { ref: e.ref }); });
      dagre.layout(g);
      var gi = g.graph();
      svgEl.setAttribute('width', Math.ceil(gi.width));
      svgEl.setAttribute('height', Math.ceil(gi.height));
      svgEl.setAttribute('viewBox', '0 0 ' + Math.ceil(gi.width) + ' ' + Math.ceil(gi.height));
      var defs = s('defs');
      var marker = s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' });
      marker.append(s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' }));
      defs.append(marker);
      svgEl.append(defs);
      var edges = s('g', { class: 'edges' });
      g.edges().forEach(function (e) {
        var ed = g.edge(e);
        var d = ed.points.map(function (p, i) { return (i ? 'L' : 'M') + p.x.toFixed(1) + ',' + p.y.toFixed(1); }).join(' ');
        edges.append(s('path', { d: d, class: 'edge' + (ed.ref ? ' ref' : ''), 'marker-end': 'url(#arrow)' }));
      });
      svgEl.append(edges);
      var nodes = s('g', { class: 'nodes' });
      g.nodes().forEach(function (id) {
        var nd = g.node(id), n = nd.n;
        var x = nd.x - nd.width / 2, y = nd.y - nd.height / 2;
        var cls = 'node' + (n.members ? ' group' : '') + (n.output ? ' output' : '') + (n.reduce ? ' reduce' : '');
        var el = s('g', { class: cls, 'data-node': id, transform: 'translate(' + x.toFixed(1) + ',' + y.toFixed(1) + ')', tabindex: '0', role: 'button' });
        if (n.members) {
          el.setAttribute('data-count', n.members.length);
          el.append(s('rect', { class: 'stack', x: 5, y: -5, width: nd.width, height: nd.height, rx: n.reduce ? nd.height / 2 : 4 }));
        }
        el.append(s('rect', { width: nd.width, height: nd.height, rx: n.reduce ? nd.height / 2 : 4 }));
        var pad = n.reduce ? 16 : 8;
        el.append(s('text', { class: 'id', x: pad, y: 15, text: n.members ? n.id + ' (' + n.members.length + ' tasks)' : n.id }));
        el.append(s('text', { class: 'label', x: pad, y: 31, text: nd.label }));
        el.append(s('text', { class: 'st', x: pad, y: 47 }));
        var title = s('title', { text: n.id + ': ' + n.label });
        el.append(title);
        activate(el, function () { openTask(n.members ? pickMember(n.members) : id); });
        nodes.append(el);
        nodeEls[id] = el;
      });
      svgEl.append(nodes);
      Object.keys(nodeEls).forEach(paintNode);
    }

    function pickMember(members) {
      var pref = ['FAILURE', 'STARTED', 'RETRY'];
      for (var i = 0; i < pref.length; i++) {
        for (var j = 0; j < members.length; j++) if (taskState(members[j]) === pref[i]) return members[j];
      }
      return members[0];
    }

    function paintNode(id) {
      var el = nodeEls[id];
      if (!el) return;
      var members = el.classList.contains('group') ? data.graph.nodes.find(function (n) { return n.id === id; }).members : null;
      var st, text;
      if (members) { var gs = groupState(members); st = gs.state; text = gs.text; } else { st = taskState(id); text = (ICON[st] || '○') + ' ' + st; }
      el.setAttribute('data-state', st);
      el.querySelector('text.st').textContent = text;
      el.setAttribute('aria-label', id + ', ' + st);
    }

    function paintRow(node) {
      var tr = document.querySelector('#tasks tr[data-node="' + CSS.escape(node) + '"]');
      var t = tasks[node];
      if (!tr || !t) return;
      var st = t.state || 'PENDING';
      tr.dataset.state = st;
      var cell = tr.querySelector('td.state');
      cell.replaceChildren(badge(st));
      tr.querySelector('td.attempts').textContent = t.attempts;
      tr.querySelector('td.worker').textContent = t.worker || '';
      tr.querySelector('td.error').textContent = t.error || '';
      tr.children[5].textContent = fmtTime(t.started);
      tr.children[6].textContent = !isZero(t.started) && !isZero(t.finished) ? fmtDur(new Date(t.finished) - new Date(t.started)) : '';
    }

    function setTask(t) {
      tasks[t.node] = t;
      paintNode(groupOf[t.node] || t.node);
      paintRow(t.node);
      if (openNode === t.node) fillTask();
      redrawTimeline();
    }

    // Redrawn once a frame at most, however many tasks change in it.
    var frame = 0;
    function redrawTimeline() {
      if (!frame) frame = requestAnimationFrame(function () { frame = 0; drawTimeline(); });
    }
    // Its words are placed in pixels: a new width places them again.
    window.addEventListener('resize', redrawTimeline);

    // One bar per attempt: from its STARTED to the next state of its node.
    function attempts() {
      var open = {}, bars = [];
      transitions.forEach(function (tr) {
        var cur = open[tr.node];
        if (tr.state === 'STARTED') {
          if (cur) { cur.end = tr.time; cur.state = 'RETRY'; }
          var n = bars.filter(function (b) { return b.node === tr.node; }).length;
          cur = { node: tr.node, attempt: tr.attempt || n + 1, start: tr.time, end: null, state: 'STARTED', worker: tr.worker };
          open[tr.node] = cur;
          bars.push(cur);
        } else if (cur && ENDED[tr.state]) {
          cur.end = tr.time; cur.state = tr.state; cur.message = tr.message;
          delete open[tr.node];
        } else if (ENDED[tr.state] && tr.state !== 'CACHED' && tr.attempt > 0) {
          // The recorder writes a task's latest state, so a task that
          // started and ended between two of its writes has no STARTED:
          // its bar starts when its row says it did. (Attempt 0 is a task
          // cancelled before it started: no attempt, no bar.)
          var t = tasks[tr.node], start = tr.time;
          if (t && !isZero(t.started) && Date.parse(t.started) <= Date.parse(tr.time)) start = t.started;
          bars.push({ node: tr.node, attempt: tr.attempt || 1, start: start, end: tr.time, state: tr.state, worker: tr.worker, message: tr.message });
        }
      });
      // The transitions are fetched a while after the events that carry
      // a task's row: until they come, the row says what the bars are. A
      // running task is a bar from its start at once, and an open bar
      // whose task has ended is closed when its row says.
      var drawn = {};
      bars.forEach(function (b) { drawn[b.node] = true; });
      Object.keys(tasks).forEach(function (node) {
        var t = tasks[node], cur = open[node];
        if (isZero(t.started) || !t.attempts) return;
        if (t.state === 'STARTED' && !cur) {
          bars.push({ node: node, attempt: t.attempts, start: t.started, end: null, state: 'STARTED', worker: t.worker });
        } else if (ENDED[t.state] && t.state !== 'RETRY' && !isZero(t.finished)) {
          if (cur && cur.attempt === t.attempts) { cur.end = t.finished; cur.state = t.state; cur.message = t.error; }
          else if (!drawn[node] && t.state !== 'CACHED') bars.push({ node: node, attempt: t.attempts, start: t.started, end: t.finished, state: t.state, worker: t.worker, message: t.error });
        }
      });
      return bars;
    }

    // Ticks at round durations, about every 100px of the lanes.
    var STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5];
    function ticks(span, width) {
      var want = span / Math.max(2, Math.floor(width / 100));
      var step = STEPS.find(function (x) { return x >= want; }) || Math.ceil(want / 36e5) * 36e5;
      var out = [];
      for (var x = 0; x <= span; x += step) out.push(x);
      return out;
    }

    function drawTimeline() {
      var box = document.getElementById('timeline');
      var bars = attempts();
      box.replaceChildren();
      if (!bars.length) { box.append(h('p', { class: 'empty muted', text: 'No task has started yet.' })); return; }
      var t0 = Date.parse(run.started);
      bars.forEach(function (b) { t0 = Math.min(t0, Date.parse(b.start)); });
      var t1 = isZero(run.finished) ? Date.now() : Date.parse(run.finished);
      bars.forEach(function (b) { if (b.end) t1 = Math.max(t1, Date.parse(b.end)); });
      var span = Math.max(t1 - t0, 1);
      // The axis is a row like the others, so that its 0 is where the
      // lanes start.
      var axisLane = h('div', { class: 'lane' });
      box.append(h('div', { class: 'row axis', 'aria-hidden': 'true' }, h('div', { class: 'name' }), axisLane));
      var rows = {}, order = [], placed = [];
      bars.forEach(function (b) { if (!rows[b.node]) { rows[b.node] = []; order.push(b.node); } rows[b.node].push(b); });
      order.forEach(function (node) {
        var lane = h('div', { class: 'lane' });
        rows[node].forEach(function (b) {
          var start = Date.parse(b.start), end = b.end ? Date.parse(b.end) : t1;
          var bar = h('div', {
            class: 'bar s-' + b.state, 'data-node': node, 'data-attempt': b.attempt, 'data-state': b.state,
            style: 'left:' + ((start - t0) / span * 100).toFixed(3) + '%;width:' + Math.max((end - start) / span * 100, 0.2).toFixed(3) + '%',
            title: node + ' attempt ' + b.attempt + ': ' + b.state + ', ' + fmtDur(end - start) + (b.worker ? ' on ' + b.worker : '') + (b.message ? ' — ' + b.message : '')
          });
          var label = h('span', { class: 'blabel', text: (ICON[b.state] || '') + ' ' + b.state });
          lane.append(bar, label);
          placed.push([bar, label]);
        });
        var name = h('div', { class: 'name', tabindex: '0', role: 'button', title: node, text: node });
        activate(name, function () { openTask(node); });
        box.append(h('div', { class: 'row' }, name, lane));
      });
      var width = axisLane.clientWidth;
      ticks(span, width).forEach(function (x, i, all) {
        var at = x / span * 100;
        // The first tick starts at the lane's start, the last may not pass
        // its end.
        var shift = i === 0 ? '0' : at > 90 ? '-100%' : '-50%';
        axisLane.append(h('span', { class: 'tick', style: 'left:' + at.toFixed(3) + '%;transform:translateX(' + shift + ')', text: x ? fmtDur(x) : '0' }));
      });
      // A bar's word goes in the bar when it fits, else beside it (after
      // it, or before it at the lanes' end), else only its icon.
      placed.forEach(function (p) {
        var bar = p[0], label = p[1], left = bar.offsetLeft, w = bar.offsetWidth, lw = label.offsetWidth;
        if (lw + 6 <= w) { label.style.left = (left + 3) + 'px'; label.classList.add('inside'); return; }
        if (left + w + 4 + lw <= width) { label.style.left = (left + w + 4) + 'px'; return; }
        if (left - 4 - lw >= 0) { label.style.left = (left - 4 - lw) + 'px'; return; }
        label.textContent = ICON[bar.dataset.state] || '';
        label.style.left = (left + w + 2) + 'px';
      });
    }

    function fillTask() {
      var node = openNode, t = tasks[node] || { node: node };
      var sec = document.getElementById('task');
      document.getElementById('task-title').textContent = 'Task ' + node;
      var facts = document.getElementById('task-facts');
      facts.replaceChildren();
      var add = function (k, v) { if (v !== '' && v !== undefined && v !== null) facts.append(h('dt', { text: k }), h('dd', {}, v)); };
      add('Task', (data.labels && data.labels[node]) || t.kind || '');
      add('State', badge(t.state || 'PENDING'));
      add('Attempts', String(t.attempts || 0));
      add('Worker', t.worker || '');
      add('Label', t.label || '');
      add('Started', fmtTime(t.started));
      add('Finished', fmtTime(t.finished));
      var pos = t.pos || '';
      if (data.file_name && pos.indexOf(run.file + ':') === 0) pos = data.file_name + pos.slice(run.file.length);
      add('Source', pos);
      if (t.not_cached) add('Cache', t.not_cached);
      var err = document.getElementById('task-error');
      err.textContent = t.error || '';
      err.hidden = !t.error;
      var args = data.args && data.args[node];
      document.getElementById('task-args').textContent = !args ? '(none: a reducer takes its inputs)' : Object.keys(args).length ? JSON.stringify(args, null, 2) : '(none)';
      var at = document.querySelector('#task-attempts tbody');
      at.replaceChildren();
      transitions.filter(function (x) { return x.node === node; }).forEach(function (x) {
        at.append(h('tr', {}, h('td', { text: String(x.attempt) }), h('td', {}, badge(x.state)), h('td', { text: x.worker || '' }), h('td', { text: fmtTime(x.time) }), h('td', { text: x.message || '' })));
      });
      var mt = document.querySelector('#task-metrics tbody');
      mt.replaceChildren();
      data.metrics.filter(function (m) { return m.node === node; }).forEach(function (m) {
        mt.append(h('tr', {}, h('td', { text: m.name }), h('td', { class: 'num', text: String(m.step) }), h('td', { class: 'num', text: String(m.value) })));
      });
      [at, mt].forEach(function (body) {
        if (!body.children.length) body.append(h('tr', { class: 'none' }, h('td', { colspan: '5', class: 'muted', text: 'none' })));
      });
      sec.hidden = false;
    }

    function appendLog(lines) {
      var pre = document.getElementById('task-log');
      var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      var text = '';
      lines.forEach(function (l) {
        if (l.node === openNode && l.seq > openSeq) { text += l.line + '\n'; openSeq = l.seq; }
      });
      if (text) pre.append(document.createTextNode(text));
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    }

    function openTask(node) {
      openNode = node;
      openSeq = 0;
      document.querySelectorAll('.selected').forEach(function (e) { e.classList.remove('selected'); });
      var tr = document.querySelector('#tasks tr[data-node="' + CSS.escape(node) + '"]');
      if (tr) tr.classList.add('selected');
      var gn = nodeEls[groupOf[node] || node];
      if (gn) gn.classList.add('selected');
      fillTask();
      var pre = document.getElementById('task-log');
      pre.replaceChildren();
      if (report) {
        appendLog(logs);
        if (!pre.textContent) pre.textContent = '';
      } else {
        pre.dataset.loading = 'true';
        fetch('/api/runs/' + encodeURIComponent(run.id) + '/logs?node=' + encodeURIComponent(node)).then(function (r) { return r.json(); }).then(function (lines) {
          if (openNode === node && Array.isArray(lines)) appendLog(lines);
        }).catch(function (err) { say('log: ' + err.message); }).finally(function () { delete pre.dataset.loading; });
        // Metrics go on arriving while a run runs.
        if (run.status === 'RUNNING') {
          fetch('/api/runs/' + encodeURIComponent(run.id) + '/metrics').then(function (r) { return r.json(); }).then(function (list) {
            if (Array.isArray(list)) { data.metrics = list; if (openNode === node) fillTask(); }
          }).catch(function () {});
        }
      }
      var sec = document.getElementById('task');
      sec.scrollTop = 0;
      if (getComputedStyle(sec).position !== 'fixed') sec.scrollIntoView({ block: 'start' });
      document.getElementById('task-close').focus({ preventScroll: true });
    }

    document.getElementById('task-close').addEventListener('click', function () {
      document.getElementById('task').hidden = true;
      var back = document.querySelector('#tasks tr[data-node="' + CSS.escape(openNode) + '"]');
      openNode = null;
      if (back) back.focus();
    });
    document.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape' && openNode) document.getElementById('task-close').click();
    });
    document.querySelectorAll('#tasks tbody tr[data-node]').forEach(function (tr) {
      activate(tr, function () { openTask(tr.dataset.node); });
    });

    drawGraph();
    drawTimeline();
    ready();
    if (report) return;

    // Only a running run has the button; it goes when the run ends.
    var cancel = document.getElementById('cancel');
    if (cancel) cancel.addEventListener('click', function () {
      cancel.disabled = true;
      cancel.textContent = 'Cancelling…';
      fetch('/api/runs/' + encodeURIComponent(run.id) + '/cancel', { method: 'POST' }).then(function (r) {
        return r.json().then(function (body) { if (!r.ok) throw new Error(body.error || 'HTTP ' + r.status); });
      }).catch(function (err) { cancel.textContent = 'Cancel run'; cancel.disabled = run.status !== 'RUNNING'; say('cancel: ' + err.message); });
    });

    function setRun(r) {
      run = Object.assign(run, r);
      main.dataset.status = r.status;
      var st = document.getElementById('run-state');
      st.className = 'badge s-' + r.status;
      st.replaceChildren(h('span', { 'aria-hidden': 'true', text: ICON[r.status] || '○' }), ' ' + r.status);
      var c = r.counts;
      document.getElementById('run-counts').textContent = '✓ ' + c.succeeded + ' succeeded, ✗ ' + c.failed + ' failed, ▶ ' + c.running + ' running, ⊘ ' + c.cancelled + ' cancelled, of ' + c.total;
      var end = isZero(r.finished) ? Date.now() : Date.parse(r.finished);
      document.getElementById('run-duration').textContent = fmtDur(end - Date.parse(r.started));
      if (r.status !== 'RUNNING' && cancel) { cancel.disabled = true; cancel.hidden = true; }
    }

    // Transitions come from the API, at most once a second while tasks
    // change: the events carry a task's latest row, not its history.
    var pending = null;
    function refreshTransitions() {
      if (pending) return;
      pending = setTimeout(function () {
        fetch('/api/runs/' + encodeURIComponent(run.id) + '/transitions').then(function (r) { return r.json(); }).then(function (list) {
          if (Array.isArray(list)) { transitions = list; drawTimeline(); if (openNode) fillTask(); }
        }).catch(function () {}).finally(function () { pending = null; });
      }, 1000);
    }

    // The results are the server's to write: once the run ends, its page
    // is fetched again for them.
    function refreshResults() {
      fetch(location.href, { headers: { Accept: 'text/html' } }).then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.text();
      }).then(function (text) {
        var fresh = new DOMParser().parseFromString(text, 'text/html').getElementById('results');
        if (fresh) document.getElementById('results').replaceWith(fresh);
      }).catch(function (err) { say('results: ' + err.message); });
    }

    if (run.status !== 'RUNNING') return;
    var es = new EventSource('/api/runs/' + encodeURIComponent(run.id) + '/events');
    say('live');
    es.addEventListener('task', function (ev) { setTask(JSON.parse(ev.data)); refreshTransitions(); });
    es.addEventListener('log', function (ev) { appendLog([JSON.parse(ev.data)]); });
    es.addEventListener('run', function (ev) { setRun(JSON.parse(ev.data)); });
    es.addEventListener('end', function (ev) {
      es.close();
      setRun(JSON.parse(ev.data));
      refreshTransitions();
      refreshResults();
      say('run ended');
    });
    es.onerror = function () { if (es.readyState !== EventSource.CLOSED) say('reconnecting…'); };
    // The timeline's running bars grow while the run runs.
    var tick = setInterval(function () { if (run.status === 'RUNNING') drawTimeline(); else clearInterval(tick); }, 2000);
  }

  // ---- Metrics ----
  function metricsPage() {
    var file = document.getElementById('file'), metric = document.getElementById('metric');
    file.addEventListener('change', function () { location.search = file.value ? '?file=' + encodeURIComponent(file.value) : ''; });
    metric.addEventListener('change', function () {
      var q = new URLSearchParams({ file: file.value });
      if (metric.value) q.set('name', metric.value);
      location.search = q.toString();
    });
    var css = getComputedStyle(document.documentElement);
    var fg = css.getPropertyValue('--fg').trim(), line = css.getPropertyValue('--line').trim(), stroke = css.getPropertyValue('--link').trim();
    var axis = function (label, more) {
      return Object.assign({ stroke: fg, grid: { stroke: line }, ticks: { stroke: line }, label: label }, more || {});
    };
    // Whole numbers only (runs, steps), at least 60px apart.
    var whole = { space: 60, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6] };
    // An x scale around the values, and at least 1 wide: one point is
    // not drawn at the edge of 0 to 100 (uPlot's own pick for one x).
    var around = function (xs) {
      if (!xs.length) return { time: false };
      var min = xs[0], max = xs[xs.length - 1], pad = Math.max((max - min) * 0.03, 0.5);
      return { time: false, auto: false, range: [min - pad, max + pad] };
    };
    // With no point hovered, the legend shows each series' last value
    // rather than "--".
    var lastOf = function (col) {
      for (var i = col.length - 1; i >= 0; i--) if (col[i] !== null && col[i] !== undefined) return col[i];
      return null;
    };
    var chart = document.getElementById('chart');
    if (chart) {
      // x is the run's number, oldest first: runs minutes or months
      // apart are spaced alike, and the table and legend give its id and
      // time.
      var pts = data.points;
      var xs = pts.map(function (p, i) { return i + 1; });
      var ys = pts.map(function (p) { return p.value; });
      var runAt = function (i) { var p = pts[i]; return p ? '#' + (i + 1) + ' · ' + p.run_id + ' · ' + fmtTime(p.started) : ''; };
      new uPlot({
        width: Math.max(chart.clientWidth, 300), height: 300,
        scales: { x: around(xs) },
        series: [
          { label: 'run', value: function (u, v, si, idx) { return runAt(idx === null ? pts.length - 1 : idx); } },
          { label: data.name, stroke: stroke, width: 2, points: { show: true, size: 7 }, value: function (u, v, si, idx) { return String(idx === null ? lastOf(ys) : v); } }
        ],
        axes: [axis('run (oldest first)', Object.assign({ values: function (u, splits) { return splits.map(function (v) { return Number.isInteger(v) && v >= 1 && v <= pts.length ? '#' + v : ''; }); } }, whole)), axis(data.name)]
      }, [xs, ys], chart);
      chart.dataset.points = String(pts.length);
    }
    var steps = document.getElementById('steps-chart');
    if (steps && data.steps.length) {
      // One series per node, on the union of their steps.
      var nodes = [], byNode = {}, stepSet = {};
      data.steps.forEach(function (m) {
        if (!byNode[m.node]) { byNode[m.node] = {}; nodes.push(m.node); }
        byNode[m.node][m.step] = m.value;
        stepSet[m.step] = true;
      });
      var sx = Object.keys(stepSet).map(Number).sort(function (a, b) { return a - b; });
      var palette = [stroke, '#d9822b', '#2ca58d', '#a23b72', '#6c757d'];
      var cols = [sx];
      var series = [{ label: 'step', value: function (u, v, si, idx) { return String(idx === null ? sx[sx.length - 1] : v); } }];
      nodes.forEach(function (n, i) {
        var col = sx.map(function (x) { return x in byNode[n] ? byNode[n][x] : null; });
        series.push({ label: n, stroke: palette[i % palette.length], width: 2, spanGaps: true, points: { show: sx.length < 60 },
          value: function (u, v, si, idx) { var x = idx === null ? lastOf(col) : v; return x === null ? '' : String(x); } });
        cols.push(col);
      });
      new uPlot({ width: Math.max(steps.clientWidth, 300), height: 260, scales: { x: around(sx) }, series: series,
        axes: [axis('step', whole), axis(data.name)] }, cols, steps);
    }
    ready();
  }

  if (page === 'runs') runsPage();
  else if (page === 'run' || page === 'report') runPage();
  else if (page === 'metrics') metricsPage();
  else if (!main.dataset.ready) ready();
})();

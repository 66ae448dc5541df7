// hueyctl dashboard: renders the JSON API into the page and polls it for live updates.
// Every value goes into the page as text (textContent), never as HTML.
"use strict";

const POLL_MS = 2000;
const COUNTERS = ["enqueued", "started", "finished", "failed", "retried", "revoked", "requeued"];
const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const shownArgs = {};  // task id -> "args kwargs", kept across refreshes
const openTracebacks = new Set();
let taskName = "";  // the task-name field survives the refreshes that redraw it

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function cell(value) {
  if (value === null || value === undefined) return "-";
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  if (seconds < 120) return `${Math.round(seconds)}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 3600)}h`;
}

function seconds(value, prefix = "") {
  if (value === null || value === undefined) return "-";
  if (typeof value === "string") return value;  // past the histogram's last bound
  return value < 1 ? `${prefix}${Math.round(value * 1000)}ms` : `${prefix}${value.toFixed(1)}s`;
}

function table(columns, rows, render) {
  const head = el("tr", {}, ...columns.map((c) => el("th", {}, c)));
  const body = rows.length
    ? rows.map(render)
    : [el("tr", {}, el("td", { colspan: columns.length, class: "muted" }, "(none)"))];
  return el("table", {}, el("thead", {}, head), el("tbody", {}, ...body));
}

function num(field, value) {
  return el("td", { class: "num", "data-field": field }, cell(value));
}

function chart(values, kind) {
  const svgNS = "http://www.w3.org/2000/svg";
  const width = 120, height = 24;
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("class", `chart ${kind}`);
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  const series = values || [];
  const peak = Math.max(1, ...series);
  series.forEach((value, i) => {
    const bar = document.createElementNS(svgNS, "rect");
    const h = value ? Math.max(1, (value / peak) * height) : 0;
    bar.setAttribute("x", (i * width) / series.length);
    bar.setAttribute("y", height - h);
    bar.setAttribute("width", Math.max(1, width / series.length - 0.5));
    bar.setAttribute("height", h);
    svg.append(bar);
  });
  const title = document.createElementNS(svgNS, "title");
  title.textContent = `${kind} per minute, last hour (peak ${Math.max(0, ...series)})`;
  svg.append(title);
  return svg;
}

async function api(path, options) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function flash(text) {
  document.getElementById("flash").textContent = text;
}

async function act(project, instance, action, body, question) {
  if (!window.confirm(question)) return;
  try {
    const rows = await api(`/api/instances/${project}/${instance}/${action}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
      body: JSON.stringify(body),
    });
    flash(`${action}: done (${rows.length} row${rows.length === 1 ? "" : "s"})`);
  } catch (error) {
    flash(`${action} failed: ${error.message}`);
  }
  refresh();
}

function overviewPage(rows) {
  const columns = ["instance", "project", "supervisord", "pid", "uptime", "heartbeating",
    "workers", "queued", "scheduled", "in flight", "oldest pending", "finished", "failed",
    "errors", "tasks/min", "failures/min"];
  return [
    el("h1", {}, "Instances"),
    table(columns, rows, (row) => el("tr", { "data-instance": row.instance },
      el("td", {}, el("a", { href: `/instances/${row.project}/${row.instance}` }, row.instance)),
      el("td", {}, row.project),
      el("td", { class: `state-${row.state}`, "data-field": "state" }, row.state),
      num("pid", row.pid), el("td", { class: "num" }, age(row.uptime)),
      num("heartbeating", row.heartbeating), num("workers", row.workers),
      num("queued", row.queued), num("scheduled", row.scheduled),
      num("in_flight", row.in_flight), el("td", { class: "num" }, age(row.oldest_pending_age)),
      num("finished", row.finished), num("failed", row.failed), num("errors", row.errors),
      el("td", {}, chart((row.per_minute || {}).finished, "finished")),
      el("td", {}, chart((row.per_minute || {}).failed, "failed")),
    )),
  ];
}

function waitingRows(page, rows) {
  const columns = ["task id", "task", "execute time", "state", "arguments", ""];
  return table(columns, rows, (row) => {
    const args = row.task_id in shownArgs
      ? el("code", { "data-field": "args" }, shownArgs[row.task_id])
      : el("button", { onclick: () => showArgs(page, row) }, "show");
    const revoked = row.revoked;
    const button = el("button", {
      "data-action": revoked ? "restore" : "revoke",
      onclick: () => act(page.project, page.instance, revoked ? "restore" : "revoke",
        { task_id: row.task_id }, `${revoked ? "Restore" : "Revoke"} task ${row.task_id}?`),
    }, revoked ? "Restore" : "Revoke");
    return el("tr", { "data-task-id": row.task_id },
      el("td", {}, el("code", {}, row.task_id)), el("td", {}, row.name),
      el("td", {}, cell(row.execute_time)),
      el("td", { "data-field": "revoked", class: revoked ? "revoked" : "" },
        revoked ? "revoked" : "waiting"),
      el("td", {}, args), el("td", {}, button));
  });
}

async function showArgs(page, row) {
  try {
    const rows = await api(`/api/instances/${page.project}/${page.instance}/${row.where}?args=1`);
    for (const each of rows) shownArgs[each.task_id] = `${each.args} ${each.kwargs}`;
  } catch (error) {
    flash(`arguments: ${error.message}`);
  }
  refresh();
}

function errorRows(page, rows) {
  return table(["time", "task", "task id", "error", ""], rows, (row) => {
    const details = el("details", {}, el("summary", {}, row.error), el("pre", {}, row.traceback));
    if (openTracebacks.has(row.task_id + row.time)) details.open = true;
    details.addEventListener("toggle", () => {
      const key = row.task_id + row.time;
      if (details.open) openTracebacks.add(key); else openTracebacks.delete(key);
    });
    const retry = row.retryable ? el("button", {
      "data-action": "retry",
      onclick: () => act(page.project, page.instance, "retry", { task_id: row.task_id },
        `Run task ${row.task_id} (${row.task}) again?`),
    }, "Retry") : "";
    return el("tr", { "data-error-of": row.task_id }, el("td", {}, cell(row.time)),
      el("td", {}, row.task), el("td", {}, el("code", {}, cell(row.task_id))),
      el("td", {}, details), el("td", {}, retry));
  });
}

function taskForm(page) {
  const input = el("input", { id: "task-name", placeholder: "task name", size: 30 });
  input.value = taskName;
  input.addEventListener("input", () => { taskName = input.value; });
  const whole = (action) => el("button", {
    "data-action": `${action}-task`,
    onclick: (event) => {
      event.preventDefault();
      act(page.project, page.instance, action, { task: input.value },
        `${action} every run of ${input.value}?`);
    },
  }, `${action} task`);
  return el("form", {}, input, whole("revoke"), whole("restore"));
}

function instancePage(page) {
  const lifecycle = (action) => el("button", {
    "data-action": action,
    onclick: () => act(page.project, page.instance, action, {},
      `${action} the consumer of ${page.instance}?`),
  }, action);
  return [
    el("h1", {}, `${page.project} / ${page.instance}`),
    el("p", {}, lifecycle("restart"), " ", lifecycle("reload"), " ", taskForm(page)),
    el("h2", {}, "Supervised process"),
    table(["host", "state", "pid", "uptime"], [page.process], (p) => el("tr", {},
      el("td", {}, p.host), el("td", { class: `state-${p.state}` }, p.state),
      num("pid", p.pid), el("td", { class: "num" }, age(p.uptime)))),
    el("h2", {}, "Consumers (from their heartbeats)"),
    table(["host", "pid", "workers", "uptime", "heartbeat age"], page.consumers, (c) =>
      el("tr", { "data-consumer": c.consumer },
        el("td", {}, c.host), num("pid", c.pid), num("workers", `${c.workers} ${c.worker_type}`),
        el("td", { class: "num" }, age(c.uptime)),
        el("td", { class: "num" }, age(c.heartbeat_age)))),
    el("h2", {}, "Tasks (since their consumers started)"),
    table(["task", ...COUNTERS, "mean", "p50", "p95", "p99"], page.tasks, (t) =>
      el("tr", { "data-task": t.task }, el("td", {}, t.task),
        ...COUNTERS.map((name) => num(name, t[name])),
        el("td", { class: "num" }, seconds(t.mean)),
        ...["p50", "p95", "p99"].map((p) => el("td", { class: "num" }, seconds(t[p], "≤ ")))),
    ),
    el("h2", {}, "Periodic tasks"),
    table(["task", "schedule", "next run"], page.periodic, (p) => el("tr", {},
      el("td", {}, p.task), el("td", {}, el("code", {}, p.schedule)), el("td", {}, cell(p.next_run)))),
    el("h2", { id: "pending" }, `Pending (${page.pending.length})`),
    waitingRows(page, page.pending),
    el("h2", { id: "scheduled" }, `Scheduled (${page.scheduled.length})`),
    waitingRows(page, page.scheduled),
    el("h2", { id: "errors" }, `Latest errors (${page.errors.length})`),
    errorRows(page, page.errors),
  ];
}

async function refresh() {
  const parts = location.pathname.split("/").filter(Boolean);
  try {
    const view = parts[0] === "instances"
      ? instancePage(await api(`/api/instances/${parts[1]}/${parts[2]}`))
      : overviewPage(await api("/api/overview"));
    document.getElementById("main").replaceChildren(...view);
    document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    flash(`cannot refresh: ${error.message}`);
  }
}

refresh();
setInterval(refresh, POLL_MS);

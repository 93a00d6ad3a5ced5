// The execution page, live: follows the execution's Server-Sent Events and updates in place
// every field the page shows of the run: its status, reason, Started and Finished, the
// counters, each batch (status, error, command, Sent) and each instance (status, details,
// exit code, Started, Ended, output). The stream replays the execution's events from its
// start (each is applied in order, so the page ends up current), and a reconnecting
// EventSource resumes with Last-Event-ID. The stream ends with `event: end`; the page then
// shows what a reload would.
//
// What the events carry (published by jobs/executions/):
//   execution  {status, started_at?, finished_at?, reason?, counts?, cancel_requested_by?,
//              cancel_requested_at?} or
//              {held: [batch numbers], reason, counts}: batches held back, their
//              instances NotSent
//   batch      {number, status, command_id?, error?, sent_at?, counts?}
//   instances  {batch, instances: [{instance_id, status, status_details, exit_code,
//              started_at, ended_at, stdout, stderr (the last 2,000 characters of each),
//              stdout_truncated, stderr_truncated, output_url}]}
//
// Loaded with <script src>: the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";

  // What an event carries of each output stream (the page has all of it after a reload).
  var EVENT_OUTPUT_CHARS = 2000;
  // What the server keeps of a batch's error beside its Undeliverable instances, and of a
  // hold's reason beside its NotSent instances (sending.py, records.hold_planned).
  var UNDELIVERABLE_DETAILS_CHARS = 100;
  var SKIP_REASON_CHARS = 300;

  var live = document.getElementById("execution-live");

  function words(name) {
    return ((live && live.getAttribute(name)) || "").split(" ").filter(Boolean);
  }

  // SSM's spellings of a status in its details ("Canceled"), from the page
  // (data-details-spellings="Canceled=Cancelled"): details that only repeat the status
  // are not shown, in either spelling.
  var DETAILS_SPELLINGS = {};
  words("data-details-spellings").forEach(function (pair) {
    var parts = pair.split("=");
    if (parts.length === 2) {
      DETAILS_SPELLINGS[parts[0]] = parts[1];
    }
  });
  // Statuses whose output opens by itself (an instance that failed).
  var OPEN_STATUSES = words("data-open-statuses");

  function field(row, name) {
    return row ? row.querySelector('[data-field="' + name + '"]') : null;
  }

  function setText(element, text) {
    if (element) {
      element.textContent = text === null || text === undefined ? "" : String(text);
    }
  }

  function when(iso) {
    // "2025-03-01T10:00:00.123+00:00" -> "2025-03-01 10:00:00", as the server writes it.
    var time = document.createElement("time");
    time.setAttribute("datetime", iso);
    time.textContent = iso.replace("T", " ").slice(0, 19);
    return time;
  }

  function setWhen(element, iso) {
    if (element && iso) {
      element.replaceChildren(when(iso));
    }
  }

  function badge(prefix, status) {
    var span = document.createElement("span");
    span.className = "badge " + prefix + " " + prefix + "--" + status;
    span.textContent = status;
    return span;
  }

  function instanceRow(instanceId) {
    return document.querySelector('tr[data-instance="' + CSS.escape(instanceId) + '"]');
  }

  function outputRow(instanceId) {
    return document.querySelector('tr[data-output-for="' + CSS.escape(instanceId) + '"]');
  }

  function setInstanceStatus(row, status, details) {
    var before = row.getAttribute("data-status");
    row.setAttribute("data-status", status);
    var cell = field(row, "status");
    if (cell) {
      cell.replaceChildren(badge("ex-instance-status", status));
    }
    if (details !== undefined) {
      var repeats = (DETAILS_SPELLINGS[details] || details) === status;
      setText(field(row, "status_details"), repeats ? "" : details);
    }
    // An instance that has just failed shows its output, as the page does after a reload.
    if (before !== status && OPEN_STATUSES.indexOf(status) >= 0) {
      var output = field(outputRow(row.getAttribute("data-instance")), "output");
      if (output) {
        output.open = true;
      }
    }
  }

  function truncationNote(note, url) {
    note.replaceChildren();
    if (url.indexOf("https://") === 0) {
      var link = document.createElement("a");
      link.href = url;
      link.rel = "noopener";
      link.textContent = "the full output";
      note.append("Truncated: ", link, ".");
    } else if (url) {
      var code = document.createElement("code");
      code.textContent = url;
      note.append("Truncated: the full output is at ", code, ".");
    } else {
      note.append(
        "Truncated: run with an S3 bucket or a CloudWatch log group to keep the full output."
      );
    }
  }

  function setOutput(item) {
    var row = outputRow(item.instance_id);
    var output = field(row, "output");
    if (!output) {
      return;
    }
    var clipped = false;
    var show = function (name, text) {
      text = text || "";
      // The event has the end of a longer output: the page fetches the whole of it when
      // the run ends (refillClipped).
      var cut = text.length >= EVENT_OUTPUT_CHARS;
      clipped = clipped || cut;
      setText(field(row, name), cut ? "…" + text : text);
      var block = field(row, name + "_block");
      if (block) {
        block.hidden = !text;
      }
    };
    show("stdout", item.stdout);
    show("stderr", item.stderr);
    row.hidden = !(item.stdout || item.stderr);
    row.setAttribute("data-clipped", clipped ? "true" : "false");
    var truncated = Boolean(item.stdout_truncated || item.stderr_truncated);
    var note = field(row, "output_url");
    if (note) {
      note.hidden = !truncated;
      if (truncated) {
        truncationNote(note, item.output_url || "");
      }
    }
    var summary = output.querySelector("summary");
    var mark = summary && summary.querySelector(".ex-truncated");
    if (truncated && summary && !mark) {
      mark = document.createElement("span");
      mark.className = "badge ex-truncated";
      mark.textContent = "truncated";
      summary.append(" ", mark);
    }
  }

  function updateInstance(item) {
    var row = instanceRow(item.instance_id);
    if (!row) {
      return; // on another page of the table, or filtered out
    }
    setInstanceStatus(row, item.status, item.status_details || "");
    setText(field(row, "exit_code"), item.exit_code);
    setWhen(field(row, "started_at"), item.started_at);
    setWhen(field(row, "ended_at"), item.ended_at);
    setOutput(item);
  }

  function batchRow(number) {
    return document.querySelector('tr[data-batch="' + number + '"]:not([data-instance])');
  }

  // Instances not yet polled follow their batch: sent, undeliverable or held back.
  function pendingInstancesFollow(number, status, details) {
    document
      .querySelectorAll('tr[data-instance][data-batch="' + number + '"][data-status="Pending"]')
      .forEach(function (instance) {
        setInstanceStatus(instance, status, details);
      });
  }

  function updateBatch(data) {
    var row = batchRow(data.number);
    if (row) {
      setText(field(row, "status"), data.status);
      if (data.command_id) {
        setText(field(row, "command_id"), data.command_id);
      }
      if (data.error !== undefined) {
        setText(field(row, "error"), data.error);
      }
      setWhen(field(row, "sent_at"), data.sent_at);
    }
    if (data.status === "sent") {
      pendingInstancesFollow(data.number, "Sent", "");
    } else if (data.status === "failed") {
      pendingInstancesFollow(
        data.number,
        "Undeliverable",
        (data.error || "").slice(0, UNDELIVERABLE_DETAILS_CHARS)
      );
    }
    updateCounts(data.counts);
  }

  function hold(numbers, reason) {
    numbers.forEach(function (number) {
      var row = batchRow(number);
      if (row && field(row, "status").textContent === "planned") {
        setText(field(row, "status"), "not_sent");
        setText(field(row, "error"), reason);
      }
      pendingInstancesFollow(number, "NotSent", reason.slice(0, SKIP_REASON_CHARS));
    });
  }

  // The counters in the order the server renders them (data-order), with those at zero
  // left out.
  function updateCounts(counts) {
    var list = document.getElementById("execution-counts");
    if (!list || !counts) {
      return;
    }
    var order = (list.getAttribute("data-order") || "").split(" ");
    var rank = function (status) {
      var at = order.indexOf(status);
      return at < 0 ? order.length : at;
    };
    var items = {};
    list.querySelectorAll("[data-count]").forEach(function (item) {
      items[item.getAttribute("data-count")] = item;
    });
    Object.keys(counts).forEach(function (status) {
      if (!counts[status] || items[status]) {
        return;
      }
      var item = document.createElement("li");
      item.className = "ex-counter ex-counter--" + status;
      item.setAttribute("data-count", status);
      var number = document.createElement("span");
      number.className = "ex-counter__n";
      var label = document.createElement("span");
      label.className = "ex-counter__label";
      label.textContent = status;
      item.append(number, " ", label);
      items[status] = item;
    });
    Object.keys(items)
      .sort(function (a, b) {
        return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
      })
      .forEach(function (status) {
        var item = items[status];
        if (counts[status]) {
          setText(item.querySelector(".ex-counter__n"), counts[status]);
          list.append(item);
        } else {
          item.remove();
        }
      });
  }

  function updateExecution(data) {
    if (data.held) {
      hold(data.held, data.reason || "");
      updateCounts(data.counts);
      return; // the reason is the batches', not yet the execution's
    }
    if (data.status) {
      var status = document.getElementById("execution-status");
      if (status) {
        status.className = "badge ex-status ex-status--" + data.status;
        status.textContent = data.status;
      }
      var cancel = document.querySelector("#cancel-form button");
      if (cancel && data.status === "cancelling") {
        cancel.disabled = true;
        cancel.textContent = "Cancelling…";
      }
    }
    setWhen(document.getElementById("execution-started"), data.started_at);
    setWhen(document.getElementById("execution-finished"), data.finished_at);
    var cancelled = document.getElementById("execution-cancel-requested");
    if (cancelled && data.cancel_requested_at) {
      cancelled.replaceChildren(
        when(data.cancel_requested_at),
        document.createTextNode(" by " + (data.cancel_requested_by || "")),
      );
      cancelled.hidden = false;
      document.getElementById("cancel-requested-term").hidden = false;
    }
    if (data.reason) {
      var reason = document.getElementById("execution-reason");
      if (reason) {
        reason.textContent = data.reason;
        reason.hidden = false;
      }
    }
    updateCounts(data.counts);
  }

  // Events carry the last 2,000 characters of an output; where an output was longer, the
  // whole of it comes from the page itself (one request), as a reload would show it.
  function refillClipped() {
    var rows = document.querySelectorAll('tr[data-output-for][data-clipped="true"]');
    if (!rows.length || !window.fetch || !window.DOMParser) {
      return Promise.resolve(rows.length === 0);
    }
    return fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.text() : Promise.reject(response.status);
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        rows.forEach(function (row) {
          var selector = 'tr[data-output-for="' + CSS.escape(row.getAttribute("data-output-for")) + '"]';
          var source = fresh.querySelector(selector);
          if (!source) {
            return;
          }
          ["stdout", "stderr", "output_url", "stdout_block", "stderr_block"].forEach(function (name) {
            var from = field(source, name);
            var to = field(row, name);
            if (from && to) {
              to.hidden = from.hidden;
              if (name.indexOf("_block") < 0) {
                to.replaceChildren.apply(
                  to,
                  Array.prototype.map.call(from.childNodes, function (node) {
                    return document.importNode(node, true);
                  })
                );
              }
            }
          });
          row.hidden = source.hidden;
          row.setAttribute("data-clipped", "false");
        });
        return true;
      })
      .catch(function () {
        return false;
      });
  }

  function finish(data) {
    updateExecution({ status: data.state, counts: data.counts, reason: data.reason });
    live.setAttribute("data-finished", "true");
    var cancel = document.getElementById("cancel-form");
    if (cancel) {
      cancel.hidden = true;
    }
    var rerun = document.getElementById("rerun-form");
    if (rerun && data.counts) {
      var statuses = (rerun.getAttribute("data-rerun-statuses") || "").split(" ");
      rerun.hidden = !statuses.some(function (status) {
        return data.counts[status] > 0;
      });
    }
    var note = document.getElementById("live-note");
    refillClipped().then(function (complete) {
      if (!note) {
        return;
      }
      if (complete) {
        note.hidden = true; // as after a reload: the status says the run has ended
      } else {
        note.textContent = "Finished: reload for the complete output of every instance.";
      }
    });
  }

  function follow() {
    var url = live.getAttribute("data-events-url");
    if (!url || live.getAttribute("data-finished") === "true" || !window.EventSource) {
      return;
    }
    var source = new EventSource(url);
    var handlers = {
      instances: function (data) {
        (data.instances || []).forEach(updateInstance);
      },
      batch: updateBatch,
      execution: updateExecution,
    };
    Object.keys(handlers).forEach(function (type) {
      source.addEventListener(type, function (event) {
        var envelope = JSON.parse(event.data);
        handlers[type](envelope.data || {});
      });
    });
    source.addEventListener("end", function (event) {
      source.close();
      finish(event.data ? JSON.parse(event.data) : {});
    });
  }

  function start() {
    if (live) {
      follow();
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

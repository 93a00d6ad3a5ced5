// The execution page, live: follows the execution's Server-Sent Events and updates the
// instance rows, the batches and the counters in place. The stream replays the execution's
// events from its start (each is applied in order, so the page ends up current), and a
// reconnecting EventSource resumes with Last-Event-ID. The stream ends with `event: end`.
// Loaded with <script src>: the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";

  // What an event carries of an instance's output (the page has all of it after a reload).
  var EVENT_OUTPUT_CHARS = 2000;

  function field(row, name) {
    return row.querySelector('[data-field="' + name + '"]');
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

  function badge(prefix, status) {
    var span = document.createElement("span");
    span.className = "badge " + prefix + " " + prefix + "--" + status;
    span.textContent = status;
    return span;
  }

  // SSM's spellings of a status in its details ("Canceled"), from the page
  // (data-details-spellings="Canceled=Cancelled"): details that only repeat the status
  // are not shown, in either spelling.
  function spellings() {
    var live = document.getElementById("execution-live");
    var pairs = (live && live.getAttribute("data-details-spellings")) || "";
    var known = {};
    pairs.split(" ").forEach(function (pair) {
      var parts = pair.split("=");
      if (parts.length === 2) {
        known[parts[0]] = parts[1];
      }
    });
    return known;
  }
  var DETAILS_SPELLINGS = spellings();

  function setInstanceStatus(row, status, details) {
    row.setAttribute("data-status", status);
    var cell = field(row, "status");
    if (cell) {
      cell.replaceChildren(badge("ex-instance-status", status));
    }
    if (details !== undefined) {
      var repeats = (DETAILS_SPELLINGS[details] || details) === status;
      setText(field(row, "status_details"), repeats ? "" : details);
    }
  }

  function setOutput(row, item) {
    var output = field(row, "output");
    if (!output) {
      return;
    }
    var clipped = function (text) {
      return text && text.length >= EVENT_OUTPUT_CHARS ? "…" + text : text || "";
    };
    setText(field(row, "stdout"), clipped(item.stdout));
    var stderr = field(row, "stderr");
    setText(stderr, clipped(item.stderr));
    if (stderr) {
      stderr.hidden = !item.stderr;
    }
    output.hidden = !(item.stdout || item.stderr);
    var note = field(row, "output_url");
    var summary = output.querySelector("summary");
    if (item.stdout_truncated && note) {
      note.hidden = false;
      note.replaceChildren();
      var url = item.output_url || "";
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
      if (summary && !summary.querySelector(".ex-truncated")) {
        var mark = document.createElement("span");
        mark.className = "badge ex-truncated";
        mark.textContent = "truncated";
        summary.append(" ", mark);
      }
    }
  }

  function updateInstance(item) {
    var row = document.querySelector('tr[data-instance="' + CSS.escape(item.instance_id) + '"]');
    if (!row) {
      return; // on another page of the table, or filtered out
    }
    setInstanceStatus(row, item.status, item.status_details || "");
    setText(field(row, "exit_code"), item.exit_code);
    var ended = field(row, "ended_at");
    if (ended && item.ended_at) {
      ended.replaceChildren(when(item.ended_at));
    }
    setOutput(row, item);
  }

  function updateBatch(data) {
    var row = document.querySelector('tr[data-batch="' + data.number + '"]:not([data-instance])');
    if (row) {
      setText(field(row, "status"), data.status);
      if (data.command_id) {
        setText(field(row, "command_id"), data.command_id);
      }
      if (data.error !== undefined) {
        setText(field(row, "error"), data.error);
      }
    }
    // Instances not yet polled follow their batch: sent, or undeliverable.
    var next = data.status === "sent" ? "Sent" : data.status === "failed" ? "Undeliverable" : "";
    if (!next) {
      return;
    }
    document
      .querySelectorAll('tr[data-instance][data-batch="' + data.number + '"][data-status="Pending"]')
      .forEach(function (instance) {
        setInstanceStatus(instance, next, next === "Undeliverable" ? data.error || "" : "");
      });
  }

  function updateCounts(counts) {
    var list = document.getElementById("execution-counts");
    if (!list || !counts) {
      return;
    }
    var items = list.querySelectorAll("[data-count]");
    var seen = {};
    items.forEach(function (item) {
      var status = item.getAttribute("data-count");
      seen[status] = true;
      if (counts[status]) {
        setText(item.querySelector(".ex-counter__n"), counts[status]);
        item.hidden = false;
      } else {
        item.hidden = true;
      }
    });
    Object.keys(counts).forEach(function (status) {
      if (seen[status] || !counts[status]) {
        return;
      }
      var item = document.createElement("li");
      item.className = "ex-counter ex-counter--" + status;
      item.setAttribute("data-count", status);
      var number = document.createElement("span");
      number.className = "ex-counter__n";
      number.textContent = String(counts[status]);
      var label = document.createElement("span");
      label.className = "ex-counter__label";
      label.textContent = status;
      item.append(number, " ", label);
      list.append(item);
    });
  }

  function updateExecution(data) {
    if (data.status) {
      var status = document.getElementById("execution-status");
      if (status) {
        status.className = "badge ex-status ex-status--" + data.status;
        status.textContent = data.status;
      }
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

  function finish(data, live) {
    updateExecution({ status: data.state, counts: data.counts, reason: data.reason });
    live.setAttribute("data-finished", "true");
    var note = document.getElementById("live-note");
    if (note) {
      note.textContent = "Finished: reload for the complete output of every instance.";
    }
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
  }

  function follow(live) {
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
      finish(event.data ? JSON.parse(event.data) : {}, live);
    });
  }

  function start() {
    var live = document.getElementById("execution-live");
    if (live) {
      follow(live);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

// Live tail: follows the stream (or the global log) the page names over
// the server's follow endpoint (Server-Sent Events, JSON notation) and puts
// each event at the top of the table. Every value goes in as text, never
// as markup.
(function () {
  "use strict";
  var table = document.getElementById("live");
  if (!table || !window.EventSource) { return; }
  var body = table.tBodies[0];
  var status = document.getElementById("live-status");
  var count = document.getElementById("live-count");
  var global = table.dataset.stream === "";
  var eventPath = table.dataset.eventPath;
  var maxRows = 500;
  var received = 0;

  function cell(row, text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function dataText(d) {
    if (typeof d === "string") { return d.length > 120 ? d.slice(0, 119) + "\u2026" : d; }
    if (Array.isArray(d) && d[0] === "bytes") { return "(" + Math.floor(d[1].length * 3 / 4) + " bytes, not text)"; }
    return JSON.stringify(d);
  }

  function add(ev) {
    var row = document.createElement("tr");
    row.className = "fresh";
    row.dataset.seq = ev.seq;
    row.dataset.pos = ev.pos;
    row.dataset.arrived = (performance.timeOrigin + performance.now()).toFixed(3);
    if (global) {
      cell(row, String(ev.pos), "num");
      cell(row, ev.stream);
    }
    var seq = cell(row, "", "num");
    var a = document.createElement("a");
    a.href = eventPath + "?stream=" + encodeURIComponent(ev.stream) + "&seq=" + ev.seq;
    a.textContent = String(ev.seq);
    seq.appendChild(a);
    cell(row, ev.type);
    var when = cell(row, "");
    var t = document.createElement("time");
    t.dateTime = ev.at;
    t.textContent = ev.at.replace("T", " ").replace(/(\.\d{3})\d*Z$/, "$1 UTC");
    when.appendChild(t);
    var data = cell(row, "", "data");
    var code = document.createElement("code");
    code.textContent = dataText(ev.data);
    data.appendChild(code);
    body.insertBefore(row, body.firstChild);
    while (body.rows.length > maxRows) { body.deleteRow(body.rows.length - 1); }
    received++;
    count.textContent = String(received);
  }

  var source = new EventSource(table.dataset.follow);
  source.addEventListener("open", function () { status.textContent = "Live: following"; });
  source.addEventListener("event", function (m) {
    try { add(JSON.parse(m.data)); } catch (e) { status.textContent = "An event did not read: " + e.message; }
  });
  source.addEventListener("end", function (m) {
    status.textContent = "The server ended the follow; reconnecting\u2026";
  });
  source.addEventListener("error", function () {
    status.textContent = source.readyState === EventSource.CLOSED ? "Stopped: the server refused the follow (reload to sign in again)" : "Reconnecting\u2026";
  });
})();

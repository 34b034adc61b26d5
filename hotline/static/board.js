// Live board: fetch /board.json every few seconds and redraw; tick the elapsed clocks every second.
(function () {
  "use strict";
  var root = document.getElementById("board");
  if (!root) { return; }
  var table = document.getElementById("board-table");
  var body = table.querySelector("tbody");
  var status = document.getElementById("board-status");
  var refresh = (parseInt(root.dataset.refresh, 10) || 5) * 1000;
  var loadedAt = Date.now();
  var normalStatus = status.textContent;

  function clock(seconds) {
    var total = Math.max(0, Math.round(seconds));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) { td.className = className; }
    if (text !== undefined) { td.textContent = text; }
    row.appendChild(td);
    return td;
  }

  function span(parent, text, className) {
    var el = document.createElement("span");
    el.className = className;
    el.textContent = text;
    parent.appendChild(el);
  }

  function draw(incidents) {
    var rows = document.createDocumentFragment();
    incidents.forEach(function (item) {
      var tr = document.createElement("tr");
      tr.dataset.elapsed = item.elapsed_seconds;
      cell(tr, clock(item.elapsed_seconds), "elapsed");
      cell(tr, item.opened_local);
      var where = cell(tr);
      var link = document.createElement("a");
      link.href = item.url;
      link.textContent = (item.village || "—") + " / " + (item.group || "—");
      where.appendChild(link);
      if (item.is_drill) { where.appendChild(document.createTextNode(" ")); span(where, root.dataset.drill, "tag drill"); }
      if (item.needs_station) {
        where.appendChild(document.createTextNode(" "));
        span(where, root.dataset.needsStation, "tag needs-station");
      }
      var caller = cell(tr, (item.caller_name || "") + " ");
      span(caller, item.caller_phone, "muted");
      span(cell(tr), item.status_label, "tag " + item.status);
      cell(tr, item.level_label);
      var answered = cell(tr);
      if (!item.responders.length) { span(answered, root.dataset.nobody, "muted"); }
      item.responders.forEach(function (r) {
        var line = document.createElement("div");
        line.textContent = r.name + " · " + r.answer_label + " · " + r.channel_label + " · +" + clock(r.seconds);
        answered.appendChild(line);
      });
      rows.appendChild(tr);
    });
    body.replaceChildren(rows);
    table.hidden = incidents.length === 0;
    var empty = document.getElementById("board-empty");
    if (!empty && incidents.length === 0) {
      empty = document.createElement("p");
      empty.id = "board-empty";
      empty.className = "board-empty";
      empty.textContent = root.dataset.empty;
      root.insertBefore(empty, root.firstChild);
    }
    if (empty) { empty.hidden = incidents.length !== 0; }
    loadedAt = Date.now();
  }

  function tick() {
    var passed = (Date.now() - loadedAt) / 1000;
    body.querySelectorAll("tr").forEach(function (tr) {
      tr.querySelector(".elapsed").textContent = clock(parseFloat(tr.dataset.elapsed) + passed);
    });
  }

  function load() {
    fetch(root.dataset.source, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.redirected || !response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (data) { draw(data.incidents); status.textContent = normalStatus; root.dataset.state = "live"; })
      .catch(function () { status.textContent = root.dataset.stale; root.dataset.state = "stale"; });
  }

  setInterval(tick, 1000);
  setInterval(load, refresh);
})();

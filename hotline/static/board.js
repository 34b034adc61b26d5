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
  // Each cell carries its column's heading, shown beside it when the board is read as cards on a phone.
  var headings = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) { return th.textContent.trim(); });

  function clock(seconds) {
    var total = Math.max(0, Math.round(seconds));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) { td.className = className; }
    var heading = headings[row.children.length];
    if (heading) { td.dataset.label = heading; }
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
      tr.dataset.id = item.id;
      tr.dataset.alarm = item.alarm ? "yes" : "no";
      tr.className = "urgency-" + item.urgency;
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
      span(caller, item.caller_phone_text || item.caller_phone, "muted");
      caller.lastChild.dataset.phone = item.caller_phone;
      span(cell(tr), item.status_label, "tag " + item.status);
      cell(tr, item.level_label);
      var answered = cell(tr);
      if (item.taken_by) { span(answered, root.dataset.taken + " " + item.taken_by, "taken"); }
      if (item.needed > 1) { span(answered, item.accepted + "/" + item.needed + " " + root.dataset.accepted, "muted count"); }
      if (!item.responders.length && !item.taken_by) { span(answered, root.dataset.nobody, "muted"); }
      item.responders.forEach(function (r) {
        var line = document.createElement("div");
        line.textContent = r.name + " · " + r.answer_label + " · " + r.channel_label + " · +" + clock(r.seconds);
        answered.appendChild(line);
      });
      rows.appendChild(tr);
    });
    body.replaceChildren(rows);
    sound.check(incidents);
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

  // One chime when an unanswered alert reaches the duty line; on or off per browser.
  var sound = (function () {
    var button = document.getElementById("board-sound");
    var key = "hotline-board-sound";
    var heard = {};
    var context = null;
    function enabled() { return window.localStorage && localStorage.getItem(key) === "on"; }
    function show() { if (button) { button.textContent = enabled() ? button.dataset.on : button.dataset.off; } }
    function chime() {
      if (!context) { return; }
      var now = context.currentTime;
      [0, 0.35, 0.7].forEach(function (at) {
        var tone = context.createOscillator(), gain = context.createGain();
        tone.frequency.value = 880;
        gain.gain.setValueAtTime(0.25, now + at);
        gain.gain.exponentialRampToValueAtTime(0.001, now + at + 0.3);
        tone.connect(gain); gain.connect(context.destination);
        tone.start(now + at); tone.stop(now + at + 0.3);
      });
    }
    function wake() {
      // Browsers only let a page make sound after a click or tap on it.
      var Audio = window.AudioContext || window.webkitAudioContext;
      if (!context && Audio) { context = new Audio(); }
      if (context && context.state === "suspended") { context.resume(); }
    }
    if (button) {
      button.addEventListener("click", function () {
        if (window.localStorage) { localStorage.setItem(key, enabled() ? "off" : "on"); }
        if (enabled()) { wake(); chime(); }
        show();
      });
    }
    document.addEventListener("click", function () { if (enabled()) { wake(); } }, { once: true });
    show();
    body.querySelectorAll("tr[data-alarm=yes]").forEach(function (tr) { heard[tr.dataset.id] = true; });
    return {
      check: function (incidents) {
        var fresh = incidents.filter(function (item) { return item.alarm && !heard[item.id]; });
        fresh.forEach(function (item) { heard[item.id] = true; });
        if (fresh.length && enabled()) { wake(); chime(); }
      }
    };
  })();

  function tick() {
    var passed = (Date.now() - loadedAt) / 1000;
    body.querySelectorAll("tr").forEach(function (tr) {
      tr.querySelector(".elapsed").textContent = clock(parseFloat(tr.dataset.elapsed) + passed);
    });
  }

  // The board holds the most urgent incidents only; it says how many more are open.
  function showMore(count) {
    var more = document.getElementById("board-more");
    if (!more) { return; }
    more.hidden = count === 0;
    more.textContent = more.dataset.template.replace("__N__", String(count));
  }

  function load() {
    fetch(root.dataset.source, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.redirected || !response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (data) {
        draw(data.incidents);
        showMore(data.more || 0);
        status.textContent = normalStatus;
        root.dataset.state = "live";
      })
      .catch(function () { status.textContent = root.dataset.stale; root.dataset.state = "stale"; });
  }

  setInterval(tick, 1000);
  setInterval(load, refresh);
  // A phone pauses a page in the background: catch up as soon as it is looked at again.
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { load(); } });
})();

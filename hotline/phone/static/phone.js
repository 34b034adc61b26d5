/* The browser phone: every second it reads the watched phones and the incident's
   timeline from /phone/api/, and it answers, keys and texts through the same API. */
(function () {
  "use strict";

  const dataNode = document.getElementById("phone-data");
  if (!dataNode) {
    return; // no caller chosen yet: the page is only the directory
  }
  const page = JSON.parse(dataNode.textContent);
  const apiBase = document.querySelector("main").dataset.api;
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrfToken = csrfMeta ? csrfMeta.content : "";
  const POLL_MS = 1000;
  const SHOWN_MESSAGES = 6;
  const BADGES = {
    idle: "空闲",
    ringing: "响铃中",
    dialing: "呼叫中",
    talking: "通话中",
    bridged: "已接通",
  };
  const KEYPAD = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];
  const KEY_HINTS = { "1": "接受", "2": "拒绝" };

  const numbers = [page.caller].concat(page.watched);
  const cards = new Map();
  document.querySelectorAll(".phone-card[data-phone]").forEach(function (node) {
    cards.set(node.dataset.phone, { node: node, shown: "" });
  });
  const timelineList = document.getElementById("timeline");
  const summary = document.getElementById("incident-summary");
  const keyOnly = document.getElementById("key-only");
  const toast = document.getElementById("toast");
  let ready = false;
  let lastTimeline = null;
  let shownTimeline = "";
  let timer = null;
  let polling = false;
  let pollAgain = false;
  let toastTimer = null;

  // --- helpers -----------------------------------------------------------

  async function api(method, path, body) {
    const options = { method: method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = csrfToken;
      options.body = JSON.stringify(body || {});
    }
    const response = await fetch(apiBase + path, options);
    let data = {};
    try {
      data = await response.json();
    } catch (ignored) {
      data = {};
    }
    if (!response.ok) {
      throw new Error(data.error || "HTTP " + response.status);
    }
    return data;
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([name, value]) {
      if (value === null || value === undefined || value === false) {
        return;
      }
      if (name === "text") {
        node.textContent = value;
      } else if (name.startsWith("data-")) {
        node.dataset[name.slice(5).replace(/-(\w)/g, (_, c) => c.toUpperCase())] = value;
      } else {
        node.setAttribute(name, value === true ? "" : value);
      }
    });
    (children || []).forEach(function (child) {
      if (child) {
        node.append(child);
      }
    });
    return node;
  }

  function nameOf(phone) {
    const person = page.people[phone];
    return person ? person.name : phone;
  }

  function clock(seconds) {
    const whole = Math.max(0, Math.floor(seconds));
    return Math.floor(whole / 60) + ":" + String(whole % 60).padStart(2, "0");
  }

  function say(text, isError) {
    toast.textContent = text;
    toast.classList.toggle("error", Boolean(isError));
    toast.setAttribute("role", isError ? "alert" : "status");
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () {
      toast.hidden = true;
    }, isError ? 8000 : 3000);
  }

  // --- phone cards -----------------------------------------------------------

  function cardState(phone) {
    const live = phone.calls.filter((call) => call.live);
    if (live.some((call) => call.incoming && call.status === "ringing")) {
      return "ringing";
    }
    if (live.some((call) => call.status === "in-progress" && (call.bridged || call.conference))) {
      return "bridged";
    }
    if (live.some((call) => call.status === "in-progress")) {
      return "talking";
    }
    return live.length ? "dialing" : "idle";
  }

  function heardList(call) {
    // The screening prompt is said twice; show it once with a count.
    const lines = [];
    call.heard.forEach(function (text) {
      const previous = lines[lines.length - 1];
      if (previous && previous.text === text) {
        previous.times += 1;
      } else {
        lines.push({ text: text, times: 1 });
      }
    });
    return el("div", { class: "heard" }, [
      el("div", { class: "label", text: "听到的语音提示" }),
      el("ol", {}, lines.map((line) =>
        el("li", { text: "“" + line.text + "”" + (line.times > 1 ? " ×" + line.times : "") }))),
    ]);
  }

  function keypad(call) {
    return el("div", { class: "keypad", role: "group", "aria-label": "拨号键盘" }, KEYPAD.map(function (key) {
      return el("button", {
        type: "button",
        class: "pad-key" + (KEY_HINTS[key] ? " pad-" + key : ""),
        "data-action": "press",
        "data-sid": call.sid,
        "data-digits": key,
        "aria-label": "按 " + key + (KEY_HINTS[key] ? " " + KEY_HINTS[key] : ""),
      }, [el("span", { class: "digit", text: key }), KEY_HINTS[key] ? el("small", { text: KEY_HINTS[key] }) : null]);
    }));
  }

  function callNote(call) {
    if (call.ended_note) {
      return call.ended_note;
    }
    if (call.incoming) {
      if (call.bridged) {
        return "已与求助人接通，正在通话";
      }
      if (call.conference) {
        return "已加入会议通话";
      }
      if (call.status === "ringing" && !call.manual) {
        return "这部电话按脚本自动处理";
      }
      if (call.status === "in-progress" && !call.bridged) {
        return "听完提示后按 1 接受，按 2 拒绝";
      }
      return null;
    }
    if (call.bridged) {
      return "已与 " + nameOf(call.bridged_phone) + " 接通";
    }
    if (call.conference && call.live) {
      return "在会议通话中，组员接听后加入";
    }
    if (call.ringing_legs) {
      return "正在同时呼叫 " + call.ringing_legs + " 部电话…";
    }
    return null;
  }

  function actionButton(call, action, classes, label) {
    return el("button", { type: "button", class: classes, "data-action": action, "data-sid": call.sid, text: label });
  }

  function callBlock(call) {
    const ringing = call.incoming && call.status === "ringing";
    const children = [
      el("div", { class: "call-head" }, [
        el("span", { class: "direction", text: call.incoming ? "热线来电" : "拨打热线" }),
        el("span", { class: "status status-" + call.status, text: call.status_label }),
      ]),
    ];
    const note = callNote(call);
    if (note) {
      const tone = call.ended_note ? " gone" : call.bridged ? " ok" : "";
      children.push(el("p", { class: "note" + tone, text: note }));
    }
    if (ringing && call.manual) {
      children.push(el("div", { class: "ring-actions" }, [
        actionButton(call, "answer", "btn big answer", "接听"),
        actionButton(call, "reject", "btn big reject", "拒接"),
      ]));
    }
    if (call.incoming && call.status === "in-progress" && !call.bridged && !call.conference) {
      children.push(keypad(call));
    }
    if (call.heard.length) {
      children.push(heardList(call));
    }
    if (call.digits) {
      children.push(el("p", { class: "digits", text: "已按键：" + call.digits }));
    }
    if (call.live && !ringing) {
      children.push(actionButton(call, "hangup", "btn hangup", "挂断"));
    }
    const attrs = { class: "call" + (call.live ? " live" : " ended"), "data-sid": call.sid, "data-status": call.status };
    return el("div", attrs, children);
  }

  function renderCalls(container, calls) {
    const live = calls.filter((call) => call.live);
    const ended = calls.filter((call) => !call.live);
    // Live calls in full; of the ended ones only the latest, so its prompts can still be read.
    const shown = live.concat(ended.slice(0, live.length ? 0 : 1));
    container.replaceChildren(...(shown.length ? shown.map(callBlock) : [el("p", { class: "quiet", text: "暂无通话" })]));
    if (ended.length > (live.length ? 0 : 1)) {
      const older = ended.slice(live.length ? 0 : 1);
      container.append(el("p", { class: "older", text: "更早：" + older.map((call) => call.status_label).join("、") }));
    }
  }

  function renderMessages(container, messages) {
    const shown = messages.slice(-SHOWN_MESSAGES);
    container.replaceChildren(...shown.map(function (message) {
      return el("div", { class: "bubble" + (message.mine ? " mine" : ""), "data-sid": message.sid }, [
        el("span", { class: "from", text: message.mine ? "我发给热线" : "热线短信" }),
        el("span", { class: "body", text: message.body }),
      ]);
    }));
    container.hidden = shown.length === 0;
  }

  function renderPhone(phone) {
    const card = cards.get(phone.number);
    if (!card) {
      return;
    }
    const node = card.node;
    const select = node.querySelector('[data-part="mode"]');
    if (document.activeElement !== select) {
      select.value = phone.mode;
    }
    const dial = node.querySelector('[data-action="dial"]');
    const state = cardState(phone);
    if (dial) {
      dial.disabled = !ready || phone.calls.some((call) => call.live && !call.incoming);
    }
    const shown = JSON.stringify([phone.calls, phone.messages]);
    if (shown === card.shown) {
      return;
    }
    card.shown = shown;
    node.dataset.state = state;
    node.querySelector('[data-part="badge"]').textContent = BADGES[state];
    renderCalls(node.querySelector('[data-part="calls"]'), phone.calls);
    renderMessages(node.querySelector('[data-part="messages"]'), phone.messages);
  }

  // --- timeline ------------------------------------------------------------

  function renderTimeline(data) {
    lastTimeline = data;
    const incident = data.incident;
    if (!incident) {
      return;
    }
    const parts = [
      "#" + incident.id,
      (incident.caller_name || incident.caller_phone) + (incident.source === "call" ? " 电话求助" : " 短信求助"),
      incident.status_label + (incident.acknowledged_by ? "（" + incident.acknowledged_by + "）" : ""),
      "已过 " + clock(incident.elapsed),
    ];
    if (incident.escalation_level) {
      parts.splice(3, 0, "已升级到第 " + incident.escalation_level + " 级");
    }
    summary.textContent = parts.join(" · ");
    summary.dataset.status = incident.status;
    const events = data.events.filter((event) => event.key || !keyOnly.checked);
    const shown = JSON.stringify([incident.id, keyOnly.checked, events.map((event) => event.id)]);
    if (shown === shownTimeline) {
      return;
    }
    shownTimeline = shown;
    const atBottom = timelineList.scrollHeight - timelineList.scrollTop - timelineList.clientHeight < 24;
    timelineList.replaceChildren(...events.map(function (event) {
      return el("li", { class: event.key ? "key kind-" + event.kind : "kind-" + event.kind, "data-kind": event.kind }, [
        el("span", { class: "at", text: event.clock }),
        el("span", { class: "title", text: event.title }),
        el("span", { class: "detail", text: event.detail }),
      ]);
    }));
    if (atBottom) {
      timelineList.scrollTop = timelineList.scrollHeight;
    }
  }

  // --- polling -------------------------------------------------------------

  async function poll() {
    if (polling) {
      pollAgain = true;
      return;
    }
    polling = true;
    clearTimeout(timer);
    try {
      const query = numbers.map((number) => "number=" + encodeURIComponent(number)).join("&");
      const [phones, timeline] = await Promise.all([
        api("GET", "/phones?" + query),
        api("GET", "/timeline?caller=" + encodeURIComponent(page.caller)),
      ]);
      phones.phones.forEach(renderPhone);
      renderTimeline(timeline);
      document.body.dataset.link = "up";
    } catch (error) {
      document.body.dataset.link = "down";
      say("暂时读不到电话状态，正在重试：" + error.message, true);
    } finally {
      polling = false;
      timer = setTimeout(poll, pollAgain ? 0 : POLL_MS);
      pollAgain = false;
    }
  }

  function pollSoon() {
    clearTimeout(timer);
    timer = setTimeout(poll, 100);
  }

  // --- actions -------------------------------------------------------------

  async function sendSms(phone, body) {
    await api("POST", "/sms", { from: phone, body: body });
    say(nameOf(phone) + " 发出短信：" + body);
  }

  async function act(button) {
    const card = button.closest(".phone-card");
    const phone = card.dataset.phone;
    const action = button.dataset.action;
    if (action === "dial") {
      await api("POST", "/dial", { from: phone });
      say("已拨出，同组电话马上响铃");
    } else if (action === "sms") {
      await sendSms(phone, button.dataset.body);
    } else if (action === "press") {
      await api("POST", "/calls/" + button.dataset.sid + "/press", { digits: button.dataset.digits });
    } else {
      await api("POST", "/calls/" + button.dataset.sid + "/" + action);
    }
  }

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-action]");
    if (!button || button.disabled) {
      return;
    }
    button.disabled = true;
    try {
      await act(button);
    } catch (error) {
      say(error.message, true);
    } finally {
      // The dial button's state follows the caller's calls; the next poll sets it.
      if (button.dataset.action !== "dial") {
        button.disabled = false;
      }
      pollSoon();
    }
  });

  document.addEventListener("submit", async function (event) {
    const form = event.target.closest("form.sms-form");
    if (!form) {
      return;
    }
    event.preventDefault();
    const input = form.elements.body;
    const text = input.value.trim();
    if (!text) {
      return;
    }
    try {
      await sendSms(form.closest(".phone-card").dataset.phone, text);
      input.value = "";
    } catch (error) {
      say(error.message, true);
    } finally {
      pollSoon();
    }
  });

  document.addEventListener("change", async function (event) {
    const select = event.target.closest('select[data-part="mode"]');
    if (!select) {
      return;
    }
    const phone = select.closest(".phone-card").dataset.phone;
    try {
      const data = await api("PUT", "/phones/" + encodeURIComponent(phone) + "/mode", { mode: select.value });
      say(nameOf(phone) + "：" + data.phone.mode_label + "（下一通来电起生效）");
      select.blur();
    } catch (error) {
      say(error.message, true);
    } finally {
      pollSoon();
    }
  });

  keyOnly.addEventListener("change", function () {
    if (lastTimeline) {
      renderTimeline(lastTimeline);
    }
  });

  async function start() {
    try {
      const data = await api("POST", "/watch", { numbers: numbers });
      ready = true;
      document.body.dataset.ready = "true";
      data.phones.forEach(renderPhone);
    } catch (error) {
      say("无法准备电话：" + error.message, true);
    }
    poll();
  }

  start();
})();

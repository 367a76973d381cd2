// The organiser's page without reloading: polls the session's state (the database is the truth,
// whichever web worker answers), rebuilds the list of who checked in, and shows each new QR code.
// Texts come from the page (data-* attributes, already translated); nothing is parsed as HTML.
"use strict";
(function () {
  const list = document.getElementById("attendees");
  if (!list) { return; }
  const qr = document.getElementById("qr");
  const count = document.getElementById("count");
  const state = document.getElementById("state");
  const data = list.dataset;
  let etag = null;
  let shownWindow = null;

  function text(tag, className, value) {
    const node = document.createElement(tag);
    if (className) { node.className = className; }
    node.textContent = value;
    return node;
  }

  function row(person, closed) {
    const li = document.createElement("li");
    li.dataset.id = String(person.id);
    li.appendChild(text("span", "who", person.label));
    li.appendChild(document.createTextNode(" "));
    const meta = [person.time, data["word" + person.method.charAt(0).toUpperCase() + person.method.slice(1)]];
    if (person.status === "pending") { meta.push(data.wordPending); }
    if (!person.matched) { meta.push(data.wordUnmatched); }
    li.appendChild(text("span", "meta", meta.join(" · ")));
    if (!closed) {
      const form = document.createElement("form");
      form.method = "post";
      form.action = data.removeUrl;
      form.className = "inline";
      for (const [name, value] of [["csrf", data.csrf], ["checkin", String(person.id)]]) {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = value;
        form.appendChild(input);
      }
      const button = text("button", "link", data.wordRemove);
      button.type = "submit";
      form.appendChild(button);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(form);
    }
    return li;
  }

  async function refresh() {
    try {
      const headers = etag ? { "If-None-Match": etag } : {};
      const response = await fetch(data.stateUrl, { headers: headers, cache: "no-store" });
      if (response.status === 304 || !response.ok) { return; }
      etag = response.headers.get("ETag");
      const body = await response.json();
      list.replaceChildren(...body.attendees.map(function (p) { return row(p, body.closed); }));
      count.textContent = String(body.count);
      state.dataset.state = body.state;
      state.textContent = data["state" + body.state.charAt(0).toUpperCase() + body.state.slice(1)] || state.textContent;
      if (qr && body.window !== shownWindow) {
        if (shownWindow !== null) { qr.src = data.qrUrl + "?w=" + body.window; }
        shownWindow = body.window;
      }
    } catch (error) {
      // The network came and went: the next poll tries again.
    }
  }

  refresh();
  window.setInterval(refresh, 2000);
})();

// tagstream-view's page: follows /events (Server-Sent Events), falls back
// to polling /api/windows, and draws each window's hashtags as bars.
// Hashtags are outside input: they only ever reach the page as text
// (textContent), never as markup.
"use strict";

(function () {
  const windowsEl = document.getElementById("windows");
  const stateEl = document.getElementById("state");
  let polling = null;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function utc(ms) {
    return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
  }

  function range(w) {
    const a = utc(w.window_start), b = utc(w.window_end);
    return a + " – " + (a.slice(0, 10) === b.slice(0, 10) ? b.slice(11) : b) + " UTC";
  }

  function render(doc) {
    const frag = document.createDocumentFragment();
    for (const w of doc.windows) {
      const sec = el("section", "window");
      sec.dataset.start = String(w.window_start);
      sec.dataset.end = String(w.window_end);
      const h = el("h2", null, range(w) + " ");
      const shown = w.hashtags.length;
      h.appendChild(el("span", "meta", shown < w.hashtags_total
        ? "(top " + shown + " of " + w.hashtags_total + ")"
        : "(" + w.hashtags_total + " hashtag" + (w.hashtags_total === 1 ? "" : "s") + ")"));
      sec.appendChild(h);
      const ol = el("ol", "tags");
      const max = shown ? w.hashtags[0].count : 1;
      for (const t of w.hashtags) {
        const li = el("li", "tag");
        const name = el("bdi", "name", "#" + t.hashtag);
        name.title = "#" + t.hashtag;
        li.appendChild(name);
        const bar = el("span", "bar");
        const fill = el("span", "fill");
        fill.style.width = (100 * t.count / max).toFixed(1) + "%";
        bar.appendChild(fill);
        li.appendChild(bar);
        li.appendChild(el("span", "count", String(t.count)));
        ol.appendChild(li);
      }
      sec.appendChild(ol);
      frag.appendChild(sec);
    }
    if (!doc.windows.length)
      frag.appendChild(el("p", "empty", "No closed window yet. Results appear here as the processor commits them."));
    windowsEl.replaceChildren(frag);
    document.getElementById("total").textContent = String(doc.results_total);
    document.getElementById("skipped").textContent = String(doc.skipped_total);
    document.body.dataset.version = String(doc.version);
    document.body.dataset.renderedMs = String(Date.now());
  }

  function state(text, cls) {
    stateEl.textContent = text;
    stateEl.className = "state " + cls;
  }

  function poll() {
    fetch("/api/windows", { cache: "no-store" })
      .then(r => r.json())
      .then(doc => { render(doc); state("polling", "live"); })
      .catch(() => state("disconnected", "down"));
  }

  function follow() {
    const es = new EventSource("/events");
    es.onopen = () => state("live", "live");
    es.onmessage = ev => render(JSON.parse(ev.data));
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // refused (e.g. too many streams): poll instead
        if (!polling) { poll(); polling = setInterval(poll, 2000); }
      } else {
        state("reconnecting…", "down");
      }
    };
  }

  follow();
})();

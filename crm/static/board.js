// Pipeline board: drag and drop, in-place moves and "more" without reloading the page.
// Everything here enhances forms and links that work without JavaScript.
(() => {
  "use strict";
  const board = document.querySelector("[data-board]");
  if (!board) return;
  const live = document.getElementById("board-live");
  const text = (name) => board.dataset[name] || "";
  let dragged = null;

  const columnOf = (stage) =>
    board.querySelector(`[data-column][data-stage="${CSS.escape(stage)}"]`);

  function announce(message) {
    if (!live) return;
    live.textContent = "";
    // A fresh node after a tick, so screen readers announce a repeated message too.
    window.setTimeout(() => { live.textContent = message; }, 50);
  }

  function showNotice(card, answer, ok) {
    const notice = card.querySelector("[data-notice]");
    if (!notice) return;
    notice.replaceChildren();
    notice.append(document.createTextNode(answer.message || ""));
    const missing = answer.missing || [];
    if (missing.length) {
      const label = document.createElement("span");
      label.className = "board-missing";
      label.textContent = " " + text("msgMissing");
      const list = document.createElement("ul");
      list.className = "board-missing-items";
      for (const item of missing) {
        const entry = document.createElement("li");
        entry.textContent = item;
        list.append(entry);
      }
      notice.append(label, list);
    }
    if (answer.link) {
      const link = document.createElement("a");
      link.href = answer.link;
      link.textContent = text("msgCloseLink");
      notice.append(" ", link);
    }
    notice.hidden = false;
    card.classList.toggle("refused", !ok);
    const spoken = [answer.message, missing.length ? `${text("msgMissing")} ${missing.join(", ")}` : ""];
    announce(spoken.filter(Boolean).join(" "));
  }

  function adjust(column, field, delta) {
    if (!column || !delta) return;
    const counter = column.querySelector(`[data-${field}]`);
    if (!counter || counter.hasAttribute("data-capped")) return;  // "1000+" stays
    const value = Math.max(0, parseInt(counter.textContent, 10) + delta);
    counter.textContent = String(value);
    if (field === "overdue") {
      const line = column.querySelector("[data-overdue-line]");
      if (line) line.classList.toggle("is-zero", value === 0);
    }
  }

  function refreshEmpty(column) {
    if (!column) return;
    const empty = column.querySelector("[data-empty]");
    if (empty) empty.hidden = Boolean(column.querySelector("[data-cards] [data-card]"));
  }

  function parse(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  async function move(card, toStage) {
    const form = card.querySelector("form[data-move-form]");
    if (!form || card.dataset.stage === toStage || card.dataset.busy) return;
    const from = columnOf(card.dataset.stage);
    const to = columnOf(toStage);
    if (!to) return;
    const data = new FormData(form);
    data.set("to_stage", toStage);
    const home = { parent: card.parentNode, next: card.nextSibling };
    card.dataset.busy = "1";
    card.setAttribute("aria-busy", "true");
    to.querySelector("[data-cards]").prepend(card);  // where it will land, until told otherwise
    refreshEmpty(from); refreshEmpty(to);
    announce(text("msgMoving"));
    let answer;
    try {
      const response = await fetch(form.action, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRFToken": data.get("csrf_token") || "" },
      });
      answer = await response.json();  // refusals and errors answer JSON too
    } catch (_error) {
      answer = { ok: false, message: text("msgFailed") };
    }
    delete card.dataset.busy;
    card.removeAttribute("aria-busy");
    if (answer.ok) {
      const moved = parse(answer.card_html).querySelector("[data-card]");
      adjust(from, "count", -1); adjust(to, "count", +1);
      adjust(from, "overdue", -Number(card.dataset.overdue || 0));
      adjust(to, "overdue", Number(moved.dataset.overdue || 0));
      card.replaceWith(moved);
      refreshEmpty(from); refreshEmpty(to);
      showNotice(moved, answer, true);
      moved.focus();
    } else {
      home.parent.insertBefore(card, home.next && home.next.parentNode === home.parent ? home.next : null);
      refreshEmpty(from); refreshEmpty(to);
      showNotice(card, { message: answer.message || text("msgFailed"), missing: answer.missing,
                         link: answer.link }, false);
      card.focus();
    }
  }

  // Keyboard and button path: the card's "Move to" form, answered in place.
  board.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-move-form]");
    if (!form) return;
    event.preventDefault();
    move(form.closest("[data-card]"), form.elements.to_stage.value);
  });

  // Drag and drop: a card onto another column the engine may allow (it explains refusals).
  board.addEventListener("dragstart", (event) => {
    const card = event.target.closest && event.target.closest("[data-card][draggable='true']");
    if (!card) return;
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.enrollment);
    card.classList.add("dragging");
  });
  board.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    board.querySelectorAll(".drop-target").forEach((column) => column.classList.remove("drop-target"));
  });
  const accepts = (column) => dragged && column &&
    (dragged.dataset.targets || "").split(" ").includes(column.dataset.stage);
  board.addEventListener("dragover", (event) => {
    const column = event.target.closest("[data-column]");
    if (!accepts(column)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("drop-target");
  });
  board.addEventListener("dragleave", (event) => {
    const column = event.target.closest("[data-column]");
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("drop-target");
  });
  board.addEventListener("drop", (event) => {
    const column = event.target.closest("[data-column]");
    if (!accepts(column)) return;
    event.preventDefault();
    column.classList.remove("drop-target");
    const card = dragged;
    dragged = null;
    card.classList.remove("dragging");
    move(card, column.dataset.stage);
  });

  // "More": the next cards of a column, appended in place (the link is a page of its own).
  board.addEventListener("click", async (event) => {
    const link = event.target.closest("a[data-board-more]");
    if (!link) return;
    event.preventDefault();
    const column = link.closest("[data-column]");
    const wrap = link.closest("[data-more-wrap]");
    let fragment;
    try {
      const response = await fetch(link.dataset.fragmentUrl, { credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      fragment = parse(await response.text());
    } catch (_error) {
      announce(text("msgMoreFailed"));
      return;
    }
    const list = column.querySelector("[data-cards]");
    let first = null;
    for (const card of fragment.querySelectorAll("[data-card]")) {
      if (document.getElementById(card.id)) continue;  // already here (e.g. just moved in)
      list.append(card);
      first = first || card;
    }
    const next = fragment.querySelector("[data-more-wrap]");
    if (next) wrap.replaceWith(next); else wrap.remove();
    if (first) first.focus();
  });
})();

// hookhub UI: the few things plain HTML can't do. No framework, no build step.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (button) {
    const text = document.getElementById(button.dataset.copy).textContent.trim();
    navigator.clipboard.writeText(text).then(() => { button.textContent = "Copied"; });
  }
  const confirming = event.target.closest("button.confirm, button[data-confirm]");
  const question = confirming && (confirming.dataset.confirm || confirming.textContent.trim() + "?");
  if (confirming && !window.confirm(question)) event.preventDefault();
});

// Show only the credential fields of the chosen authentication type.
function showAuth() {
  const select = document.querySelector("[data-toggles=auth]");
  if (!select) return;
  document.querySelectorAll("[data-auth]").forEach((el) => {
    el.classList.toggle("shown", el.dataset.auth === select.value);
  });
}
document.addEventListener("change", (event) => { if (event.target.matches("[data-toggles=auth]")) showAuth(); });
document.addEventListener("DOMContentLoaded", showAuth);

// The capture inbox refreshes itself: new requests appear without reloading the page.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-refresh]");
  if (!box) return;
  setInterval(async () => {
    const response = await fetch(box.dataset.refresh, { credentials: "same-origin" });
    if (response.ok) box.innerHTML = await response.text();
  }, 2000);
});

// A one-off notice (?notice=...) is dropped from the address once shown: reloading the page or
// coming back to it later does not show it again as if it were news.
if (new URLSearchParams(window.location.search).has("notice")) {
  const url = new URL(window.location.href);
  url.searchParams.delete("notice");
  window.history.replaceState(null, "", url.pathname + url.search + url.hash);
}

// The workflow editor: line numbers beside the document, the line of an error marked.
document.addEventListener("DOMContentLoaded", () => {
  const editor = document.querySelector("textarea[data-lines]");
  if (!editor) return;
  const gutter = document.createElement("pre");
  gutter.className = "gutter";
  gutter.setAttribute("aria-hidden", "true");
  editor.before(gutter);
  const marked = Number(editor.dataset.errorLine || 0);
  const number = () => {
    const count = editor.value.split("\n").length;
    gutter.innerHTML = Array.from({ length: count }, (_, i) =>
      i + 1 === marked ? `<span class="error-line">${i + 1}</span>` : String(i + 1)).join("\n");
    gutter.scrollTop = editor.scrollTop;
  };
  editor.addEventListener("input", number);
  editor.addEventListener("scroll", () => { gutter.scrollTop = editor.scrollTop; });
  number();
  if (marked) {
    const lineHeight = editor.scrollHeight / Math.max(editor.value.split("\n").length, 1);
    editor.scrollTop = Math.max(0, (marked - 5) * lineHeight);
  }
});

// Narrow screens show each table row as a stack of "Heading: value" lines (style.css):
// every cell learns its column's heading.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table").forEach((table) => {
    const headings = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    table.querySelectorAll("tbody tr").forEach((row) => {
      [...row.children].forEach((cell, index) => {
        if (headings[index] && !cell.dataset.label) cell.dataset.label = headings[index];
      });
    });
  });
});

// A region that scrolls (a long body, a wide chart) can be scrolled from the keyboard too.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("pre:not(.gutter), .scroll").forEach((el) => {
    const scrolls = el.scrollHeight > el.clientHeight || el.scrollWidth > el.clientWidth;
    if (scrolls && !el.hasAttribute("tabindex")) el.setAttribute("tabindex", "0");
  });
});

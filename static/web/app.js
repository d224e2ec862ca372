// Small behaviours of the back-office pages: charts, progress polling, confirmations, auto-submit.
// No inline script anywhere (CSP): pages describe what they need with data- attributes and JSON script blocks.
(function () {
  "use strict";

  function readJSON(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  var palette = { primary: "#4338ca", soft: "rgba(67, 56, 202, 0.15)", second: "#0d9488", grid: "#eceef2" };

  // Numbers as the pages print them (the `number` filter): thin-space thousands, whatever the browser's locale.
  function grouped(value) {
    return String(Math.round(value)).replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f");
  }

  function money(value, currency) {
    return grouped(value) + " " + currency;
  }

  var charts = {
    daily: function (canvas, data) {
      return new window.Chart(canvas, {
        data: {
          labels: data.labels,
          datasets: [
            { type: "bar", label: "Revenue (" + data.currency + ")", data: data.revenue, yAxisID: "revenue",
              backgroundColor: palette.soft, borderColor: palette.primary, borderWidth: 1 },
            { type: "line", label: "Receipts", data: data.receipts, yAxisID: "receipts",
              borderColor: palette.second, backgroundColor: palette.second, pointRadius: 0, tension: 0.25 }
          ]
        },
        options: {
          maintainAspectRatio: false, animation: false, interaction: { mode: "index", intersect: false },
          scales: {
            x: { ticks: { maxTicksLimit: 10 }, grid: { display: false } },
            revenue: { position: "left", beginAtZero: true, grid: { color: palette.grid },
              ticks: { callback: function (v) { return money(v, data.currency); } } },
            receipts: { position: "right", beginAtZero: true, grid: { display: false }, ticks: { precision: 0, callback: grouped } }
          }
        }
      });
    },
    line: function (canvas, data) {
      return new window.Chart(canvas, {
        type: "line",
        data: { labels: data.labels, datasets: [{ label: data.label, data: data.values, borderColor: palette.primary,
          backgroundColor: palette.soft, fill: true, tension: 0.2, pointRadius: 2 }] },
        options: { maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } },
          scales: { y: { beginAtZero: true, grid: { color: palette.grid } }, x: { grid: { display: false } } } }
      });
    },
    bar: function (canvas, data) {
      return new window.Chart(canvas, {
        type: "bar",
        data: { labels: data.labels, datasets: [{ label: data.label, data: data.values, backgroundColor: palette.primary }] },
        options: { maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } },
          scales: { y: { beginAtZero: true, grid: { color: palette.grid } }, x: { grid: { display: false } } } }
      });
    }
  };

  function initCharts() {
    if (!window.Chart) return;
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var make = charts[canvas.dataset.chart];
      var data = readJSON(canvas.dataset.source);
      if (make && data) make(canvas, data);
    });
  }

  // A run's progress: poll a small JSON endpoint until the run is done, then reload once to show the results.
  function initProgress() {
    document.querySelectorAll("[data-progress-url]").forEach(function (box) {
      var url = box.dataset.progressUrl;
      var bar = box.querySelector("progress");
      var label = box.querySelector("[data-progress-label]");
      function tick() {
        fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (state) {
            if (bar) { bar.value = state.progress; bar.textContent = state.progress + "%"; }
            if (label) label.textContent = state.label;
            box.dataset.status = state.status;
            if (state.done) {
              box.dataset.done = "true";
              if (box.dataset.reload !== "false") window.setTimeout(function () { window.location.reload(); }, 600);
            } else {
              window.setTimeout(tick, 1000);
            }
          })
          .catch(function () { window.setTimeout(tick, 3000); });
      }
      tick();
    });
  }

  // Live counters: poll a small JSON endpoint and put each figure, as the server words it, into its element.
  function initCounters() {
    document.querySelectorAll("[data-counter-url]").forEach(function (box) {
      var url = box.dataset.counterUrl;
      function tick() {
        if (document.hidden) { window.setTimeout(tick, 2000); return; }
        fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (state) {
            box.querySelectorAll("[data-count-key]").forEach(function (el) {
              var value = state.display[el.dataset.countKey];
              if (typeof value === "string") el.textContent = value;
            });
            box.dataset.polled = String(Number(box.dataset.polled || 0) + 1);
            window.setTimeout(tick, 2000);
          })
          .catch(function () { window.setTimeout(tick, 5000); });
      }
      window.setTimeout(tick, 2000);
    });
  }

  function initConfirm() {
    document.addEventListener("submit", function (event) {
      var message = event.target.dataset && event.target.dataset.confirm;
      if (message && !window.confirm(message)) event.preventDefault();
    });
  }

  function initAutoSubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  // Show or hide parts of a form depending on a control (e.g. "new rule" fields in the push form).
  function initToggles() {
    document.querySelectorAll("[data-show-when]").forEach(function (target) {
      var spec = target.dataset.showWhen.split("=");
      var control = document.getElementById(spec[0]);
      if (!control) return;
      function update() { target.hidden = control.value !== spec[1]; }
      control.addEventListener("change", update);
      update();
    });
  }

  // Menus built on <details>: Escape and a click elsewhere close them, as people expect of a menu.
  function initMenus() {
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") return;
      document.querySelectorAll("details.menu[open]").forEach(function (menu) {
        menu.open = false;
        menu.querySelector("summary").focus();
      });
    });
    document.addEventListener("click", function (event) {
      document.querySelectorAll("details.menu[open]").forEach(function (menu) {
        if (!menu.contains(event.target)) menu.open = false;
      });
    });
  }

  // The main navigation folds into a "Menu" button on narrow screens (the CSS decides when). Without this script
  // the button stays hidden and the links stay open, so the pages work without JavaScript too.
  function initNavToggle() {
    var toggle = document.querySelector(".nav-toggle");
    var topbar = toggle && toggle.closest(".topbar");
    if (!topbar) return;
    function setOpen(open) {
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      topbar.classList.toggle("nav-open", open);
    }
    toggle.hidden = false;
    topbar.classList.add("nav-js");
    toggle.addEventListener("click", function () { setOpen(toggle.getAttribute("aria-expanded") !== "true"); });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" || toggle.getAttribute("aria-expanded") !== "true") return;
      setOpen(false);
      toggle.focus();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    initNavToggle();
    initMenus();
    initCharts();
    initProgress();
    initCounters();
    initConfirm();
    initAutoSubmit();
    initToggles();
  });
})();

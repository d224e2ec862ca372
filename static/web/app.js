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
              ticks: { precision: 0, callback: function (v) { return money(v, data.currency); } } },
            receipts: { position: "right", beginAtZero: true, grid: { display: false }, ticks: { precision: 0, callback: grouped } }
          }
        }
      });
    },
    // a discount rule's redemptions per day: times used (bars) and the discount given (line, money)
    redemptions: function (canvas, data) {
      return new window.Chart(canvas, {
        data: {
          labels: data.labels,
          datasets: [
            { type: "bar", label: "Times used", data: data.usage, yAxisID: "usage",
              backgroundColor: palette.soft, borderColor: palette.primary, borderWidth: 1 },
            { type: "line", label: "Discount given (" + data.currency + ")", data: data.amount, yAxisID: "amount",
              borderColor: palette.second, backgroundColor: palette.second, pointRadius: 0, tension: 0.25 }
          ]
        },
        options: {
          maintainAspectRatio: false, animation: false, interaction: { mode: "index", intersect: false },
          scales: {
            x: { ticks: { maxTicksLimit: 8 }, grid: { display: false } },
            usage: { position: "left", beginAtZero: true, grid: { color: palette.grid }, ticks: { precision: 0, callback: grouped } },
            amount: { position: "right", beginAtZero: true, grid: { display: false },
              ticks: { precision: 0, callback: function (v) { return money(v, data.currency); } } }
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
          scales: { y: { beginAtZero: true, grid: { color: palette.grid }, title: { display: !!data.label, text: data.label },
            ticks: { precision: 0, callback: grouped } }, x: { grid: { display: false } } } }
      });
    },
    // A customer's spend per month: net (what segments count) beside gross, every month a bar (0 when they bought
    // nothing), the currency on the axis.
    spend: function (canvas, data) {
      return new window.Chart(canvas, {
        type: "bar",
        data: { labels: data.labels, datasets: [
          { label: "Net (without tax)", data: data.net, backgroundColor: palette.primary },
          { label: "Gross (with tax)", data: data.gross, backgroundColor: palette.soft, borderColor: palette.primary, borderWidth: 1 }
        ] },
        options: { maintainAspectRatio: false, animation: false, interaction: { mode: "index", intersect: false },
          plugins: { legend: { position: "bottom" },
            tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + money(c.parsed.y, data.currency); },
              footer: function (items) { var n = data.purchases[items[0].dataIndex]; return n + " purchase" + (n === 1 ? "" : "s"); } } } },
          scales: {
            y: { beginAtZero: true, grid: { color: palette.grid }, title: { display: true, text: data.currency },
              ticks: { callback: grouped } },
            x: { grid: { display: false }, ticks: { maxTicksLimit: 12 } }
          } }
      });
    },
    // The impact panel: cumulative net revenue per customer, those who got the rule against the holdout.
    impact: function (canvas, data) {
      var line = function (label, values, color, dash) {
        return { label: label, data: values, borderColor: color, backgroundColor: color, borderDash: dash,
          pointRadius: 0, tension: 0.2, spanGaps: true };
      };
      return new window.Chart(canvas, {
        type: "line",
        data: { labels: data.labels, datasets: [
          line("Got the rule", data.treatment, palette.primary, []),
          line("Held out", data.holdout, palette.second, [6, 4])
        ] },
        options: { maintainAspectRatio: false, animation: false, interaction: { mode: "index", intersect: false },
          plugins: { tooltip: { callbacks: { label: function (item) {
            return item.dataset.label + ": " + money(item.parsed.y, data.currency) + " per customer"; } } } },
          scales: { x: { ticks: { maxTicksLimit: 8 }, grid: { display: false } },
            y: { beginAtZero: true, grid: { color: palette.grid },
              title: { display: true, text: "Net revenue per customer (" + data.currency + ")" },
              ticks: { precision: 0, callback: function (v) { return money(v, data.currency); } } } } }
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

  function initCharts(root) {
    if (!window.Chart) return;
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var make = charts[canvas.dataset.chart];
      var data = readJSON(canvas.dataset.source);
      if (make && data) make(canvas, data);
    });
  }

  // Impact panels take up to a second to compute: the page shows first, then each panel fills in (its link stays
  // for a page without script, and for a failed load).
  function initImpact() {
    document.querySelectorAll("[data-impact-url]").forEach(function (slot) {
      var status = slot.querySelector("[data-impact-status]");
      status.textContent = "Comparing the customers who got the rule with the holdout…";
      fetch(slot.dataset.impactUrl, { credentials: "same-origin" })
        .then(function (response) { if (!response.ok) throw new Error(response.status); return response.text(); })
        .then(function (html) {
          var body = document.createElement("div");
          body.innerHTML = html;
          status.replaceWith(body);
          initCharts(body);
        })
        .catch(function () {
          status.textContent = "The comparison could not be loaded. Reload the page to try again.";
        });
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

  // A form sent back with errors: bring the first one into view and put the cursor in its field, so a person
  // does not have to hunt for it (the push form sits far down the segment page). The builder does its own.
  function focusFirstError(root) {
    var scope = root || document;
    var error = scope.querySelector("form:not(#segment-form) .field-error") ||
      scope.querySelector("form:not(#segment-form) .form-error");
    if (!error) return null;
    var field = error.closest(".field, .form-error") || error;
    var control = field.querySelector("input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])");
    if (!control && field.classList.contains("form-error")) {
      field.setAttribute("tabindex", "-1");
      control = field;
    }
    if (!control) return null;
    if (control !== field) control.setAttribute("aria-invalid", "true");
    control.scrollIntoView({ block: "center" });
    control.focus({ preventScroll: true });
    return control;
  }
  window.loyaltyFocusFirstError = focusFirstError;

  document.addEventListener("DOMContentLoaded", function () {
    initNavToggle();
    initMenus();
    initCharts();
    initImpact();
    initProgress();
    initCounters();
    initConfirm();
    initAutoSubmit();
    initToggles();
    focusFirstError();
  });
})();

// The segment builder: parts (AND) of criteria (OR), each criterion type with its own inputs, a debounced live
// preview of the matching customers, and the validation errors of segments.criteria shown next to their fields.
(function () {
  "use strict";

  var uid = 0;
  function nextId(prefix) { uid += 1; return prefix + "-" + uid; }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function Builder(form, data) {
    this.form = form;
    this.root = document.getElementById("builder");
    this.catalogue = data.catalogue;
    this.types = {};
    var self = this;
    data.catalogue.types.forEach(function (t) { self.types[t.type] = t; });
    this.parts = (data.parts || []).map(function (part) {
      return { id: part.segmentPartId, criteria: part.criteria.map(function (c) { return self.fromStored(c); }) };
    });
    if (!this.parts.length) this.parts.push({ criteria: [this.newCriterion()] });
    this.previewUrl = form.dataset.previewUrl;
    this.suggestUrl = form.dataset.suggestUrl;
    this.timer = null;
    this.sequence = 0;
    // A fresh criterion is not wrong yet: its errors wait until one of its fields was changed, or the form was
    // sent (a definition sent back by the server shows all of them).
    this.touchedPaths = {};
    this.submitted = Boolean((data.errors || []).length) || Boolean(form.querySelector(".field-error"));
    this.editing = Boolean((data.parts || []).length);
    this.lastErrors = [];
    this.version = 0;
    this.checkedVersion = -1;
    this.render();
    this.showErrors(data.errors || []);
    if (this.submitted) this.focusFirstError();
    this.schedulePreview(0);
  }

  Builder.prototype.newCriterion = function (type) {
    return { type: type || "transaction_count", values: {} };
  };

  // Stored criterion → the values the widgets edit.
  Builder.prototype.fromStored = function (stored) {
    var values = {};
    var spec = this.types[stored.type];
    (spec ? spec.fields : []).forEach(function (field) {
      var v = stored[field.name];
      if (field.kind === "item_objects") {
        values.items = (v || []).filter(function (i) { return i.id; }).map(function (i) { return i.id; });
        values.groups = (v || []).filter(function (i) { return i.group && !i.id; }).map(function (i) { return i.group; });
      } else if (field.kind === "key_values") {
        values[field.name] = (v || []).map(function (i) { return i.key + "=" + i.value; });
      } else if (field.kind === "keys") {
        values[field.name] = (v || []).map(function (i) { return i.key; });
      } else if (field.kind === "textarea" && field.name === "csv" && v === undefined && stored.customers) {
        values.csv = stored.customers.join("\n");
      } else if (v !== undefined && v !== null) {
        values[field.name] = field.boolean ? String(v) : v;
      }
    });
    return { id: stored.criterionId, type: stored.type, values: values };
  };

  // The criterion as segments.criteria expects it.
  Builder.prototype.toStored = function (criterion) {
    var out = { type: criterion.type };
    if (criterion.id) out.criterionId = criterion.id;
    var spec = this.types[criterion.type];
    var values = criterion.values;
    spec.fields.forEach(function (field) {
      var v = values[field.name];
      if (field.kind === "item_objects") {
        var items = (values.items || []).map(function (id) { return { id: id }; })
          .concat((values.groups || []).map(function (g) { return { group: g }; }));
        if (items.length) out.items = items;
        return;
      }
      if (v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length)) return;
      if (field.kind === "key_values") {
        out[field.name] = v.map(function (token) {
          var at = token.indexOf("=");
          return at < 0 ? { key: token, value: "" } : { key: token.slice(0, at), value: token.slice(at + 1) };
        });
      } else if (field.kind === "keys") {
        out[field.name] = v.map(function (key) { return { key: key }; });
      } else if (field.kind === "int") {
        out[field.name] = /^-?\d+$/.test(String(v)) ? parseInt(v, 10) : v;
      } else if (field.kind === "amount" || field.kind === "decimal") {
        out[field.name] = String(v).replace(/\s/g, "").replace(",", ".");
      } else if (field.boolean) {
        out[field.name] = v === "true";
      } else {
        out[field.name] = v;
      }
    });
    return out;
  };

  Builder.prototype.serialize = function () {
    var self = this;
    return this.parts.map(function (part) {
      var out = { criteria: part.criteria.map(function (c) { return self.toStored(c); }) };
      if (part.id) out.segmentPartId = part.id;
      return out;
    });
  };

  Builder.prototype.changed = function (path) {
    this.version += 1;
    if (path) this.touchedPaths[path] = true;
    this.schedulePreview(400);
  };

  // "parts[0].criteria[1].fromAmount" → "parts[0].criteria[1]"
  function criterionOf(path) {
    var match = /^parts\[\d+\]\.criteria\[\d+\]/.exec(path || "");
    return match ? match[0] : path;
  }

  // Whether an error is shown yet: after its criterion was touched, when editing a stored definition, or on save.
  Builder.prototype.shows = function (error) {
    if (this.submitted || this.editing) return true;
    var owner = criterionOf(error.path);
    return Object.keys(this.touchedPaths).some(function (path) { return criterionOf(path) === owner; });
  };

  // The validation's message in the labels' words: "Give at least one of: fromAmount, toAmount." names the fields
  // as the builder labels them.
  Builder.prototype.inWords = function (error) {
    var match = /^parts\[(\d+)\]\.criteria\[(\d+)\]/.exec(error.path || "");
    var part = match && this.parts[Number(match[1])];
    var criterion = part && part.criteria[Number(match[2])];
    var spec = criterion && this.types[criterion.type];
    if (!spec) return error.message;
    var message = error.message;
    spec.fields.forEach(function (field) {
      message = message.replace(new RegExp("\\b" + field.name + "\\b", "g"), "“" + field.label + "”");
    });
    return message;
  };

  Builder.prototype.render = function () {
    var self = this;
    this.root.textContent = "";
    this.parts.forEach(function (part, p) {
      if (p > 0) self.root.appendChild(el("p", { className: "joiner", text: "AND" }));
      self.root.appendChild(self.renderPart(part, p));
    });
    var fallback = document.getElementById("builder-fallback");
    if (fallback) fallback.hidden = true;
  };

  Builder.prototype.renderPart = function (part, p) {
    var self = this;
    var title = el("h3", { text: "Part " + (p + 1) });
    var count = el("span", { className: "part-count", "data-part-count": p, "aria-live": "polite", text: "…" });
    var remove = el("button", { type: "button", className: "btn btn-small btn-quiet", text: "Remove part",
      "aria-label": "Remove part " + (p + 1) });
    remove.addEventListener("click", function () {
      self.parts.splice(p, 1);
      if (!self.parts.length) self.parts.push({ criteria: [self.newCriterion()] });
      self.render(); self.changed();
    });
    var head = el("div", { className: "builder-part-head" }, [title, el("div", { className: "actions" }, [count, remove])]);
    var box = el("div", { className: "builder-part", "data-path": "parts[" + p + "]", "data-part": p }, [head]);
    var list = el("div", { "data-path": "parts[" + p + "].criteria" });
    part.criteria.forEach(function (criterion, c) {
      if (c > 0) list.appendChild(el("p", { className: "joiner joiner-or", text: "OR" }));
      list.appendChild(self.renderCriterion(part, p, criterion, c));
    });
    box.appendChild(list);
    var add = el("button", { type: "button", className: "btn btn-small", text: "+ Add a criterion (OR)" });
    add.addEventListener("click", function () {
      part.criteria.push(self.newCriterion());
      self.render(); self.changed();
      var selects = self.root.querySelectorAll('[data-part="' + p + '"] select.criterion-type');
      if (selects.length) selects[selects.length - 1].focus();
    });
    box.appendChild(el("div", { className: "actions" }, [add]));
    return box;
  };

  Builder.prototype.renderCriterion = function (part, p, criterion, c) {
    var self = this;
    var path = "parts[" + p + "].criteria[" + c + "]";
    var selectId = nextId("ctype");
    var select = el("select", { id: selectId, className: "criterion-type" });
    this.catalogue.groups.forEach(function (groupName, g) {
      var group = el("optgroup", { label: groupName });
      self.catalogue.types.forEach(function (t) {
        if (t.group !== g) return;
        group.appendChild(el("option", { value: t.type, text: t.label, selected: t.type === criterion.type }));
      });
      select.appendChild(group);
    });
    select.addEventListener("change", function () {
      criterion.type = select.value;
      criterion.id = null;
      self.render(); self.changed();
      var again = document.querySelectorAll('[data-path="' + path + '"] select.criterion-type');
      if (again.length) again[0].focus();
    });
    var remove = el("button", { type: "button", className: "btn btn-small btn-quiet", text: "Remove",
      "aria-label": "Remove criterion " + (c + 1) + " of part " + (p + 1) });
    remove.addEventListener("click", function () {
      part.criteria.splice(c, 1);
      if (!part.criteria.length) part.criteria.push(self.newCriterion());
      self.render(); self.changed();
    });
    var head = el("div", { className: "criterion-head" }, [
      el("div", { className: "field", "data-path": path + ".type" }, [el("label", { "for": selectId, text: "Criterion" }), select]),
      remove
    ]);
    var fields = el("div", { className: "criterion-fields" });
    var spec = this.types[criterion.type];
    spec.fields.forEach(function (field) {
      fields.appendChild(self.renderField(criterion, field, path));
    });
    var help = el("p", { className: "help criterion-help" }, [
      el("span", { text: spec.counts }),
      spec.example ? el("span", { text: " Example: " + spec.example + "." }) : null
    ]);
    return el("div", { className: "criterion", "data-path": path }, [head, help, fields]);
  };

  Builder.prototype.renderField = function (criterion, field, path) {
    var self = this;
    var values = criterion.values;
    var id = nextId("cf");
    var label = field.label + (field.kind === "amount" ? " (" + this.catalogue.currency + ")" : "");
    var wrapper = el("div", { className: "field" + (field.wide ? " field-wide" : ""), "data-path": path + "." + field.name });
    var input;
    var fieldPath = path + "." + field.name;
    function set(value) { values[field.name] = value; self.changed(fieldPath); }
    switch (field.kind) {
      case "int":
      case "decimal":
        input = el("input", { type: "number", id: id, min: field.min, max: field.max, step: field.kind === "int" ? "1" : "any",
          value: values[field.name] !== undefined ? values[field.name] : null });
        input.addEventListener("input", function () { set(input.value === "" ? null : input.value); });
        break;
      case "amount":
        input = el("input", { type: "text", inputmode: "decimal", id: id, autocomplete: "off",
          value: values[field.name] !== undefined ? values[field.name] : null });
        input.addEventListener("input", function () { set(input.value.trim() === "" ? null : input.value.trim()); });
        break;
      case "date":
        input = el("input", { type: "date", id: id, value: values[field.name] ? String(values[field.name]).slice(0, 10) : null });
        input.addEventListener("input", function () { set(input.value || null); });
        input.addEventListener("change", function () { set(input.value || null); });
        break;
      case "text":
        input = el("input", { type: "text", id: id, value: values[field.name] || null });
        input.addEventListener("input", function () { set(input.value || null); });
        break;
      case "textarea":
        input = el("textarea", { id: id, rows: 4 });
        input.value = values[field.name] || "";
        input.addEventListener("input", function () { set(input.value || null); });
        break;
      case "choice":
        input = el("select", { id: id }, [el("option", { value: "", text: "Choose…" })].concat(field.choices.map(function (choice) {
          return el("option", { value: choice[0], text: choice[1], selected: String(values[field.name]) === choice[0] });
        })));
        input.addEventListener("change", function () { set(input.value || null); });
        break;
      case "store":
        input = el("select", { id: id }, [el("option", { value: "", text: "Choose a store…" })].concat(this.catalogue.stores.map(function (s) {
          return el("option", { value: s.id, text: s.name + " (" + s.id + ")", selected: values[field.name] === s.id });
        })));
        input.addEventListener("change", function () { set(input.value || null); });
        break;
      case "stores":
        var chosen = values[field.name] || [];
        input = el("select", { id: id, multiple: true, size: Math.min(6, Math.max(3, this.catalogue.stores.length)) },
          this.catalogue.stores.map(function (s) {
            return el("option", { value: s.id, text: s.name + " (" + s.id + ")", selected: chosen.indexOf(s.id) >= 0 });
          }));
        input.addEventListener("change", function () {
          set(Array.prototype.filter.call(input.options, function (o) { return o.selected; }).map(function (o) { return o.value; }));
        });
        break;
      case "item_objects":
        wrapper.appendChild(el("span", { className: "label", text: field.label }));
        var pair = el("div", { className: "form-grid" });
        pair.appendChild(this.tokenField(values, "items", "Item ids", "item", null, null, false, fieldPath));
        pair.appendChild(this.tokenField(values, "groups", "Group ids", "group", null, null, false, fieldPath));
        wrapper.appendChild(pair);
        return wrapper;
      default: // tokens, key_values, keys
        return this.tokenField(values, field.name, field.label, field.suggest, field.options, path + "." + field.name, field.wide);
    }
    wrapper.appendChild(el("label", { "for": id, text: label }));
    wrapper.appendChild(input);
    return wrapper;
  };

  // A list of values typed one by one (Enter or comma adds), with suggestions from the account's receipts.
  Builder.prototype.tokenField = function (values, name, label, suggest, options, path, wide, touchPath) {
    var self = this;
    var mark = path || touchPath;
    var id = nextId("tok");
    var listId = id + "-list";
    var wrapper = el("div", { className: "field" + (wide ? " field-wide" : ""), "data-path": path || null });
    var input = el("input", { type: "text", id: id, list: listId, autocomplete: "off",
      placeholder: "Type and press Enter", "aria-describedby": id + "-help" });
    var datalist = el("datalist", { id: listId }, (options || []).map(function (o) { return el("option", { value: o }); }));
    var tokens = el("div", { className: "tokens", role: "list", "aria-label": label });
    function draw() {
      tokens.textContent = "";
      (values[name] || []).forEach(function (value, index) {
        var button = el("button", { type: "button", "aria-label": "Remove " + value, text: "×" });
        button.addEventListener("click", function () {
          values[name].splice(index, 1); draw(); self.changed(mark); input.focus();
        });
        tokens.appendChild(el("span", { className: "token", role: "listitem" }, [el("span", { text: value }), button]));
      });
    }
    function add() {
      var text = input.value.trim().replace(/,$/, "");
      if (!text) return;
      values[name] = (values[name] || []);
      if (values[name].indexOf(text) < 0) values[name].push(text);
      input.value = "";
      draw(); self.changed(mark);
    }
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === ",") { event.preventDefault(); add(); }
      else if (event.key === "Backspace" && !input.value && (values[name] || []).length) {
        values[name].pop(); draw(); self.changed(mark);
      }
    });
    input.addEventListener("change", function () {
      // picking a suggestion from the datalist commits it
      if (Array.prototype.some.call(datalist.options, function (o) { return o.value === input.value; })) add();
    });
    input.addEventListener("blur", add);
    if (suggest) {
      var pending = null;
      input.addEventListener("input", function () {
        window.clearTimeout(pending);
        pending = window.setTimeout(function () {
          var url = self.suggestUrl + "?kind=" + encodeURIComponent(suggest) + "&q=" + encodeURIComponent(input.value.trim());
          fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (body) {
            datalist.textContent = "";
            (body.results || []).forEach(function (r) {
              datalist.appendChild(el("option", { value: r.value, label: r.name && r.name !== r.value ? r.name : null }));
            });
          }).catch(function () {});
        }, 200);
      });
    }
    wrapper.appendChild(el("label", { "for": id, text: label }));
    wrapper.appendChild(input);
    wrapper.appendChild(datalist);
    wrapper.appendChild(el("p", { className: "help", id: id + "-help", text: suggest ? "Suggestions come from your receipts." : "Enter adds a value." }));
    wrapper.appendChild(tokens);
    draw();
    return wrapper;
  };

  Builder.prototype.clearErrors = function () {
    this.root.querySelectorAll(".field-error[data-builder-error]").forEach(function (node) { node.remove(); });
    this.root.querySelectorAll("[aria-invalid]").forEach(function (node) { node.removeAttribute("aria-invalid"); });
  };

  Builder.prototype.showErrors = function (errors) {
    var self = this;
    this.lastErrors = errors;
    this.clearErrors();
    errors.filter(function (error) { return self.shows(error); }).forEach(function (error) {
      var path = error.path;
      var target = null;
      while (path && !target) {
        target = self.root.querySelector('[data-path="' + path + '"]');
        if (!target) {
          var cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
          path = cut > 0 ? path.slice(0, cut) : "";
        }
      }
      var message = el("p", { className: "field-error", "data-builder-error": "true", text: self.inWords(error) });
      if (!target) { self.root.appendChild(message); return; }
      var control = target.querySelector("input, select, textarea");
      if (control && target.classList.contains("field")) control.setAttribute("aria-invalid", "true");
      target.appendChild(message);
    });
  };

  // On save: what the latest preview of this very definition found, and a missing name, stop the form here with
  // every problem shown and the first one focused. When the preview is behind the edits, the server validates the
  // form as always and the page it sends back focuses the first problem.
  Builder.prototype.check = function () {
    var named = this.nameError(!document.getElementById("id_name").value.trim());
    var known = this.checkedVersion === this.version ? this.lastErrors : [];
    this.showErrors(known);
    if (named && !known.length) return true;
    this.focusFirstError();
    return false;
  };

  Builder.prototype.nameError = function (missing) {
    var input = document.getElementById("id_name");
    var field = input.closest(".field");
    var existing = document.getElementById("id_name-error");
    if (!missing) {
      if (existing) existing.remove();
      input.removeAttribute("aria-invalid");
      field.classList.remove("has-error");
      return true;
    }
    if (!existing) {
      existing = el("p", { className: "field-error", id: "id_name-error", text: "Give the segment a name." });
      field.appendChild(existing);
    }
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "id_name-error");
    field.classList.add("has-error");
    return false;
  };

  Builder.prototype.focusFirstError = function () {
    var error = this.form.querySelector(".field-error");
    if (!error) return;
    var holder = error.parentNode;
    var control = holder.querySelector("input:not([type=hidden]), select, textarea");
    if (!control) { error.setAttribute("tabindex", "-1"); control = error; }
    control.scrollIntoView({ block: "center" });
    control.focus({ preventScroll: true });
  };

  Builder.prototype.fetchPreview = function () {
    var token = this.form.querySelector("input[name=csrfmiddlewaretoken]").value;
    return fetch(this.previewUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token, Accept: "application/json" },
      body: JSON.stringify({ parts: this.serialize() })
    }).then(function (r) {
      if (!r.ok) throw new Error("preview " + r.status);
      return r.json();
    });
  };

  Builder.prototype.schedulePreview = function (delay) {
    var self = this;
    window.clearTimeout(this.timer);
    document.getElementById("preview-status").textContent = "Counting…";
    this.timer = window.setTimeout(function () { self.preview(); }, delay);
  };

  Builder.prototype.preview = function () {
    var self = this;
    var sequence = ++this.sequence;
    var version = this.version;
    this.fetchPreview().then(function (body) {
      if (sequence !== self.sequence) return; // an older answer arriving late
      self.checkedVersion = version;
      var total = document.getElementById("preview-count");
      var status = document.getElementById("preview-status");
      total.textContent = body.customersCount === null || body.customersCount === undefined ? "–" : body.customersCount.toLocaleString();
      total.dataset.count = body.customersCount === null ? "" : String(body.customersCount);
      (body.parts || []).forEach(function (part, index) {
        var badge = self.root.querySelector('[data-part-count="' + index + '"]');
        if (badge) {
          badge.textContent = part.customersCount === null ? "incomplete" : part.customersCount.toLocaleString() + " customers";
          badge.dataset.count = part.customersCount === null ? "" : String(part.customersCount);
        }
      });
      self.showErrors(body.errors || []);
      if ((body.errors || []).length) {
        var shown = self.root.querySelector(".field-error[data-builder-error]");
        status.textContent = shown ? "Complete the highlighted fields to count the whole segment." : "Fill in the criteria to count the customers.";
      } else {
        status.textContent = "Updated just now.";
      }
    }).catch(function () {
      if (sequence === self.sequence) document.getElementById("preview-status").textContent = "The preview is not available right now.";
    });
  };

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("segment-form");
    var data = document.getElementById("builder-data");
    if (!form || !data) return;
    var builder = new Builder(form, JSON.parse(data.textContent));
    document.getElementById("add-part").addEventListener("click", function () {
      builder.parts.push({ criteria: [builder.newCriterion()] });
      builder.render(); builder.changed();
      var selects = builder.root.querySelectorAll("select.criterion-type");
      selects[selects.length - 1].focus();
    });
    form.addEventListener("submit", function (event) {
      document.getElementById("id_parts").value = JSON.stringify(builder.serialize());
      builder.submitted = true;
      if (!builder.check()) event.preventDefault();
    });
    document.getElementById("id_name").addEventListener("input", function () { builder.nameError(false); });
  });
})();

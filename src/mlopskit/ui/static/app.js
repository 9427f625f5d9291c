/* mlopskit ui: the pages. Data comes from /api/... as JSON and is untrusted (anyone who
 * can write the store wrote it): it reaches the DOM only as text (textContent, attribute
 * values set through the DOM API, URL components through encodeURIComponent) — never
 * through innerHTML.
 */
(function () {
  "use strict";

  var main = document.getElementById("main");

  // -- DOM helpers -------------------------------------------------------------------

  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v == null || v === false) return;
        if (k === "text") node.textContent = String(v);
        else if (k === "onclick" || k === "onchange" || k === "oninput" || k === "onkeydown" || k === "onsubmit") node[k] = v;
        else if (k === "href") node.setAttribute("href", safeHref(v));
        else node.setAttribute(k, v === true ? "" : String(v));
      });
    }
    (children || []).forEach(function (c) {
      if (c == null) return;
      node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return node;
  }

  function safeHref(v) {
    v = String(v);
    return v.charAt(0) === "/" && v.charAt(1) !== "/" ? v : "#";
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function enc(s) {
    return encodeURIComponent(String(s));
  }

  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      var v = params[k];
      if (v != null && v !== "") parts.push(enc(k) + "=" + enc(v));
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  function api(path, params) {
    // No custom headers: the runs page's first request must match the server's preload.
    return fetch(path + query(params || {}), { credentials: "same-origin" }).then(function (r) {
      return r.json().then(
        function (body) {
          if (!r.ok) {
            var e = new Error((body && body.error && body.error.message) || r.status + " " + r.statusText);
            e.status = r.status;
            throw e;
          }
          return body;
        },
        function () {
          throw new Error(r.status + " " + r.statusText);
        }
      );
    });
  }

  function errorBox(err) {
    return h("div", { class: "error", role: "alert", text: err && err.message ? err.message : String(err) });
  }

  function fmtNum(v) {
    return window.MKCharts.fmt(v);
  }

  function fmtTime(v) {
    if (v == null || v === "") return "";
    var d = typeof v === "number" ? new Date(v * 1000) : new Date(v);
    if (isNaN(d.getTime())) return String(v);
    return d.toISOString().replace("T", " ").slice(0, 19);
  }

  function fmtDuration(s) {
    if (s == null) return "";
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + " s";
    if (s < 3600) return (s / 60).toFixed(1) + " min";
    return (s / 3600).toFixed(2) + " h";
  }

  function fmtBytes(n) {
    if (n == null) return "";
    var u = ["B", "kB", "MB", "GB", "TB"];
    var i = 0;
    while (n >= 1000 && i < u.length - 1) {
      n /= 1000;
      i++;
    }
    return (i ? n.toFixed(1) : String(n)) + " " + u[i];
  }

  function shortDigest(d) {
    if (!d) return "";
    d = String(d);
    return d.length > 19 ? d.slice(0, 19) + "…" : d;
  }

  function cell(value, col) {
    if (value == null) return h("td", { class: "muted" }, [""]);
    if (col === "start_time" || col === "end_time") return h("td", { class: "mono" }, [fmtTime(value)]);
    if (col === "duration") return h("td", { class: "num" }, [fmtDuration(value)]);
    if (col === "status") return h("td", { class: "status-" + String(value).replace(/[^A-Z]/g, "") }, [String(value)]);
    if (typeof value === "number") return h("td", { class: "num", title: String(value) }, [fmtNum(value)]);
    return h("td", { title: String(value) }, [String(value)]);
  }

  function table(columns, rows, opts) {
    opts = opts || {};
    var thead = h("thead", null, [
      h(
        "tr",
        null,
        columns.map(function (c) {
          return h("th", null, [typeof c === "string" ? c : c.label]);
        })
      ),
    ]);
    var tbody = h(
      "tbody",
      null,
      rows.map(function (r) {
        return h(
          "tr",
          null,
          r.map(function (v) {
            if (v instanceof Node) return v.tagName === "TD" ? v : h("td", null, [v]);
            if (typeof v === "number") return h("td", { class: "num", title: String(v) }, [fmtNum(v)]);
            return h("td", v == null ? { class: "muted" } : { title: String(v) }, [v == null ? "" : String(v)]);
          })
        );
      })
    );
    var t = h("table", { class: "data" + (opts.kv ? " kv" : ""), id: opts.id }, [thead, tbody]);
    return h("div", { class: "scroll" }, [t]);
  }

  function kvTable(pairs, id) {
    return table(
      ["key", "value"],
      pairs.map(function (p) {
        return [p[0], p[1]];
      }),
      { kv: true, id: id }
    );
  }

  function link(text, href) {
    return h("a", { href: href }, [String(text)]);
  }

  function runLink(id, label) {
    return link(label || id, "/runs/" + enc(id));
  }

  function nodeLink(node) {
    var label = node.label || node.id;
    if (node.kind === "run" && String(node.id).indexOf("run:") === 0) return runLink(node.id.slice(4), label);
    var m = /^([^@/]+)(?:\/(\d+)|@.*)?$/.exec(String(node.label || ""));
    if (node.kind === "dataset" && m) return link(label, "/datasets/" + enc(m[1]) + (m[2] ? "?version=" + m[2] : ""));
    if (node.kind === "model" && m) return link(label, "/models/" + enc(m[1]));
    return h("span", { title: node.digest || node.id }, [label]);
  }

  function setTitle(t) {
    document.title = t + " · mlopskit";
  }

  var infoShown = false;
  function showInfo() {
    if (infoShown) return;
    infoShown = true;
    api("/api/info")
      .then(function (i) {
        var ws = document.getElementById("workspace");
        ws.textContent = "workspace: " + i.workspace + (i.read_only ? " · read-only" : "");
        ws.title = i.workspace;
      })
      .catch(function () {});
  }

  function ready(name) {
    showInfo(); // after the page's own data: the header line is not worth delaying it
    document.body.setAttribute("data-ready", name);
    if (window.performance && performance.mark) performance.mark("mk-ready-" + name);
  }

  // -- metric chart component ----------------------------------------------------------

  /* A chart of metric `key` for `runIds`, with x-axis choice, smoothing and zoom that
   * fetches the visible range again (exact once few enough points are in it). */
  function metricChart(runIds, key, opts) {
    opts = opts || {};
    var box = h("div", { class: "chart-box", "data-metric": key });
    var axis = opts.axis || "step";
    var weight = 0;
    var chart = null;
    var status = h("span", { class: "note" });
    var area = h("div", { class: "chart" });
    var errors = h("div");
    var axisSel = h("select", { "aria-label": "x axis", class: "x-axis" }, [
      h("option", { value: "step" }, ["x: step"]),
      h("option", { value: "time" }, ["x: time"]),
    ]);
    axisSel.value = axis;
    var smoothIn = h("input", { type: "range", min: "0", max: "0.99", step: "0.01", value: "0", "aria-label": "smoothing", class: "smoothing" });
    var smoothVal = h("span", { class: "note" }, ["smoothing 0"]);
    var reset = h("button", { type: "button", text: "Reset zoom" });
    var logBox = h("input", { type: "checkbox", class: "log-y" });
    var logY = false;
    box.appendChild(h("h3", null, [key]));
    box.appendChild(h("div", { class: "controls" }, [axisSel, h("label", null, [logBox, " log y"]), smoothIn, smoothVal, reset, status]));
    box.appendChild(errors);
    box.appendChild(area);

    var seq = 0;
    var range = [null, null];
    var timer = null;
    function load(start, end) {
      var mine = ++seq;
      range = [start, end];
      clear(errors);
      return api("/api/metrics", { runs: runIds.join(","), key: key, x: axis, start: start, end: end, points: 2000 })
        .then(function (body) {
          if (mine !== seq) return;
          var series = body.series.map(function (s) {
            return { label: runIds.length > 1 ? s.label : key, x: s.x, y: s.y };
          });
          var shown = 0, total = 0, inRange = 0, exact = true;
          body.series.forEach(function (s) {
            shown += s.x.length;
            total += s.total;
            inRange += s.in_range;
            exact = exact && s.exact;
          });
          status.textContent =
            shown.toLocaleString() + " of " + inRange.toLocaleString() + " points in view" +
            (exact ? " (exact)" : " (downsampled; zoom for detail)") +
            (inRange !== total ? " · " + total.toLocaleString() + " in all" : "");
          box.setAttribute("data-exact", exact ? "1" : "0");
          var live = body.series.some(function (s) {
            return s.live;
          });
          if (live) status.textContent += " · live, refreshing every 5 s";
          if (live && !timer) {
            timer = setInterval(function () {
              if (!document.body.contains(box)) clearInterval(timer);
              else load(range[0], range[1]);
            }, 5000);
          } else if (!live && timer) {
            clearInterval(timer);
            timer = null;
          }
          if (!chart || chart.time !== (axis === "time") || chart.logY !== logY) {
            if (chart) chart.destroy();
            clear(area);
            chart = window.MKCharts.lineChart(area, {
              series: series,
              time: axis === "time",
              xLabel: axis,
              smoothing: weight,
              logY: logY,
              onZoom: function (lo, hi) {
                load(lo, hi).then(function () {
                  if (lo == null && chart) chart.plot.setData(chart.plot.data, true);
                });
              },
            });
            chart.time = axis === "time";
            chart.logY = logY;
          } else {
            chart.update(series, start == null);
          }
          box.setAttribute("data-loaded", "1");
        })
        .catch(function (err) {
          if (mine === seq) errors.appendChild(errorBox(err));
        });
    }
    axisSel.onchange = function () {
      axis = axisSel.value;
      load();
    };
    logBox.onchange = function () {
      logY = logBox.checked;
      load();
    };
    smoothIn.oninput = function () {
      weight = parseFloat(smoothIn.value) || 0;
      smoothVal.textContent = "smoothing " + weight.toFixed(2);
      if (chart) chart.setSmoothing(weight);
    };
    reset.onclick = function () {
      load().then(function () {
        if (chart) chart.plot.setData(chart.plot.data, true);
      });
    };
    box.ready = load();
    return box;
  }

  // -- runs page -------------------------------------------------------------------------

  var INFO = ["name", "status", "lifecycle", "start_time", "duration", "experiment"];

  function defaultColumns(all) {
    var metrics = all.filter(function (c) {
      return c.indexOf("metrics.") === 0;
    }).slice(0, 6);
    var params = all.filter(function (c) {
      return c.indexOf("params.") === 0;
    }).slice(0, 4);
    return INFO.concat(metrics, params).filter(function (c) {
      return all.indexOf(c) >= 0;
    });
  }

  function runsPage() {
    setTitle("Runs");
    var url = new URL(location.href);
    var state = {
      experiment: url.searchParams.get("experiment") || "",
      filter: url.searchParams.get("filter") || "",
      view: url.searchParams.get("view") || "",
      order_by: url.searchParams.get("order_by") || "",
      offset: parseInt(url.searchParams.get("offset") || "0", 10) || 0,
      limit: parseInt(url.searchParams.get("limit") || "50", 10) || 50,
      columns: url.searchParams.get("columns") || "",
    };
    var selected = {};
    var allColumns = [];

    var expSel = h("select", { id: "experiment", "aria-label": "experiment" }, [h("option", { value: "" }, ["all experiments"])]);
    var filterIn = h("input", {
      type: "text",
      id: "filter",
      placeholder: "filter, e.g. metrics.acc > 0.9 and params.lr < 0.1",
      "aria-label": "filter",
    });
    filterIn.value = state.filter;
    // Which runs: as search_runs(run_view=...) and `mlopskit runs ls --view`; "" is active.
    var viewSel = h("select", { id: "view", "aria-label": "which runs" }, [
      h("option", { value: "" }, ["active runs"]),
      h("option", { value: "deleted" }, ["deleted runs"]),
      h("option", { value: "all" }, ["all runs"]),
    ]);
    viewSel.value = state.view;
    var apply = h("button", { type: "button", class: "primary", id: "apply", text: "Apply" });
    var sizeSel = h(
      "select",
      { id: "page-size", "aria-label": "rows per page" },
      [25, 50, 100, 200, 500].map(function (n) {
        return h("option", { value: String(n) }, [n + " per page"]);
      })
    );
    sizeSel.value = String(state.limit);
    var colsBox = h("div");
    var colsDetails = h("details", { class: "columns", id: "columns" }, [h("summary", null, ["Columns"]), colsBox]);
    var compare = h("button", { type: "button", id: "compare", text: "Compare selected", disabled: true });
    var errors = h("div", { id: "errors" });
    var info = h("span", { id: "page-info", class: "muted" });
    var prev = h("button", { type: "button", id: "prev", text: "‹ Prev" });
    var next = h("button", { type: "button", id: "next", text: "Next ›" });
    var tableBox = h("div", { class: "scroll" });

    clear(main).appendChild(h("h1", null, ["Runs"]));
    main.appendChild(h("div", { class: "controls" }, [expSel, viewSel, filterIn, apply, sizeSel, colsDetails, compare]));
    main.appendChild(errors);
    main.appendChild(h("div", { class: "pager" }, [prev, next, info]));
    main.appendChild(tableBox);

    function loadExperiments() {
      api("/api/experiments").then(function (body) {
        body.experiments.forEach(function (e) {
          expSel.appendChild(h("option", { value: e }, [e]));
        });
        expSel.value = state.experiment;
      }).catch(function (err) {
        errors.appendChild(errorBox(err));
      });
    }

    function chosen() {
      return state.columns ? state.columns.split(",") : defaultColumns(allColumns);
    }

    function sync() {
      var q = {};
      ["experiment", "view", "filter", "order_by", "columns"].forEach(function (k) {
        if (state[k]) q[k] = state[k];
      });
      if (state.offset) q.offset = state.offset;
      if (state.limit !== 50) q.limit = state.limit;
      history.replaceState(null, "", "/" + query(q));
    }

    /* order_by text for a column: kind.name, the name back-quoted unless it is bare. */
    function orderExpr(col, dir) {
      var dot = col.indexOf(".");
      var kind = dot > 0 ? col.slice(0, dot) : "";
      var name = dot > 0 ? col.slice(dot + 1) : col;
      var bare = /^[A-Za-z0-9_.:\/-]+$/.test(name) && ["params", "metrics", "tags"].indexOf(kind) >= 0;
      var field = !kind || ["params", "metrics", "tags"].indexOf(kind) < 0 ? col : bare ? col : kind + ".`" + name.replace(/`/g, "") + "`";
      return field + " " + dir;
    }

    function orderOf(col) {
      if (state.order_by === orderExpr(col, "ASC")) return "ASC";
      if (state.order_by === orderExpr(col, "DESC")) return "DESC";
      return null;
    }

    function sortBy(col) {
      var cur = orderOf(col);
      var dir = cur === "DESC" ? "ASC" : cur === "ASC" ? null : col.indexOf("metrics.") === 0 ? "DESC" : "ASC";
      state.order_by = dir ? orderExpr(col, dir) : "";
      state.offset = 0;
      load();
    }

    function renderColumns() {
      clear(colsBox);
      var current = chosen();
      allColumns.forEach(function (c) {
        if (c === "run_id") return;
        var box = h("input", { type: "checkbox", value: c });
        box.checked = current.indexOf(c) >= 0;
        box.onchange = function () {
          var now = chosen().filter(function (x) {
            return x !== c;
          });
          if (box.checked) now.push(c);
          state.columns = now.join(",");
          load();
        };
        colsBox.appendChild(h("label", null, [box, " " + c]));
      });
    }

    function renderTable(body) {
      var cols = chosen().filter(function (c) {
        return body.columns.indexOf(c) >= 0;
      });
      var head = h("tr", null, [h("th", null, [""])].concat(
        cols.map(function (c) {
          var dir = orderOf(c);
          var th = h("th", { class: "sortable", "data-col": c, title: "sort by " + c }, [c + (dir === "ASC" ? " ▲" : dir === "DESC" ? " ▼" : "")]);
          th.onclick = function () {
            sortBy(c);
          };
          return th;
        })
      ));
      var rows = body.rows.map(function (r) {
        var box = h("input", { type: "checkbox", "aria-label": "select run", class: "select-run" });
        box.checked = !!selected[r.run_id];
        box.onchange = function () {
          if (box.checked) selected[r.run_id] = true;
          else delete selected[r.run_id];
          compare.disabled = Object.keys(selected).length === 0;
        };
        return h("tr", { "data-run": r.run_id }, [h("td", null, [box])].concat(
          cols.map(function (c) {
            if (c === "name") return h("td", null, [runLink(r.run_id, r.name || r.run_id)]);
            return cell(r[c], c);
          })
        ));
      });
      var t = h("table", { class: "data", id: "runs-table" }, [h("thead", null, [head]), h("tbody", null, rows)]);
      clear(tableBox).appendChild(t);
      shown = { offset: body.offset, n: body.rows.length };
      showInfo();
      prev.disabled = body.offset <= 0;
      next.disabled = !body.has_more;
      if (!body.rows.length) tableBox.appendChild(h("p", { class: "muted" }, ["No runs match."]));
    }

    var shown = null;
    var total = null;
    function showInfo() {
      if (!shown) return;
      var first = shown.n ? shown.offset + 1 : 0;
      var last = shown.offset + shown.n;
      info.textContent =
        "rows " + first.toLocaleString() + "–" + last.toLocaleString() + " of " +
        (total == null ? "…" : total.toLocaleString());
      if (total != null) info.setAttribute("data-total", String(total));
      else info.removeAttribute("data-total");
    }

    var countSeq = 0;
    function count() {
      var mine = ++countSeq;
      total = null;
      showInfo();
      api("/api/runs-count", { experiment: state.experiment, filter: state.filter, view: state.view })
        .then(function (body) {
          if (mine !== countSeq) return;
          total = body.total;
          showInfo();
          if (window.performance && performance.mark) performance.mark("mk-runs-counted");
        })
        .catch(function () {});
    }

    var columnsFor = null;
    colsDetails.addEventListener("toggle", function () {
      var key = state.experiment + "\u0000" + state.view;
      if (!colsDetails.open || columnsFor === key) return;
      columnsFor = key;
      api("/api/runs-columns", { experiment: state.experiment, view: state.view })
        .then(function (body) {
          body.columns.forEach(function (c) {
            if (allColumns.indexOf(c) < 0) allColumns.push(c);
          });
          renderColumns();
        })
        .catch(function (err) {
          errors.appendChild(errorBox(err));
        });
    });

    var seq = 0;
    var firstLoad = true;
    function load(recount) {
      var mine = ++seq;
      sync();
      clear(errors);
      if (recount) {
        total = null;
        countSeq++;
      }
      var cols = state.columns ? chosen().concat(["name"]).join(",") : "";
      return api("/api/runs", {
        experiment: state.experiment,
        filter: state.filter,
        view: state.view,
        order_by: state.order_by,
        offset: state.offset,
        limit: state.limit,
        columns: cols,
      })
        .then(function (body) {
          if (mine !== seq) return;
          body.columns.forEach(function (c) {
            if (allColumns.indexOf(c) < 0) allColumns.push(c);
          });
          renderTable(body);
          renderColumns();
          ready("runs");
          // The rows go first; then what may take longer (the count) or matters less.
          if (recount) count();
          if (firstLoad) loadExperiments();
          firstLoad = false;
        })
        .catch(function (err) {
          if (mine !== seq) return;
          errors.appendChild(errorBox(err));
          if (firstLoad) loadExperiments();
          firstLoad = false;
          ready("runs");
        });
    }

    expSel.onchange = function () {
      state.experiment = expSel.value;
      state.offset = 0;
      allColumns = [];
      load(true);
    };
    viewSel.onchange = function () {
      state.view = viewSel.value;
      state.offset = 0;
      allColumns = [];
      load(true);
    };
    apply.onclick = function () {
      state.filter = filterIn.value.trim();
      state.offset = 0;
      load(true);
    };
    filterIn.onkeydown = function (e) {
      if (e.key === "Enter") apply.onclick();
    };
    sizeSel.onchange = function () {
      state.limit = parseInt(sizeSel.value, 10);
      state.offset = 0;
      load();
    };
    prev.onclick = function () {
      state.offset = Math.max(0, state.offset - state.limit);
      load();
    };
    next.onclick = function () {
      state.offset += state.limit;
      load();
    };
    compare.onclick = function () {
      location.href = "/compare" + query({ runs: Object.keys(selected).join(",") });
    };
    load(true);
  }

  // -- run page --------------------------------------------------------------------------

  function artifactView(runId, a) {
    var base = "/api/runs/" + enc(runId) + "/artifact";
    var box = h("div", { class: "artifact", "data-artifact": a.name });
    var dl = a.view === "tree" ? h("span", { class: "muted" }, [a.kind === "tree" ? "directory" : ""]) : h("a", { href: base + query({ name: a.name }), download: a.name.split("/").pop() }, ["download"]);
    box.appendChild(h("div", null, [h("strong", null, [a.name]), " ", h("span", { class: "muted" }, [fmtBytes(a.size) + " · " + (a.media_type || (a.kind === "blob" ? "file" : a.kind)) + " · "]), dl]));
    if (a.view === "image") {
      box.appendChild(h("img", { src: base + query({ name: a.name }), alt: a.name, loading: "lazy" }));
    } else if (a.view === "table") {
      var slot = h("div", null, [h("span", { class: "note" }, ["loading table…"])]);
      box.appendChild(slot);
      api(base + "/table", { name: a.name })
        .then(function (t) {
          clear(slot);
          slot.appendChild(table(t.columns, t.rows));
          if (t.shown < t.total) slot.appendChild(h("p", { class: "note" }, ["first " + t.shown + " of " + t.total.toLocaleString() + " rows"]));
        })
        .catch(function (err) {
          clear(slot).appendChild(errorBox(err));
        });
    } else if (a.view === "tree") {
      var list = h("div", null, [h("span", { class: "note" }, ["loading files…"])]);
      box.appendChild(list);
      api(base + "/files", { name: a.name })
        .then(function (t) {
          clear(list);
          list.appendChild(table(["file", "size"], t.files.map(function (f) {
            return [
              h("td", null, [h("a", { href: base + query({ name: a.name, path: f.path }), download: f.path.split("/").pop() }, [f.path])]),
              h("td", { class: "num" }, [fmtBytes(f.size)]),
            ];
          })));
        })
        .catch(function (err) {
          clear(list).appendChild(errorBox(err));
        });
    } else if (a.view === "text") {
      var pre = h("pre", { class: "text" });
      box.appendChild(pre);
      api(base + "/text", { name: a.name })
        .then(function (t) {
          pre.textContent = t.text + (t.truncated ? "\n…" : "");
        })
        .catch(function (err) {
          box.appendChild(errorBox(err));
        });
    }
    return box;
  }

  function lineageSection(uri, into) {
    var slot = h("div", { id: "lineage" }, [h("span", { class: "note" }, ["loading lineage…"])]);
    into.appendChild(slot);
    api("/api/lineage", { uri: uri })
      .then(function (g) {
        clear(slot);
        if (!g.records.length) {
          slot.appendChild(h("p", { class: "muted" }, ["No lineage recorded."]));
          return;
        }
        slot.appendChild(
          table(
            ["direction", "source", "relation", "target", "depth"],
            g.records.map(function (r) {
              return [r.direction, h("td", null, [r.source.kind + " ", nodeLink(r.source)]), r.relation, h("td", null, [r.target.kind + " ", nodeLink(r.target)]), r.depth];
            })
          )
        );
      })
      .catch(function (err) {
        clear(slot).appendChild(errorBox(err));
      });
  }

  function runPage(runId) {
    clear(main).appendChild(h("p", { class: "muted" }, ["Loading run…"]));
    api("/api/runs/" + enc(runId))
      .then(function (r) {
        setTitle(r.name || r.run_id);
        clear(main);
        main.appendChild(h("h1", null, [r.name || r.run_id]));
        main.appendChild(h("div", { class: "muted mono" }, [r.run_id]));
        var infoPairs = [
          ["experiment", h("td", null, [link(r.experiment, "/" + query({ experiment: r.experiment }))])],
          ["status", cell(r.status, "status")],
          ["start", fmtTime(r.start_time)],
          ["end", fmtTime(r.end_time)],
          ["duration", fmtDuration(r.duration)],
          ["user", r.user],
          ["host", r.host],
        ];
        if (r.parent_id) infoPairs.push(["parent", h("td", null, [runLink(r.parent_id)])]);
        if (r.lifecycle === "deleted") {
          var d = r.deletion || {};
          infoPairs.push([
            "deleted",
            "by " + (d.user || "?") + " at " + fmtTime(d.time) +
              (d.via === "experiment" ? " with its experiment" : "") + (d.reason ? ": " + d.reason : ""),
          ]);
        }
        main.appendChild(kvTable(infoPairs, "run-info"));

        main.appendChild(h("h2", null, ["Metrics"]));
        var keys = r.metric_keys || [];
        if (!keys.length) main.appendChild(h("p", { class: "muted" }, ["No metrics."]));
        else {
          main.appendChild(kvTable(keys.map(function (k) {
            return [k, r.metrics[k]];
          }), "run-metrics"));
          keys.slice(0, 12).forEach(function (k) {
            main.appendChild(metricChart([r.run_id], k));
          });
          if (keys.length > 12) main.appendChild(h("p", { class: "note" }, ["Charts of the first 12 metrics; compare runs to chart any other."]));
        }

        main.appendChild(h("h2", null, ["Parameters"]));
        var params = Object.keys(r.params || {}).sort();
        main.appendChild(params.length ? kvTable(params.map(function (k) {
          return [k, r.params[k]];
        }), "run-params") : h("p", { class: "muted" }, ["No parameters."]));

        main.appendChild(h("h2", null, ["Artifacts"]));
        main.appendChild(r.artifacts.length ? h("div", { id: "artifacts" }, r.artifacts.map(function (a) {
          return artifactView(r.run_id, a);
        })) : h("p", { class: "muted" }, ["No artifacts."]));

        main.appendChild(h("h2", null, ["Inputs"]));
        main.appendChild(r.inputs.length ? table(["name", "context", "digest"], r.inputs.map(function (i) {
          return [i.name, i.context, h("td", { class: "mono", title: i.digest }, [shortDigest(i.digest)])];
        })) : h("p", { class: "muted" }, ["No inputs logged."]));

        main.appendChild(h("h2", null, ["Lineage"]));
        lineageSection("run:" + r.run_id, main);

        main.appendChild(h("h2", null, ["Tags"]));
        var tags = Object.keys(r.tags || {}).sort();
        var user = tags.filter(function (k) {
          return k.indexOf("mlopskit.") !== 0;
        });
        var sys = tags.filter(function (k) {
          return k.indexOf("mlopskit.") === 0;
        });
        main.appendChild(user.length ? kvTable(user.map(function (k) {
          return [k, r.tags[k]];
        }), "run-tags") : h("p", { class: "muted" }, ["No tags."]));
        if (sys.length) {
          main.appendChild(h("details", null, [h("summary", null, ["environment (" + sys.length + " mlopskit.* tags)"]), kvTable(sys.map(function (k) {
            return [k, r.tags[k]];
          }))]));
        }
        ready("run");
      })
      .catch(function (err) {
        clear(main).appendChild(errorBox(err));
        ready("run");
      });
  }

  // -- compare page ----------------------------------------------------------------------

  function comparePage() {
    setTitle("Compare runs");
    var url = new URL(location.href);
    var ids = (url.searchParams.get("runs") || "").split(",").filter(Boolean);
    clear(main).appendChild(h("h1", null, ["Compare " + ids.length + " runs"]));
    if (!ids.length) {
      main.appendChild(h("p", { class: "muted" }, ["Select runs on the runs page first."]));
      ready("compare");
      return;
    }
    Promise.all(ids.map(function (id) {
      return api("/api/runs/" + enc(id));
    }))
      .then(function (runs) {
        var keys = {};
        runs.forEach(function (r) {
          r.metric_keys.forEach(function (k) {
            keys[k] = true;
          });
        });
        var names = Object.keys(keys).sort();
        var keySel = h("select", { id: "metric", "aria-label": "metric" }, names.map(function (k) {
          return h("option", { value: k }, [k]);
        }));
        var want = url.searchParams.get("key");
        if (want && keys[want]) keySel.value = want;
        var slot = h("div");
        main.appendChild(h("div", { class: "controls" }, ["metric ", keySel]));
        main.appendChild(slot);
        var paramKeys = {};
        runs.forEach(function (r) {
          Object.keys(r.params).forEach(function (k) {
            paramKeys[k] = true;
          });
        });
        var pk = Object.keys(paramKeys).sort();
        main.appendChild(h("h2", null, ["Runs"]));
        main.appendChild(table(["run", "status"].concat(pk.map(function (k) {
          return "params." + k;
        })).concat(names.map(function (k) {
          return "metrics." + k;
        })), runs.map(function (r) {
          return [h("td", null, [runLink(r.run_id, r.name)]), cell(r.status, "status")].concat(pk.map(function (k) {
            return r.params[k];
          })).concat(names.map(function (k) {
            return r.metrics[k];
          }));
        })));
        function draw() {
          clear(slot);
          if (!keySel.value) {
            slot.appendChild(h("p", { class: "muted" }, ["These runs have no metrics."]));
            ready("compare");
            return;
          }
          var withKey = runs.filter(function (r) {
            return r.metric_keys.indexOf(keySel.value) >= 0;
          }).map(function (r) {
            return r.run_id;
          });
          var c = metricChart(withKey, keySel.value);
          slot.appendChild(c);
          c.ready.then(function () {
            ready("compare");
          });
        }
        keySel.onchange = draw;
        draw();
      })
      .catch(function (err) {
        main.appendChild(errorBox(err));
        ready("compare");
      });
  }

  // -- registry --------------------------------------------------------------------------

  function aliasChips(aliases) {
    return h("td", null, Object.keys(aliases || {}).sort().map(function (a) {
      return h("span", { class: "chip" }, ["@" + a + " → v" + aliases[a]]);
    }));
  }

  function modelsPage() {
    setTitle("Models");
    clear(main).appendChild(h("h1", null, ["Models"]));
    api("/api/models")
      .then(function (body) {
        if (!body.models.length) main.appendChild(h("p", { class: "muted" }, ["No registered models."]));
        else
          main.appendChild(table(["model", "versions", "latest", "aliases", "updated"], body.models.map(function (m) {
            return [h("td", null, [link(m.name, "/models/" + enc(m.name))]), m.versions, m.latest == null ? null : "v" + m.latest, aliasChips(m.aliases), fmtTime(m.updated)];
          }), { id: "models-table" }));
        ready("models");
      })
      .catch(function (err) {
        main.appendChild(errorBox(err));
        ready("models");
      });
  }

  function modelPage(name) {
    setTitle(name);
    clear(main).appendChild(h("h1", null, [name]));
    api("/api/models/" + enc(name))
      .then(function (m) {
        main.appendChild(h("h2", null, ["Aliases"]));
        var aliases = Object.keys(m.aliases).sort();
        main.appendChild(aliases.length ? table(["alias", "version", "uri"], aliases.map(function (a) {
          return ["@" + a, "v" + m.aliases[a], m.name + "@" + a];
        }), { id: "aliases-table" }) : h("p", { class: "muted" }, ["No aliases."]));
        main.appendChild(h("p", { class: "note" }, ["Read-only: move or roll back an alias with the API or the CLI (mlopskit models rollback NAME ALIAS)."]));
        main.appendChild(h("h2", null, ["Versions"]));
        main.appendChild(table(["version", "created", "author", "message", "run", "metrics", "kind", "digest"], m.versions.map(function (v) {
          return [
            "v" + v.number,
            fmtTime(v.created_at),
            v.author,
            v.message,
            v.run_id ? h("td", null, [runLink(v.run_id, v.run_id.slice(0, 8))]) : null,
            Object.keys(v.metrics || {}).sort().map(function (k) {
              return k + "=" + fmtNum(v.metrics[k]);
            }).join(", "),
            v.kind,
            h("td", { class: "mono", title: v.digest }, [shortDigest(v.digest)]),
          ];
        }), { id: "versions-table" }));
        main.appendChild(h("h2", null, ["History"]));
        main.appendChild(table(["time", "action", "alias", "from", "to", "user", "message"], m.history.map(function (e) {
          return [fmtTime(e.time), e.action, e.alias ? "@" + e.alias : null, e.from_version == null ? null : "v" + e.from_version, e.to_version == null ? null : "v" + e.to_version, e.user, e.message];
        }), { id: "history-table" }));
        main.appendChild(h("h2", null, ["Lineage of the latest version"]));
        if (m.versions.length) lineageSection("model:" + m.name + "/" + m.versions[0].number, main);
        ready("model");
      })
      .catch(function (err) {
        main.appendChild(errorBox(err));
        ready("model");
      });
  }

  // -- datasets ------------------------------------------------------------------------

  function datasetsPage() {
    setTitle("Datasets");
    clear(main).appendChild(h("h1", null, ["Datasets"]));
    api("/api/datasets")
      .then(function (body) {
        if (!body.datasets.length) main.appendChild(h("p", { class: "muted" }, ["No datasets."]));
        else
          main.appendChild(table(["dataset", "versions", "kind", "rows", "columns", "latest commit"], body.datasets.map(function (d) {
            return [h("td", null, [link(d.name, "/datasets/" + enc(d.name))]), d.versions, d.kind, d.rows, d.columns, fmtTime(d.created_at)];
          }), { id: "datasets-table" }));
        ready("datasets");
      })
      .catch(function (err) {
        main.appendChild(errorBox(err));
        ready("datasets");
      });
  }

  function datasetPage(name) {
    setTitle(name);
    var url = new URL(location.href);
    clear(main).appendChild(h("h1", null, [name]));
    api("/api/datasets/" + enc(name), { version: url.searchParams.get("version") })
      .then(function (d) {
        var v = d.version;
        main.appendChild(h("h2", null, ["Versions"]));
        main.appendChild(table(["version", "created", "author", "message", "kind", "rows", "size", "run", "digest"], d.versions.map(function (x) {
          return [
            h("td", null, [link("v" + x.number, "/datasets/" + enc(name) + "?version=" + x.number)]),
            fmtTime(x.created_at),
            x.author,
            x.message,
            x.kind,
            x.rows,
            fmtBytes(x.size),
            x.run_id ? h("td", null, [runLink(x.run_id, String(x.run_id).slice(0, 8))]) : null,
            h("td", { class: "mono", title: x.digest }, [shortDigest(x.digest)]),
          ];
        }), { id: "dataset-versions" }));
        main.appendChild(h("h2", null, ["Columns of v" + v.number + (v.rows != null ? " (" + v.rows.toLocaleString() + " rows)" : "")]));
        main.appendChild(v.summary.length ? table(["column", "dtype", "count", "nulls", "distinct", "mean", "std", "min", "max", "top"], v.summary.map(function (s) {
          return [s.name, s.dtype, s.count, s.nulls, s.distinct, s.mean, s.std, s.min, s.max, s.top];
        }), { id: "dataset-summary" }) : h("p", { class: "muted" }, ["No per-column summary (a file or directory)."]));

        main.appendChild(h("h2", null, ["Compare two versions"]));
        var nums = d.versions.map(function (x) {
          return x.number;
        });
        function picker(id, value) {
          var s = h("select", { id: id }, nums.map(function (n) {
            return h("option", { value: String(n) }, ["v" + n]);
          }));
          s.value = String(value);
          return s;
        }
        var aSel = picker("diff-a", nums.length > 1 ? nums[nums.length - 2] : nums[0]);
        var bSel = picker("diff-b", nums[nums.length - 1]);
        var go = h("button", { type: "button", class: "primary", id: "diff-go", text: "Diff" });
        var driftLink = h("a", { id: "drift-link" }, ["drift report"]);
        var out = h("div", { id: "diff" });
        main.appendChild(h("div", { class: "controls" }, ["from ", aSel, " to ", bSel, go, driftLink]));
        main.appendChild(out);
        function diff() {
          driftLink.setAttribute("href", "/drift" + query({ reference: name + "/" + aSel.value, current: name + "/" + bSel.value }));
          api("/api/datasets/" + enc(name) + "/diff", { a: aSel.value, b: bSel.value })
            .then(function (df) {
              clear(out);
              var rows = [];
              rows.push(["(rows)", "rows", "count", df.rows[0], df.rows[1]]);
              df.added_columns.forEach(function (c) {
                rows.push([c, "added", null, null, null]);
              });
              df.removed_columns.forEach(function (c) {
                rows.push([c, "removed", null, null, null]);
              });
              Object.keys(df.changed_columns).sort().forEach(function (c) {
                Object.keys(df.changed_columns[c]).forEach(function (k) {
                  rows.push([c, "schema", k, String(df.changed_columns[c][k][0]), String(df.changed_columns[c][k][1])]);
                });
              });
              Object.keys(df.stats).sort().forEach(function (c) {
                Object.keys(df.stats[c]).forEach(function (k) {
                  rows.push([c, "stat", k, df.stats[c][k][0], df.stats[c][k][1]]);
                });
              });
              out.appendChild(df.empty ? h("p", { class: "muted" }, ["No change."]) : table(["column", "change", "what", df.a, df.b], rows, { id: "diff-table" }));
            })
            .catch(function (err) {
              clear(out).appendChild(errorBox(err));
            });
        }
        go.onclick = diff;
        if (nums.length > 1) diff();
        main.appendChild(h("h2", null, ["Lineage of v" + v.number]));
        lineageSection("dataset:" + name + "/" + v.number, main);
        ready("dataset");
      })
      .catch(function (err) {
        main.appendChild(errorBox(err));
        ready("dataset");
      });
  }

  // -- drift -----------------------------------------------------------------------------

  function verdict(flag) {
    if (flag == null) return h("td", { class: "muted" }, ["—"]);
    return h("td", { class: flag ? "yes" : "no" }, [flag ? "drift" : "ok"]);
  }

  function driftPage() {
    setTitle("Drift");
    var url = new URL(location.href);
    var ref = url.searchParams.get("reference") || "";
    var cur = url.searchParams.get("current") || "";
    clear(main).appendChild(h("h1", null, ["Drift"]));
    var refIn = h("input", { type: "text", id: "reference", placeholder: "reference: dataset/1", "aria-label": "reference", list: "dataset-versions" });
    var curIn = h("input", { type: "text", id: "current", placeholder: "current: dataset/2", "aria-label": "current", list: "dataset-versions" });
    var choices = h("datalist", { id: "dataset-versions" });
    api("/api/datasets")
      .then(function (body) {
        body.datasets.forEach(function (d) {
          if (d.kind !== "dataframe" && d.kind !== "series") return;
          for (var n = d.versions; n >= 1; n--) choices.appendChild(h("option", { value: d.name + "/" + n }));
        });
      })
      .catch(function () {});
    refIn.value = ref;
    curIn.value = cur;
    var go = h("button", { type: "button", class: "primary", text: "Compare" });
    go.onclick = function () {
      location.href = "/drift" + query({ reference: refIn.value.trim(), current: curIn.value.trim() });
    };
    main.appendChild(h("p", { class: "muted" }, ["Compares two versions of committed tables column by column (mk.drift.compare). Open it from a dataset's page, or name the versions:"]));
    main.appendChild(h("div", { class: "controls" }, [refIn, curIn, go, choices]));
    if (!ref || !cur) {
      ready("drift");
      return;
    }
    var out = h("div", { id: "drift-report" }, [h("p", { class: "muted" }, ["Computing…"])]);
    main.appendChild(out);
    api("/api/drift", { reference: ref, current: cur })
      .then(function (rep) {
        clear(out);
        out.appendChild(h("h2", null, [(rep.drifted ? "Drift: " : "No drift: ") + rep.n_drifted + " of " + rep.n_columns + " columns drifted"]));
        out.appendChild(h("p", { class: "muted" }, [ref + " (" + rep.reference_rows.toLocaleString() + " rows) → " + cur + " (" + rep.current_rows.toLocaleString() + " rows)"]));
        out.appendChild(table(["column", "kind", "method", "statistic", "p-value", "threshold", "verdict"], rep.columns.map(function (c) {
          return [c.column, c.kind, c.method, c.statistic, c.p_value_adjusted != null ? c.p_value_adjusted : c.p_value, c.threshold, verdict(c.drifted)];
        }), { id: "drift-table" }));
        rep.columns.forEach(function (c) {
          if (!c.histogram) return;
          var box = h("div", { class: "chart-box" }, [h("h3", null, [c.column + " (" + c.kind + ", " + c.method + ")"])]);
          var area = h("div", { class: "chart" });
          box.appendChild(area);
          out.appendChild(box);
          window.MKCharts.barChart(area, {
            labels: c.histogram.labels,
            series: [
              { label: "reference", values: c.histogram.reference, color: "#4c72b0" },
              { label: "current", values: c.histogram.current, color: "#dd8452" },
            ],
            percent: true,
          });
        });
        ready("drift");
      })
      .catch(function (err) {
        clear(out).appendChild(errorBox(err));
        ready("drift");
      });
  }

  // -- router ----------------------------------------------------------------------------

  function route() {
    var path = location.pathname;
    var m;
    var nav = "runs";
    if (path === "/" || path === "/runs") runsPage();
    else if ((m = /^\/runs\/([^/]+)$/.exec(path))) runPage(decodeURIComponent(m[1]));
    else if (path === "/compare") comparePage();
    else if (path === "/models") (nav = "models"), modelsPage();
    else if ((m = /^\/models\/(.+)$/.exec(path))) (nav = "models"), modelPage(decodeURIComponent(m[1]));
    else if (path === "/datasets") (nav = "datasets"), datasetsPage();
    else if ((m = /^\/datasets\/(.+)$/.exec(path))) (nav = "datasets"), datasetPage(decodeURIComponent(m[1]));
    else if (path === "/drift") (nav = "drift"), driftPage();
    else clear(main).appendChild(errorBox("No page at " + path));
    var links = document.querySelectorAll("header nav a");
    for (var i = 0; i < links.length; i++) {
      links[i].classList.toggle("active", links[i].getAttribute("data-nav") === nav);
    }
  }

  route();
})();

/* mlopskit charts: one small layer over the vendored uPlot, shared by the web UI
 * (mlopskit ui) and the static HTML reports (DriftReport.to_html inlines this file).
 *
 * Everything drawn comes from the store and is untrusted: labels reach the page only
 * through textContent or uPlot's canvas text, never through innerHTML.
 */
(function (global) {
  "use strict";

  var PALETTE = [
    "#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3",
    "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd",
  ];

  function color(i) {
    return PALETTE[i % PALETTE.length];
  }

  function fmt(v) {
    if (v == null || Number.isNaN(v)) return "—";
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
    return String(Number(v.toPrecision(6)));
  }

  /* Exponential moving average, TensorBoard-style (debiased), nulls kept as gaps. */
  function smooth(ys, weight) {
    if (!weight) return ys;
    var out = new Array(ys.length);
    var last = 0;
    var n = 0;
    for (var i = 0; i < ys.length; i++) {
      var y = ys[i];
      if (y == null || !Number.isFinite(y)) {
        out[i] = y;
        continue;
      }
      last = last * weight + (1 - weight) * y;
      n++;
      out[i] = last / (1 - Math.pow(weight, n));
    }
    return out;
  }

  function width(el) {
    var w = el.clientWidth || (el.parentNode && el.parentNode.clientWidth) || 640;
    return Math.max(240, Math.min(w, 1400));
  }

  /* Line chart of several series, each with its own x values (runs overlaid).
   *
   * opts: {series: [{label, x: [...], y: [...]}], time: bool (x in epoch seconds),
   *        xLabel, yLabel, height, smoothing (0..0.99), logY: bool (values <= 0 left out),
   *        onZoom(min, max) (null, null on reset)}
   * Returns {plot, update(series), setSmoothing(w), destroy()}.
   */
  function lineChart(el, opts) {
    var raw = opts.series || [];
    var weight = opts.smoothing || 0;
    var zooming = false;

    function positive(ys) {
      return opts.logY
        ? ys.map(function (y) {
            return y != null && y > 0 ? y : null;
          })
        : ys;
    }

    function aligned(series) {
      if (!series.length) return [[]];
      var tables = series.map(function (s) {
        return [s.x, positive(smooth(s.y, weight))];
      });
      return tables.length === 1 ? tables[0] : global.uPlot.join(tables);
    }

    var uopts = {
      width: width(el),
      height: opts.height || 260,
      scales: { x: { time: !!opts.time }, y: opts.logY ? { distr: 3 } : {} },
      cursor: {
        drag: { x: true, y: false, setScale: true },
        bind: {
          dblclick: function () {
            return function () {
              if (opts.onZoom) opts.onZoom(null, null);
              else plot.setData(plot.data, true);
              return null;
            };
          },
        },
      },
      legend: { live: true },
      axes: [
        { label: opts.xLabel || "", stroke: "#444", grid: { stroke: "#eee" } },
        {
          label: opts.yLabel || "",
          stroke: "#444",
          grid: { stroke: "#eee" },
          size: 60,
          values: function (u, splits) {
            return splits.map(fmt);
          },
        },
      ],
      series: [{ label: opts.time ? "time" : opts.xLabel || "step" }].concat(
        raw.map(function (s, i) {
          return {
            label: s.label,
            stroke: color(i),
            width: 1.5,
            spanGaps: true,
            value: function (u, v) {
              return fmt(v);
            },
          };
        })
      ),
      hooks: {
        setSelect: [
          function (u) {
            if (u.select.width > 0) zooming = true;
          },
        ],
        setScale: [
          function (u, key) {
            if (key !== "x" || !zooming) return;
            zooming = false;
            if (opts.onZoom) opts.onZoom(u.scales.x.min, u.scales.x.max);
          },
        ],
      },
    };
    var plot = new global.uPlot(uopts, aligned(raw), el);
    el._mkplot = plot;
    el.setAttribute("data-points", String(countPoints(raw)));
    el.setAttribute("data-series", String(raw.length));

    return {
      plot: plot,
      update: function (series, resetScales) {
        raw = series;
        plot.setData(aligned(raw), resetScales !== false);
        el.setAttribute("data-points", String(countPoints(raw)));
      },
      setSmoothing: function (w) {
        weight = w;
        plot.setData(aligned(raw), false);
      },
      destroy: function () {
        plot.destroy();
      },
    };
  }

  function countPoints(series) {
    var n = 0;
    for (var i = 0; i < series.length; i++) n += series[i].x.length;
    return n;
  }

  function shortLabel(s, max) {
    s = String(s);
    return s.length <= max ? s : s.slice(0, max - 1) + "…";
  }

  /* Grouped bars over categorical bins (the drift histograms: reference vs current).
   *
   * opts: {labels: [...], series: [{label, values: [...]}] (shares 0..1 when percent),
   *        percent: bool, height}
   * The x axis shows every k-th bin label so labels never overlap; the hover legend shows
   * the full label of the bin under the cursor.
   */
  function barChart(el, opts) {
    var labels = opts.labels || [];
    var series = opts.series || [];
    var n = labels.length;
    var w = width(el);
    var maxChars = 16;
    var longest = 0;
    for (var i = 0; i < n; i++) longest = Math.max(longest, Math.min(String(labels[i]).length, maxChars));
    var labelPx = longest * 6.5 + 14;
    var plotPx = Math.max(w - 80, 100);
    var every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(plotPx / labelPx))));
    var xs = labels.map(function (_, j) {
      return j;
    });
    var groups = series.length || 1;
    var size = 0.8 / groups;
    var pct = opts.percent !== false;
    var valueFmt = function (v) {
      if (v == null) return "—";
      return pct ? (v * 100).toFixed(1) + "%" : fmt(v);
    };
    var uopts = {
      width: w,
      height: opts.height || 220,
      scales: {
        x: { time: false, range: [-0.6, n - 0.4] },
        y: {
          range: function (u, min, max) {
            return [0, max > 0 ? max * 1.08 : 1];
          },
        },
      },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      legend: { live: true },
      axes: [
        {
          stroke: "#444",
          grid: { show: false },
          ticks: { show: true },
          splits: function () {
            var out = [];
            for (var j = 0; j < n; j += every) out.push(j);
            return out;
          },
          values: function (u, splits) {
            return splits.map(function (v) {
              return labels[v] == null ? "" : shortLabel(labels[v], maxChars);
            });
          },
        },
        {
          stroke: "#444",
          grid: { stroke: "#eee" },
          size: 56,
          values: function (u, splits) {
            return splits.map(valueFmt);
          },
        },
      ],
      series: [
        {
          label: opts.xLabel || "bin",
          value: function (u, v) {
            return v == null || labels[v] == null ? "—" : String(labels[v]);
          },
        },
      ].concat(
        series.map(function (s, k) {
          var align = groups === 1 ? 0 : k === 0 ? -1 : 1;
          return {
            label: s.label,
            stroke: s.color || color(k),
            fill: (s.color || color(k)) + "cc",
            width: 0,
            points: { show: false },
            paths: global.uPlot.paths.bars({ size: [size, Infinity], align: align, gap: 1 }),
            value: function (u, v) {
              return valueFmt(v);
            },
          };
        })
      ),
    };
    var data = [xs].concat(
      series.map(function (s) {
        return s.values;
      })
    );
    var plot = new global.uPlot(uopts, data, el);
    el._mkplot = plot;
    el.setAttribute("data-bins", String(n));
    el.setAttribute("data-label-every", String(every));
    return { plot: plot, every: every };
  }

  global.MKCharts = {
    barChart: barChart,
    color: color,
    fmt: fmt,
    lineChart: lineChart,
    smooth: smooth,
  };
})(typeof window !== "undefined" ? window : this);

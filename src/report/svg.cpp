// Line charts as inline SVG: axes, ticks, legend, one polyline and markers per series.
//
// The element carries no xmlns attribute: HTML5 puts an inline <svg> in the SVG namespace by
// itself, and report.html must not hold a single "http://" (it is checked to be offline).

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "report/text.hpp"
#include "scalelab/report.hpp"

namespace scalelab {
namespace {

using detail::xml_escape;

// The canvas and the plot area inside it, in SVG user units; the legend sits right of the plot.
constexpr double width = 720, height = 400;
constexpr double plot_left = 72, plot_right = 540, plot_top = 44, plot_bottom = 340;
constexpr double legend_left = 556;

// Okabe & Ito (2008), "Color Universal Design": told apart with every common colour-vision
// deficiency. Yellow is left out, it does not show on white. Solid series take these in order.
constexpr const char* palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                   "#E69F00", "#56B4E9", "#000000"};
// Dashed series are references (ideal, serial), so they take greys of their own: a model keeps
// its colour from chart to chart whether or not a reference line is drawn beside it.
constexpr const char* reference_palette[] = {"#000000", "#666666", "#999999"};
// The ring around an impossible point: a pure red that no series colour is.
constexpr const char* impossible_colour = "#E00000";

// A coordinate with one decimal; never "-0.0", so equal charts give equal bytes.
std::string coord(double v) {
  std::string s = fmt::format("{:.1f}", v);
  if (s == "-0.0") s = "0.0";
  return s;
}

// A worker count or other x value as people write it: "1", "16", "0.5".
std::string x_label_text(double x) {
  if (x == std::round(x) && std::fabs(x) < 1e15) return fmt::format("{:.0f}", x);
  return fmt::format("{:.3g}", x);
}

bool power_of_two(double x) {
  if (x <= 0 || !std::isfinite(x)) return false;
  const double l = std::log2(x);
  return l == std::round(l);
}

// Evenly spaced ticks on a step of 1, 2, 2.5 or 5 × 10^k: the smallest such step that needs at
// most 5 intervals (6 ticks) to cover [low, high]. Going up by at most 2.5× from one candidate
// to the next keeps at least 3 intervals (4 ticks).
struct Ticks {
  double low = 0, high = 1, step = 1;
  int decimals = 0;  // enough to tell two neighbouring labels apart
  std::vector<double> values;
};

Ticks nice_ticks(double low, double high) {
  Ticks t;
  const double range = high - low;
  const int start = static_cast<int>(std::floor(std::log10(range))) - 1;
  for (int k = start; k <= start + 3; ++k) {
    for (const double mantissa : {1.0, 2.0, 2.5, 5.0}) {
      const double step = mantissa * std::pow(10.0, k);
      // The slack keeps 0.30000000000000004 / 0.1 from counting as a fourth interval.
      const double first = std::floor(low / step + 1e-9);
      const double last = std::ceil(high / step - 1e-9);
      if (last - first > 5) continue;
      t.step = step;
      t.low = first * step;
      t.high = last * step;
      t.decimals = std::max(0, -k + (mantissa == 2.5 ? 1 : 0));
      for (double i = first; i <= last; ++i) {
        const double v = i * step;
        t.values.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
      }
      return t;
    }
  }
  // Unreachable for a finite, positive range; keeps the chart drawable if it ever happens.
  t.low = low;
  t.high = high;
  t.values = {low, high};
  return t;
}

struct Point {
  double x, y;
  bool marked;
  bool impossible;
};

// The opening <svg> tag, the white canvas and the chart's title, centred on `title_x`.
std::string chart_head(const Chart& chart, double title_x) {
  std::string out = fmt::format(
      "<svg class=\"chart\" viewBox=\"0 0 {0:.0f} {1:.0f}\" width=\"{0:.0f}\" height=\"{1:.0f}\" "
      "role=\"img\" aria-label=\"{2}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect x=\"0\" y=\"0\" width=\"{0:.0f}\" height=\"{1:.0f}\" fill=\"#ffffff\"/>\n",
      width, height, xml_escape(chart.title));
  out += fmt::format(
      "<text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" "
      "font-weight=\"bold\">{}</text>\n",
      coord(title_x), xml_escape(chart.title));
  return out;
}

std::string empty_chart(const Chart& chart, const char* message) {
  std::string out = chart_head(chart, width / 2);
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555555\">{}</text>\n",
                     coord(width / 2), coord(height / 2), message);
  out += "</svg>\n";
  return out;
}

// The drawable points of each series (finite, and x > 0 on a log scale) and their ranges; x
// as log2 on a log scale.
struct Gathered {
  std::vector<std::vector<Point>> points;
  bool any = false;
  double x_min = 0, x_max = 0, y_min = 0, y_max = 0;
};

Gathered gather(const Chart& chart) {
  Gathered g;
  g.points.resize(chart.series.size());
  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    const ChartSeries& series = chart.series[s];
    const std::size_t n = std::min(series.x.size(), series.y.size());
    for (std::size_t i = 0; i < n; ++i) {
      const double x = series.x[i], y = series.y[i];
      if (!std::isfinite(x) || !std::isfinite(y) || (chart.log_x && x <= 0)) continue;
      const double px = chart.log_x ? std::log2(x) : x;
      if (!g.any) {
        g.x_min = g.x_max = px;
        g.y_min = g.y_max = y;
        g.any = true;
      }
      g.x_min = std::min(g.x_min, px);
      g.x_max = std::max(g.x_max, px);
      g.y_min = std::min(g.y_min, y);
      g.y_max = std::max(g.y_max, y);
      g.points[s].push_back({x, y, i < series.marked.size() && series.marked[i],
                             i < series.impossible.size() && series.impossible[i]});
    }
  }
  return g;
}

// y range: from 0 when asked; a flat range is widened so it still has ticks.
void widen_y(const Chart& chart, double& y_min, double& y_max) {
  if (chart.y_from_zero) {
    y_min = std::min(y_min, 0.0);
    y_max = std::max(y_max, 0.0);
  }
  if (y_max - y_min > 0) return;
  const double pad = y_max == 0 ? 1 : std::fabs(y_max) * 0.1;
  if (chart.y_from_zero && y_max == 0) {
    y_max = 1;
  } else {
    y_max += pad;
    if (!(chart.y_from_zero && y_min == 0)) y_min -= pad;
  }
}

// Ticks of a log2 x axis: few values, a tick at each; many, at the powers of two among them,
// thinned to at most 10.
std::vector<double> log_ticks(const std::vector<std::vector<Point>>& points) {
  std::vector<double> distinct;
  for (const auto& series : points) {
    for (const Point& p : series) distinct.push_back(p.x);
  }
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  if (distinct.size() <= 8) return distinct;
  std::vector<double> ticks;
  for (const double x : distinct) {
    if (power_of_two(x)) ticks.push_back(x);
  }
  if (ticks.size() < 2) ticks = {distinct.front(), distinct.back()};
  while (ticks.size() > 10) {
    std::vector<double> every_other;
    for (std::size_t i = 0; i < ticks.size(); i += 2) every_other.push_back(ticks[i]);
    ticks = every_other;
  }
  return ticks;
}

// Where values land on the plot: the axes' ranges and ticks.
struct Frame {
  bool log_x = true;
  double x_from = 0, x_to = 1;
  Ticks x_linear, y;
  std::vector<double> x_ticks;
  double sx(double x) const {
    const double v = log_x ? std::log2(x) : x;
    return plot_left + (v - x_from) / (x_to - x_from) * (plot_right - plot_left);
  }
  double sy(double v) const {
    return plot_bottom - (v - y.low) / (y.high - y.low) * (plot_bottom - plot_top);
  }
};

// The frame of the gathered points; false when their range does not fit in a double. x:
// log2 of the values on a log scale, where a single x gets one unit of room on each side;
// either way the points stay 4 % clear of the plot's edges so their markers are whole.
bool make_frame(const Chart& chart, Gathered& g, Frame& f) {
  widen_y(chart, g.y_min, g.y_max);
  if (!std::isfinite(g.y_max - g.y_min)) return false;
  f.log_x = chart.log_x;
  f.y = nice_ticks(g.y_min, g.y_max);
  double x_min = g.x_min, x_max = g.x_max;
  if (chart.log_x) {
    f.x_ticks = log_ticks(g.points);
    if (x_max - x_min <= 0) {
      x_min -= 1;
      x_max += 1;
    }
  } else {
    if (x_max - x_min <= 0) {
      const double pad = x_max == 0 ? 1 : std::fabs(x_max) * 0.1;
      x_min -= pad;
      x_max += pad;
    }
    if (!std::isfinite(x_max - x_min)) return false;
    f.x_linear = nice_ticks(x_min, x_max);
    x_min = f.x_linear.low;
    x_max = f.x_linear.high;
    f.x_ticks = f.x_linear.values;
  }
  const double x_pad = (x_max - x_min) * 0.04;
  f.x_from = x_min - x_pad;
  f.x_to = x_max + x_pad;
  return true;
}

// The plot area, both axes with their ticks, and the axis labels.
std::string axes_svg(const Chart& chart, const Frame& f) {
  std::string out = fmt::format(
      "<rect class=\"plot\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#ffffff\" "
      "stroke=\"#cccccc\"/>\n",
      coord(plot_left), coord(plot_top), coord(plot_right - plot_left),
      coord(plot_bottom - plot_top));
  // y axis: grid lines and labels at each tick.
  out += "<g class=\"y-axis\">\n";
  for (const double v : f.y.values) {
    const std::string y = coord(f.sy(v));
    out += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#e5e5e5\"/>"
        "<text x=\"{3}\" y=\"{1}\" dy=\"4\" text-anchor=\"end\">{4:.{5}f}</text>\n",
        coord(plot_left), y, coord(plot_right), coord(plot_left - 6), v, f.y.decimals);
  }
  out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#000000\"/>\n",
                     coord(plot_left), coord(plot_top), coord(plot_bottom));
  out += "</g>\n";
  // x axis: a tick mark and label at each tick.
  out += "<g class=\"x-axis\">\n";
  for (const double v : f.x_ticks) {
    const std::string x = coord(f.sx(v));
    const std::string label =
        f.log_x ? x_label_text(v) : fmt::format("{:.{}f}", v, f.x_linear.decimals);
    out += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#000000\"/>"
        "<text x=\"{0}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
        x, coord(plot_bottom), coord(plot_bottom + 5), coord(plot_bottom + 18), label);
  }
  out += fmt::format("<line x1=\"{0}\" y1=\"{2}\" x2=\"{1}\" y2=\"{2}\" stroke=\"#000000\"/>\n",
                     coord(plot_left), coord(plot_right), coord(plot_bottom));
  out += "</g>\n";
  // Axis labels: x centred under the ticks, y rotated along the left edge.
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     coord((plot_left + plot_right) / 2), coord(plot_bottom + 40),
                     xml_escape(chart.x_label));
  out += fmt::format(
      "<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" transform=\"rotate(-90 {0} {1})\">{2}"
      "</text>\n",
      coord(18), coord((plot_top + plot_bottom) / 2), xml_escape(chart.y_label));
  return out;
}

// One point's marker: hollow when noisy; a red ring around it, whatever its series' colour,
// when impossible: a figure that cannot be true must stand out on every chart that draws it.
std::string marker_svg(const Point& p, const Frame& f, const char* colour, const char* radius) {
  const std::string x = coord(f.sx(p.x)), y = coord(f.sy(p.y));
  std::string out =
      p.marked ? fmt::format(
                     "<circle class=\"noisy\" cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"#ffffff\" "
                     "stroke=\"{}\" stroke-width=\"2\"><title>noisy</title></circle>\n",
                     x, y, radius, colour)
               : fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"/>\n", x, y, radius,
                             colour);
  if (p.impossible) {
    out += fmt::format(
        "<circle class=\"impossible\" cx=\"{}\" cy=\"{}\" r=\"8\" fill=\"none\" "
        "stroke=\"{}\" stroke-width=\"2\"><title>impossible</title></circle>\n",
        x, y, impossible_colour);
  }
  return out;
}

// One series: its line and markers. Reference lines get smaller markers: they are there to
// compare against, not to read.
std::string series_svg(const ChartSeries& series, const std::vector<Point>& points, const Frame& f,
                       const char* colour) {
  const char* dash = series.dashed ? " stroke-dasharray=\"6 4\"" : "";
  std::string out = fmt::format("<g class=\"series\" data-name=\"{}\">\n", xml_escape(series.name));
  if (points.size() >= 2) {
    std::string coords;
    for (const Point& p : points) {
      if (!coords.empty()) coords += ' ';
      coords += coord(f.sx(p.x)) + ',' + coord(f.sy(p.y));
    }
    out +=
        fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}/>\n",
                    coords, colour, dash);
  }
  for (const Point& p : points) out += marker_svg(p, f, colour, series.dashed ? "2.5" : "4");
  return out + "</g>\n";
}

// The legend: each series in its colour and dash, then the marks that appear.
std::string legend_svg(const Chart& chart, const std::vector<const char*>& colours, bool any_marked,
                       bool any_impossible) {
  std::string out = "<g class=\"legend\">\n";
  double legend_y = plot_top + 8;
  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    const ChartSeries& series = chart.series[s];
    const char* dash = series.dashed ? " stroke-dasharray=\"6 4\"" : "";
    const std::string y = coord(legend_y);
    out += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"2\"{4}/>"
        "<circle cx=\"{5}\" cy=\"{1}\" r=\"3\" fill=\"{3}\"/>"
        "<text x=\"{6}\" y=\"{1}\" dy=\"4\">{7}</text>\n",
        coord(legend_left), y, coord(legend_left + 28), colours[s], dash, coord(legend_left + 14),
        coord(legend_left + 36), xml_escape(series.name));
    legend_y += 20;
  }
  if (any_marked) {
    const std::string y = coord(legend_y);
    out += fmt::format(
        "<circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"#ffffff\" stroke=\"#000000\" "
        "stroke-width=\"2\"/><text x=\"{}\" y=\"{}\" dy=\"4\">noisy point</text>\n",
        coord(legend_left + 14), y, coord(legend_left + 36), y);
    legend_y += 20;
  }
  if (any_impossible) {
    const std::string y = coord(legend_y);
    out += fmt::format(
        "<circle cx=\"{}\" cy=\"{}\" r=\"6\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>"
        "<text x=\"{}\" y=\"{}\" dy=\"4\">impossible figure</text>\n",
        coord(legend_left + 14), y, impossible_colour, coord(legend_left + 36), y);
  }
  return out + "</g>\n";
}

}  // namespace

std::string render_svg(const Chart& chart) {
  Gathered g = gather(chart);
  if (!g.any) return empty_chart(chart, "no data");
  Frame frame;
  if (!make_frame(chart, g, frame)) return empty_chart(chart, "values out of range");
  std::string out = chart_head(chart, (plot_left + plot_right) / 2) + axes_svg(chart, frame);
  // Series in their colours: solid ones from the palette, dashed references in greys.
  std::vector<const char*> colours(chart.series.size());
  std::size_t solid = 0, dashed = 0;
  bool any_marked = false, any_impossible = false;
  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    colours[s] = chart.series[s].dashed ? reference_palette[dashed++ % std::size(reference_palette)]
                                        : palette[solid++ % std::size(palette)];
    for (const Point& p : g.points[s]) {
      any_marked = any_marked || p.marked;
      any_impossible = any_impossible || p.impossible;
    }
  }
  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    out += series_svg(chart.series[s], g.points[s], frame, colours[s]);
  }
  out += legend_svg(chart, colours, any_marked, any_impossible);
  return out + "</svg>\n";
}

}  // namespace scalelab

// render_svg: well-formed, escaped, log-scaled worker axis, nice y ticks, legend, dashes,
// hollow noisy markers, and the edge cases (no data, one point, flat, zero, NaN and infinity).

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "report/markup_check.hpp"
#include "scalelab/report.hpp"
#include "support/helpers.hpp"

namespace scalelab {
namespace {

using testing::count_of;
using testing::well_formed;

// The text of one <g class="NAME"> group.
std::string group(const std::string& svg, const std::string& name) {
  const std::size_t start = svg.find("<g class=\"" + name + "\"");
  if (start == std::string::npos) return "";
  return svg.substr(start, svg.find("</g>", start) - start);
}

// The contents of every <text> element of `fragment`, in order.
std::vector<std::string> texts(const std::string& fragment) {
  std::vector<std::string> out;
  for (std::size_t at = fragment.find("<text"); at != std::string::npos;
       at = fragment.find("<text", at)) {
    const std::size_t open_end = fragment.find('>', at);
    const std::size_t close = fragment.find("</text>", open_end);
    if (open_end == std::string::npos || close == std::string::npos) break;
    out.push_back(fragment.substr(open_end + 1, close - open_end - 1));
    at = close;
  }
  return out;
}

// Every value that follows `prefix` in `fragment`, up to the next double quote: with prefix
// `<line x1="`, the x1 of every line that starts with it.
std::vector<std::string> values_after(const std::string& fragment, const std::string& prefix) {
  std::vector<std::string> out;
  for (std::size_t at = fragment.find(prefix); at != std::string::npos;
       at = fragment.find(prefix, at)) {
    at += prefix.size();
    out.push_back(fragment.substr(at, fragment.find('"', at) - at));
  }
  return out;
}

// Built field by field: GCC's -Wmissing-field-initializers objects to aggregate initialisers
// that leave members out, even designated ones.
Chart make_chart(const std::string& title, const std::string& x_label = "x",
                 const std::string& y_label = "y") {
  Chart chart;
  chart.title = title;
  chart.x_label = x_label;
  chart.y_label = y_label;
  return chart;
}

ChartSeries make_series(const std::string& name, std::vector<double> x, std::vector<double> y,
                        std::vector<bool> marked = {}, bool dashed = false) {
  ChartSeries series;
  series.name = name;
  series.x = std::move(x);
  series.y = std::move(y);
  series.marked = std::move(marked);
  series.dashed = dashed;
  return series;
}

Chart scaling_chart() {
  Chart chart = make_chart("cpu: speedup", "workers", "speedup (×)");
  chart.series.push_back(
      make_series("threads", {1, 2, 4, 8}, {1.0, 1.93, 1.95, 1.97}, {false, false, true, false}));
  chart.series.push_back(make_series("processes", {1, 2, 4, 8}, {1.0, 1.9, 1.96, 1.9}));
  chart.series.push_back(make_series("ideal", {1, 2, 4, 8}, {1, 2, 2, 2}, {}, true));
  return chart;
}

TEST(Svg, IsWellFormedWithViewBoxSizeAndWhiteBackground) {
  const std::string svg = render_svg(scaling_chart());
  EXPECT_TRUE(well_formed(svg));
  EXPECT_EQ(svg.rfind("<svg ", 0), 0u) << svg;
  EXPECT_TRUE(testing::contains_all(
      svg, {"viewBox=\"0 0 720 400\"", "width=\"720\"", "height=\"400\"", "fill=\"#ffffff\""}));
  EXPECT_EQ(count_of(svg, "<svg"), 1u);
  EXPECT_EQ(svg.find("http"), std::string::npos) << "no namespace URL in an inline svg";
}

TEST(Svg, EscapesEveryText) {
  Chart chart = make_chart("a<b & \"c\"", "x<", "y&");
  chart.series.push_back(make_series("<&>", {1, 2}, {1, 2}));
  const std::string svg = render_svg(chart);
  EXPECT_TRUE(well_formed(svg));
  EXPECT_TRUE(testing::contains_all(
      svg, {"a&lt;b &amp; &quot;c&quot;", ">x&lt;<", ">y&amp;<", ">&lt;&amp;&gt;<"}));
  EXPECT_EQ(svg.find("<&>"), std::string::npos);
  EXPECT_EQ(svg.find("<b"), std::string::npos);
}

TEST(Svg, LogAxisTicksAtEachWorkerCountWhenFew) {
  const std::string svg = render_svg(scaling_chart());
  EXPECT_EQ(texts(group(svg, "x-axis")), (std::vector<std::string>{"1", "2", "4", "8"}));
  // Equal steps on a log2 axis: 1→2 is as wide as 4→8.
  std::vector<double> xs;
  for (const std::string& x : values_after(group(svg, "x-axis"), "<line x1=\"")) {
    xs.push_back(std::stod(x));
  }
  ASSERT_GE(xs.size(), 4u);
  EXPECT_NEAR(xs[1] - xs[0], xs[3] - xs[2], 0.11);
}

TEST(Svg, LogAxisTicksAtPowersOfTwoWhenMany) {
  Chart chart = make_chart("t", "workers", "s");
  ChartSeries series = make_series("threads", {}, {});
  for (int w = 1; w <= 32; ++w) {
    series.x.push_back(w);
    series.y.push_back(1.0 / w);
  }
  chart.series.push_back(series);
  const std::string svg = render_svg(chart);
  EXPECT_TRUE(well_formed(svg));
  EXPECT_EQ(texts(group(svg, "x-axis")),
            (std::vector<std::string>{"1", "2", "4", "8", "16", "32"}));
}

TEST(Svg, LinearAxisWhenNotLog) {
  Chart chart = make_chart("t");
  chart.log_x = false;
  chart.series.push_back(make_series("s", {0, 10, 20}, {1, 2, 3}));
  const std::string svg = render_svg(chart);
  EXPECT_TRUE(well_formed(svg));
  EXPECT_EQ(texts(group(svg, "x-axis")), (std::vector<std::string>{"0", "5", "10", "15", "20"}));
}

TEST(Svg, YAxisFromZeroWithNiceTicks) {
  const std::vector<std::string> labels = texts(group(render_svg(scaling_chart()), "y-axis"));
  EXPECT_EQ(labels, (std::vector<std::string>{"0.0", "0.5", "1.0", "1.5", "2.0"}));

  // Other ranges: 4 to 6 ticks, every step 1, 2, 2.5 or 5 × 10^k, starting at 0.
  for (const double top : {0.37, 1.0, 4.01, 7.3, 12.0, 32.0, 99.0, 640.0, 0.0021}) {
    Chart chart = make_chart("t");
    chart.series.push_back(make_series("s", {1, 2}, {top / 3, top}));
    const std::vector<std::string> ticks = texts(group(render_svg(chart), "y-axis"));
    ASSERT_GE(ticks.size(), 4u) << top;
    ASSERT_LE(ticks.size(), 6u) << top;
    EXPECT_EQ(std::stod(ticks.front()), 0) << top;
    const double step = std::stod(ticks[1]) - std::stod(ticks[0]);
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    EXPECT_TRUE(std::fabs(mantissa - 1) < 1e-6 || std::fabs(mantissa - 2) < 1e-6 ||
                std::fabs(mantissa - 2.5) < 1e-6 || std::fabs(mantissa - 5) < 1e-6)
        << top << ": step " << step;
    EXPECT_GE(std::stod(ticks.back()), top) << top;
  }
}

TEST(Svg, LabelsTitleAndRotatedYLabel) {
  const std::string svg = render_svg(scaling_chart());
  EXPECT_TRUE(testing::contains_all(
      svg, {">cpu: speedup</text>", ">workers</text>", "rotate(-90", ">speedup (×)</text>"}));
}

TEST(Svg, LegendHasOneEntryPerSeriesWithItsColourAndDash) {
  const std::string svg = render_svg(scaling_chart());
  const std::string legend = group(svg, "legend");
  // Three series and the "noisy point" key, since one point is marked.
  EXPECT_EQ(texts(legend),
            (std::vector<std::string>{"threads", "processes", "ideal", "noisy point"}));
  EXPECT_EQ(count_of(legend, "stroke-dasharray"), 1u);
  // The same colour in the legend as on the series' line.
  const std::string series = group(svg, "series\" data-name=\"threads");
  const std::size_t line_at = series.find("<polyline");
  ASSERT_NE(line_at, std::string::npos) << svg;
  const std::string polyline = series.substr(line_at);
  const std::vector<std::string> strokes =
      values_after(polyline.substr(0, polyline.find('>')), "stroke=\"");
  ASSERT_EQ(strokes.size(), 1u) << series;
  const std::string colour = strokes[0];
  ASSERT_EQ(colour.size(), 7u) << colour;
  EXPECT_EQ(colour[0], '#');
  EXPECT_EQ(colour.find_first_not_of("0123456789ABCDEF", 1), std::string::npos) << colour;
  EXPECT_NE(legend.find("stroke=\"" + colour + "\""), std::string::npos);
}

TEST(Svg, DashedSeriesHaveADashArrayAndOthersDoNot) {
  const std::string svg = render_svg(scaling_chart());
  EXPECT_NE(group(svg, "series\" data-name=\"ideal").find("stroke-dasharray=\"6 4\""),
            std::string::npos);
  EXPECT_EQ(group(svg, "series\" data-name=\"threads").find("stroke-dasharray"), std::string::npos);
  Chart solid = scaling_chart();
  solid.series.pop_back();
  EXPECT_EQ(render_svg(solid).find("stroke-dasharray"), std::string::npos);
}

TEST(Svg, MarkedPointsAreHollowWithANoisyTooltip) {
  const std::string svg = render_svg(scaling_chart());
  const std::string threads = group(svg, "series\" data-name=\"threads");
  EXPECT_EQ(count_of(threads, "<circle"), 4u);
  EXPECT_EQ(count_of(threads, "class=\"noisy\""), 1u);
  EXPECT_EQ(count_of(svg, "<title>noisy</title>"), 1u);
  EXPECT_NE(threads.find("fill=\"#ffffff\" stroke="), std::string::npos);
  Chart quiet = scaling_chart();
  quiet.series[0].marked = {};
  EXPECT_EQ(render_svg(quiet).find("noisy"), std::string::npos);
}

TEST(Svg, ImpossiblePointsAreCircledRedWithALegendKey) {
  Chart chart = scaling_chart();
  chart.series[1].impossible = {false, true};  // shorter than the points: the rest are not
  const std::string svg = render_svg(chart);
  const std::string processes = group(svg, "series\" data-name=\"processes");
  EXPECT_EQ(count_of(processes, "class=\"impossible\""), 1u);
  EXPECT_EQ(count_of(svg, "<title>impossible</title>"), 1u);
  EXPECT_EQ(count_of(group(svg, "series\" data-name=\"threads"), "impossible"), 0u);
  EXPECT_EQ(texts(group(svg, "legend")),
            (std::vector<std::string>{"threads", "processes", "ideal", "noisy point",
                                      "impossible figure"}));
  // The ring sits on the point it flags: the 1.9× at 2 workers, the series' second marker.
  const std::vector<std::string> cx = values_after(processes, "cx=\"");
  ASSERT_GE(cx.size(), 3u);
  EXPECT_EQ(cx[1], cx[2]);
  EXPECT_EQ(render_svg(scaling_chart()).find("impossible"), std::string::npos);
}

TEST(Svg, NoSeriesOrNoPointsSaysNoData) {
  Chart no_points = make_chart("empty");
  no_points.series.push_back(make_series("threads", {}, {}));
  for (const Chart& chart : {make_chart("empty"), no_points}) {
    const std::string svg = render_svg(chart);
    EXPECT_TRUE(well_formed(svg));
    EXPECT_NE(svg.find(">no data</text>"), std::string::npos) << svg;
    EXPECT_NE(svg.find("viewBox"), std::string::npos);
    EXPECT_EQ(svg.find("<polyline"), std::string::npos);
  }
}

TEST(Svg, SinglePointHasAMarkerAndNoLine) {
  Chart chart = make_chart("one", "workers", "s");
  chart.series.push_back(make_series("serial", {1}, {0.5}));
  const std::string svg = render_svg(chart);
  EXPECT_TRUE(well_formed(svg));
  const std::string series = group(svg, "series");
  EXPECT_EQ(count_of(series, "<circle"), 1u);
  EXPECT_EQ(count_of(series, "<polyline"), 0u);
  EXPECT_EQ(texts(group(svg, "x-axis")), std::vector<std::string>{"1"});
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
}

TEST(Svg, FlatAndZeroAndNegativeValuesStillHaveTicks) {
  for (const std::vector<double>& ys : std::vector<std::vector<double>>{
           {3, 3, 3}, {0, 0, 0}, {-1, -2, -0.5}, {1e-12, 2e-12, 3e-12}, {5e9, 6e9, 7e9}}) {
    for (const bool from_zero : {true, false}) {
      Chart chart = make_chart("t");
      chart.y_from_zero = from_zero;
      chart.series.push_back(make_series("s", {1, 2, 4}, ys));
      const std::string svg = render_svg(chart);
      EXPECT_TRUE(well_formed(svg)) << ys[0];
      const std::vector<std::string> ticks = texts(group(svg, "y-axis"));
      EXPECT_GE(ticks.size(), 2u) << ys[0];
      EXPECT_LE(ticks.size(), 6u) << ys[0];
      EXPECT_EQ(count_of(group(svg, "series"), "<circle"), 3u) << ys[0];
      EXPECT_EQ(svg.find("nan"), std::string::npos) << svg;
      EXPECT_EQ(svg.find("-0.0\""), std::string::npos) << svg;
    }
  }
}

TEST(Svg, NonFiniteAndNonPositiveLogValuesAreSkipped) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  Chart chart = make_chart("t");
  chart.series.push_back(make_series("s", {0, 1, 2, 4, 8, inf}, {1, 1, nan, 3, inf, 2}));
  const std::string svg = render_svg(chart);
  EXPECT_TRUE(well_formed(svg));
  // Left: x=1 and x=4; x=0 has no log, the rest are not finite.
  EXPECT_EQ(count_of(group(svg, "series"), "<circle"), 2u);
  EXPECT_EQ(texts(group(svg, "x-axis")), (std::vector<std::string>{"1", "4"}));
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);

  Chart only_bad = make_chart("t");
  only_bad.series.push_back(make_series("s", {1, 2}, {nan, inf}));
  EXPECT_NE(render_svg(only_bad).find("no data"), std::string::npos);
}

TEST(Svg, SameChartSameBytes) {
  EXPECT_EQ(render_svg(scaling_chart()), render_svg(scaling_chart()));
}

}  // namespace
}  // namespace scalelab

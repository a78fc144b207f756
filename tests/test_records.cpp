// Records on disk: the streamed JSON Lines file, the per-trial CSV, the JSON file, and the
// environment they record.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scalelab/analysis.hpp"
#include "scalelab/error.hpp"
#include "scalelab/records.hpp"
#include "scalelab/trial.hpp"
#include "support/helpers.hpp"

namespace {

namespace fs = std::filesystem;

using scalelab::testing::has_keys;
using scalelab::testing::lines_of;
using scalelab::testing::parse_csv;
using scalelab::testing::read_file;

// A fresh folder `dir_` per test under the system temp folder, removed afterwards.
using RecordsTest = scalelab::testing::ScratchDirTest;

// Where column `name` sits in a CSV header (header.size() when it is missing), so that tests
// look fields up by name rather than by a position the writer is free to change.
std::size_t column_of(const std::vector<std::string>& header, const std::string& name) {
  return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
}

scalelab::Trial sample_trial(const std::string& model, int workers, int repeat,
                             const std::string& error = "") {
  scalelab::Trial t;
  t.workload = "cpu";
  t.model = model;
  t.workers = workers;
  t.repeat = repeat;
  t.tasks = 4;
  t.tasks_done = error.empty() ? 4 : 3;
  t.wall_s = 0.25;
  t.startup_s = 0.001;
  t.user_s = 0.4;
  t.sys_s = 0.1;
  t.voluntary_ctx = 12;
  t.involuntary_ctx = 3;
  t.max_rss_kib = 4096;
  t.max_in_flight = workers;
  t.checksum_ok = error.empty();
  t.error = error;
  for (const double d : {0.1, 0.1, 0.1, 0.15}) t.task_duration.add(d);
  for (const double d : {0.0, 0.0, 0.0, 0.0}) t.start_delay.add(d);
  return t;
}

const nlohmann::json kSpec = {{"workloads", {"cpu"}}, {"models", {"serial", "threads"}}};
const nlohmann::json kEnvironment = {{"cpu_model", "test cpu"}, {"logical_cores", 2}};

// --- RecordWriter ---------------------------------------------------------------------------

TEST_F(RecordsTest, RecordWriterWritesAHeaderThenOneLinePerTrialFlushedAtOnce) {
  const fs::path path = dir_ / "results.jsonl";
  scalelab::RecordWriter writer(path);
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(read_file(path), "");

  scalelab::RunHeader written;
  written.spec = kSpec;
  written.environment = kEnvironment;
  written.planned_trials = 2;
  written.warmup_trials = 1;
  writer.header(written);
  // Read back while the writer is still alive: the line must already be on disk.
  auto text = read_file(path);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  auto lines = lines_of(text);
  ASSERT_EQ(lines.size(), 1u);
  const auto header = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(header.at("type"), "header");
  EXPECT_EQ(header.at("spec"), kSpec);
  EXPECT_EQ(header.at("environment"), kEnvironment);
  EXPECT_EQ(header.at("planned_trials"), 2);
  EXPECT_EQ(header.at("warmup_trials"), 1);
  EXPECT_EQ(header.at("kind"), "sweep");

  writer.trial(sample_trial("serial", 1, 0));
  lines = lines_of(read_file(path));
  ASSERT_EQ(lines.size(), 2u);

  writer.trial(sample_trial("threads", 2, 0, "task 3 threw: boom at task 3"));
  text = read_file(path);
  EXPECT_EQ(text.back(), '\n');
  lines = lines_of(text);
  ASSERT_EQ(lines.size(), 3u);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    nlohmann::json line;
    ASSERT_NO_THROW(line = nlohmann::json::parse(lines[i])) << lines[i];
    EXPECT_EQ(line.at("type"), "trial");
    EXPECT_EQ(line.at("workload"), "cpu");
  }
  const auto first = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(first.at("model"), "serial");
  EXPECT_EQ(first.at("workers"), 1);
  EXPECT_EQ(first.at("repeat"), 0);
  EXPECT_EQ(first.at("tasks"), 4);
  EXPECT_DOUBLE_EQ(first.at("wall_s").get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(first.at("user_s").get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(first.at("sys_s").get<double>(), 0.1);
  EXPECT_EQ(first.at("voluntary_ctx"), 12);
  EXPECT_EQ(first.at("involuntary_ctx"), 3);
  EXPECT_EQ(first.at("max_rss_kib"), 4096);
  EXPECT_EQ(first.at("checksum_ok"), true);
  EXPECT_TRUE(first.at("error").is_null());
  EXPECT_EQ(first.at("task_duration").at("count"), 4);
  EXPECT_FALSE(first.contains("task_end_s"));  // spans stay out of the trial line

  const auto second = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(second.at("model"), "threads");
  ASSERT_TRUE(second.at("error").is_string());
  EXPECT_EQ(second.at("error"), "task 3 threw: boom at task 3");
  EXPECT_EQ(second.at("checksum_ok"), false);
}

TEST_F(RecordsTest, RecordWriterTruncatesAnExistingFile) {
  const fs::path path = dir_ / "results.jsonl";
  std::ofstream(path) << "stale line\nanother\n";
  scalelab::RecordWriter writer(path);
  EXPECT_EQ(read_file(path), "");
  writer.trial(sample_trial("serial", 1, 0));
  EXPECT_EQ(lines_of(read_file(path)).size(), 1u);
}

TEST_F(RecordsTest, RecordWriterKeepsOneRecordPerLineWhateverTheErrorText) {
  const fs::path path = dir_ / "results.jsonl";
  scalelab::RecordWriter writer(path);
  writer.trial(sample_trial("serial", 1, 0, "line one\nline two, \"quoted\"\ttab"));
  writer.trial(sample_trial("serial", 1, 1, std::string("bad byte \xff here")));
  const auto lines = lines_of(read_file(path));
  ASSERT_EQ(lines.size(), 2u);
  nlohmann::json first;
  ASSERT_NO_THROW(first = nlohmann::json::parse(lines[0]));
  EXPECT_EQ(first.at("error"), "line one\nline two, \"quoted\"\ttab");
  nlohmann::json second;
  ASSERT_NO_THROW(second = nlohmann::json::parse(lines[1])) << "invalid UTF-8 must not break";
  EXPECT_TRUE(second.at("error").is_string());
}

TEST_F(RecordsTest, RecordWriterThrowsErrorForAnUnwritablePath) {
  EXPECT_THROW(scalelab::RecordWriter(dir_ / "missing" / "results.jsonl"), scalelab::Error);
}

TEST(RecordsTrialJson, ErrorIsNullWhenEmptyAndAStringOtherwise) {
  EXPECT_TRUE(scalelab::to_json(sample_trial("serial", 1, 0)).at("error").is_null());
  const auto json = scalelab::to_json(sample_trial("serial", 1, 0, "boom"));
  EXPECT_EQ(json.at("error"), "boom");
  EXPECT_EQ(scalelab::to_json(sample_trial("serial", 1, -1)).at("warmup"), true);
  EXPECT_EQ(scalelab::to_json(sample_trial("serial", 1, 0)).at("warmup"), false);
}

// --- write_trials_csv -----------------------------------------------------------------------

TEST_F(RecordsTest, CsvHasAHeaderAndOneRowPerTrial) {
  const fs::path path = dir_ / "results.csv";
  const std::vector<scalelab::Trial> trials{sample_trial("serial", 1, 0),
                                            sample_trial("threads", 2, 0),
                                            sample_trial("threads", 2, 1, "boom")};
  scalelab::write_trials_csv(path, trials);
  const std::string text = read_file(path);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  const auto csv = parse_csv(text);
  ASSERT_TRUE(csv.has_value()) << "unterminated quote";
  const auto& rows = *csv;
  ASSERT_EQ(rows.size(), 1 + trials.size());
  const auto& header = rows[0];
  for (const char* column :
       {"workload", "model", "workers", "repeat", "tasks", "wall_s", "user_s", "sys_s",
        "voluntary_ctx", "involuntary_ctx", "max_rss_kib", "checksum_ok", "error"}) {
    EXPECT_NE(std::find(header.begin(), header.end(), column), header.end()) << column;
  }
  const auto column = [&](const std::string& name) { return column_of(header, name); };
  for (std::size_t i = 1; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), header.size()) << "row " << i;
    const auto& t = trials[i - 1];
    EXPECT_EQ(rows[i][column("workload")], t.workload);
    EXPECT_EQ(rows[i][column("model")], t.model);
    EXPECT_EQ(rows[i][column("workers")], std::to_string(t.workers));
    EXPECT_EQ(rows[i][column("repeat")], std::to_string(t.repeat));
    EXPECT_DOUBLE_EQ(std::stod(rows[i][column("wall_s")]), t.wall_s);
    EXPECT_EQ(rows[i][column("max_rss_kib")], "4096");
    EXPECT_EQ(rows[i][column("checksum_ok")], t.checksum_ok ? "true" : "false");
    EXPECT_EQ(rows[i][column("error")], t.error);
  }
}

TEST_F(RecordsTest, CsvQuotesFieldsWithCommasQuotesAndNewlines) {
  const fs::path path = dir_ / "results.csv";
  scalelab::Trial odd =
      sample_trial("my,model", 2, 0, "checksum mismatch, \"task 0\"\nsecond line");
  odd.workload = "say \"hi\"";
  scalelab::write_trials_csv(path, {odd, sample_trial("serial", 1, 0, "plain")});
  const auto csv = parse_csv(read_file(path));
  ASSERT_TRUE(csv.has_value()) << "unterminated quote";
  const auto& rows = *csv;
  ASSERT_EQ(rows.size(), 3u);
  const auto& header = rows[0];
  ASSERT_EQ(rows[1].size(), header.size());
  ASSERT_EQ(rows[2].size(), header.size());
  const auto column = [&](const std::string& name) { return column_of(header, name); };
  EXPECT_EQ(rows[1][column("workload")], "say \"hi\"");
  EXPECT_EQ(rows[1][column("model")], "my,model");
  EXPECT_EQ(rows[1][column("error")], "checksum mismatch, \"task 0\"\nsecond line");
  EXPECT_EQ(rows[2][column("error")], "plain");
  // A field without special characters is written as is.
  EXPECT_NE(read_file(path).find(",plain,"), std::string::npos);
}

TEST_F(RecordsTest, CsvHasEveryAttemptWithItsDisturbanceFigures) {
  const fs::path path = dir_ / "results.csv";
  scalelab::Trial first = sample_trial("threads", 2, 0);
  first.disturbed = true;
  first.run_delay_s = 0.0125;
  first.steal_s = 0.002;
  first.cpu_window_s = 0.26;
  scalelab::Trial rerun = sample_trial("threads", 2, 0);
  rerun.attempt = 1;
  scalelab::write_trials_csv(path, {first, rerun});
  const auto csv = parse_csv(read_file(path));
  ASSERT_TRUE(csv.has_value());
  const auto& rows = *csv;
  ASSERT_EQ(rows.size(), 3u);
  const auto column = [&](const std::string& name) { return column_of(rows[0], name); };
  for (const char* name : {"attempt", "disturbed", "run_delay_s", "steal_s", "cpu_window_s"}) {
    ASSERT_LT(column(name), rows[0].size()) << name;
  }
  EXPECT_EQ(rows[1][column("attempt")], "0");
  EXPECT_EQ(rows[1][column("disturbed")], "true");
  EXPECT_DOUBLE_EQ(std::stod(rows[1][column("run_delay_s")]), 0.0125);
  EXPECT_DOUBLE_EQ(std::stod(rows[1][column("steal_s")]), 0.002);
  EXPECT_DOUBLE_EQ(std::stod(rows[1][column("cpu_window_s")]), 0.26);
  EXPECT_NEAR(std::stod(rows[1][column("cpu_util")]), 0.5 / 0.26, 1e-5);  // 6 digits
  EXPECT_EQ(rows[2][column("attempt")], "1");
  EXPECT_EQ(rows[2][column("disturbed")], "false");
  EXPECT_EQ(rows[2][column("run_delay_s")], "0");
}

TEST_F(RecordsTest, CsvWithoutTrialsIsJustTheHeader) {
  const fs::path path = dir_ / "results.csv";
  scalelab::write_trials_csv(path, {});
  const auto lines = lines_of(read_file(path));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("workload,model,workers", 0), 0u) << lines[0];
}

// A final file that cannot be written fails the run (exit 1), not the user's input (exit 2).
TEST_F(RecordsTest, CsvThrowsForAnUnwritablePath) {
  EXPECT_THROW(scalelab::write_trials_csv(dir_ / "missing" / "results.csv", {}),
               std::runtime_error);
}

// --- write_json_file ------------------------------------------------------------------------

TEST_F(RecordsTest, JsonFileRoundTrips) {
  const fs::path path = dir_ / "results.json";
  const nlohmann::json json = {{"trials", nlohmann::json::array({1, 2})}, {"name", "x,\"y\""}};
  scalelab::write_json_file(path, json);
  EXPECT_EQ(nlohmann::json::parse(read_file(path)), json);
}

TEST_F(RecordsTest, JsonFileThrowsForAnUnwritablePath) {
  EXPECT_THROW(scalelab::write_json_file(dir_ / "missing" / "results.json", {{"a", 1}}),
               std::runtime_error);
}

// --- environment ----------------------------------------------------------------------------

TEST(RecordsEnvironment, HasTheDocumentedKeys) {
  const auto env = scalelab::collect_environment();
  ASSERT_TRUE(env.is_object());
  EXPECT_TRUE(has_keys(env, {"cpu_model", "logical_cores", "physical_cores", "kernel", "compiler",
                             "build_type", "scalelab_version"}));
  EXPECT_TRUE(env.at("cpu_model").is_string());
  EXPECT_FALSE(env.at("cpu_model").get<std::string>().empty());
  EXPECT_TRUE(env.at("kernel").is_string());
  EXPECT_TRUE(env.at("compiler").is_string());
  EXPECT_TRUE(env.at("build_type").is_string());
  EXPECT_EQ(env.at("scalelab_version"), scalelab::version());
}

TEST(RecordsEnvironment, CoreCountsAreSensible) {
  const auto env = scalelab::collect_environment();
  ASSERT_TRUE(env.at("logical_cores").is_number_integer());
  ASSERT_TRUE(env.at("physical_cores").is_number_integer());
  const auto logical = env.at("logical_cores").get<long>();
  const auto physical = env.at("physical_cores").get<long>();
  EXPECT_GE(logical, 1);
  EXPECT_GE(physical, 1);
  EXPECT_LE(physical, logical);
  EXPECT_EQ(logical, ::sysconf(_SC_NPROCESSORS_ONLN));
}

TEST(RecordsEnvironment, VersionLooksLikeMajorMinorPatch) {
  const std::string version = scalelab::version();
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    const std::size_t dot = version.find('.', start);
    parts.push_back(version.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  ASSERT_EQ(parts.size(), 3u) << version;
  for (const std::string& part : parts) {
    EXPECT_FALSE(part.empty()) << version;
    EXPECT_EQ(part.find_first_not_of("0123456789"), std::string::npos) << version;
  }
}

// --- Reading records back -------------------------------------------------------------------

std::string header_line(std::size_t planned) {
  return nlohmann::json{{"type", "header"},
                        {"spec", kSpec},
                        {"environment", kEnvironment},
                        {"planned_trials", planned}}
             .dump() +
         "\n";
}

std::string trial_line(const scalelab::Trial& t) {
  nlohmann::json json{{"type", "trial"}};
  json.update(scalelab::to_json(t));
  return json.dump() + "\n";
}

TEST(TrialJson, ARecordFromBeforeIssue14GetsHistogramsFromItsSpans) {
  auto json = scalelab::to_json(sample_trial("threads", 2, 0));
  json.erase("task_duration");
  json.erase("start_delay");
  json["task_start_s"] = {0.0, 0.0, 0.1, 0.12};
  json["task_end_s"] = {0.1, 0.1, 0.2, 0.25};
  const auto back = scalelab::trial_from_json(json);
  EXPECT_EQ(back.task_duration.count(), 4u);
  EXPECT_NEAR(back.task_duration.max_s(), 0.13, 1e-9);
  EXPECT_EQ(back.start_delay.count(), 4u);
  EXPECT_NEAR(back.start_delay.max_s(), 0.02, 1e-9);  // the 4th started 0.02 s after a worker freed
  EXPECT_EQ(back.task_start_s.size(), 4u);
}

TEST(TrialJson, AMalformedHistogramIsRefusedNamingIt) {
  auto json = scalelab::to_json(sample_trial("threads", 2, 0));
  json["start_delay"] = {{"buckets", "none"}};
  try {
    (void)scalelab::trial_from_json(json);
    ADD_FAILURE() << "accepted";
  } catch (const scalelab::Error& e) {
    EXPECT_NE(std::string(e.what()).find("start_delay"), std::string::npos) << e.what();
  }
}

TEST(ReadRecords, TrialsRoundTripThroughTheirJsonLine) {
  auto t = sample_trial("threads", 2, 1, "task 3 threw: boom");
  t.counters = {{"gil_switches", 12}, {"gil_wait_s", 0.25}};
  const auto back = scalelab::trial_from_json(scalelab::to_json(t));
  EXPECT_EQ(back.workload, t.workload);
  EXPECT_EQ(back.model, t.model);
  EXPECT_EQ(back.workers, t.workers);
  EXPECT_EQ(back.repeat, t.repeat);
  EXPECT_EQ(back.tasks, t.tasks);
  EXPECT_EQ(back.tasks_done, t.tasks_done);
  EXPECT_EQ(back.wall_s, t.wall_s);  // exact: JSON numbers round-trip doubles
  EXPECT_EQ(back.user_s, t.user_s);
  EXPECT_EQ(back.max_rss_kib, t.max_rss_kib);
  EXPECT_EQ(back.counters, t.counters);
  EXPECT_EQ(back.error, t.error);
  EXPECT_EQ(back.checksum_ok, t.checksum_ok);
  EXPECT_EQ(back.task_duration, t.task_duration);
  EXPECT_EQ(back.start_delay, t.start_delay);
}

TEST(ReadRecords, ATrialWithAMissingOrWrongFieldIsRejectedNamingTheField) {
  auto json = scalelab::to_json(sample_trial("threads", 2, 0));
  const auto rejects = [](nlohmann::json j, const std::string& field) {
    try {
      scalelab::trial_from_json(j);
    } catch (const scalelab::Error& e) {
      return std::string(e.what()).find(field) != std::string::npos;
    }
    return false;
  };
  auto missing = json;
  missing.erase("wall_s");
  EXPECT_TRUE(rejects(missing, "wall_s"));
  auto wrong = json;
  wrong["workers"] = "two";
  EXPECT_TRUE(rejects(wrong, "workers"));
  auto huge = json;
  huge["workers"] = 1e300;
  EXPECT_TRUE(rejects(huge, "workers"));
  auto negative = json;
  negative["tasks"] = -1;
  EXPECT_TRUE(rejects(negative, "tasks"));
  // 2^63 and 2^64 pass a "<= max" test once max is rounded to a double, and converting them
  // would overflow (undefined behaviour; found by fuzz_records).
  auto two_to_63 = json;
  two_to_63["voluntary_ctx"] = 9223372036854775808.0;
  EXPECT_TRUE(rejects(two_to_63, "voluntary_ctx"));
  auto two_to_64 = json;
  two_to_64["tasks"] = 18446744073709551616.0;
  EXPECT_TRUE(rejects(two_to_64, "tasks"));
  auto zero_workers = json;
  zero_workers["workers"] = 0;
  EXPECT_TRUE(rejects(zero_workers, "workers"));
  auto counter = json;
  counter["counters"] = {{"gil_switches", "many"}};
  EXPECT_TRUE(rejects(counter, "gil_switches"));
  EXPECT_TRUE(rejects(nlohmann::json::array(), "object"));
}

TEST(ReadRecords, ParsesTheHeaderAndCountedTrialsSkippingWarmUps) {
  const std::string text = header_line(2) + trial_line(sample_trial("serial", 1, -1)) +
                           trial_line(sample_trial("serial", 1, 0)) +
                           trial_line(sample_trial("threads", 2, 0));
  const auto run = scalelab::parse_records(text, "results.jsonl");
  EXPECT_EQ(run.header.spec, kSpec);
  ASSERT_EQ(run.trials.size(), 2u);
  EXPECT_EQ(run.trials[0].model, "serial");
  EXPECT_EQ(run.trials[1].model, "threads");
  EXPECT_TRUE(run.warnings.empty());
  EXPECT_FALSE(run.interrupted);
}

TEST(ReadRecords, ReranAttemptsOfOneTrialDoNotMakeUpForAMissingOne) {
  // Two planned trials, one on record twice (a disturbed attempt and its rerun): interrupted.
  auto first = sample_trial("serial", 1, 0);
  first.disturbed = true;
  auto rerun = sample_trial("serial", 1, 0);
  rerun.attempt = 1;
  const auto run = scalelab::parse_records(header_line(2) + trial_line(first) + trial_line(rerun),
                                           "results.jsonl");
  ASSERT_EQ(run.trials.size(), 2u);
  EXPECT_EQ(scalelab::planned_on_record(run.trials), 1u);
  EXPECT_TRUE(run.interrupted);
  EXPECT_EQ(scalelab::analyze_run(run).recorded_trials, 1u);
}

TEST(ReadRecords, TrialsOfTheSameRepeatAtDifferentPointsAreDifferentTrials) {
  auto small = sample_trial("serial", 1, 0);
  small.point = {{"task_s", 0.001}};
  auto large = sample_trial("serial", 1, 0);
  large.point = {{"task_s", 0.01}};
  EXPECT_EQ(scalelab::planned_on_record({small, large}), 2u);
  EXPECT_EQ(scalelab::trial_from_json(scalelab::to_json(small)).point, small.point);
}

TEST(ReadRecords, ATornLastLineIsSkippedWithAWarning) {
  const std::string whole = trial_line(sample_trial("threads", 2, 0));
  const std::string text = header_line(2) + trial_line(sample_trial("serial", 1, 0)) +
                           whole.substr(0, whole.size() / 2);  // cut off mid-write
  const auto run = scalelab::parse_records(text, "results.jsonl");
  ASSERT_EQ(run.trials.size(), 1u);
  ASSERT_EQ(run.warnings.size(), 1u);
  EXPECT_NE(run.warnings[0].find("line 3 is torn"), std::string::npos) << run.warnings[0];
  EXPECT_TRUE(run.interrupted);  // 1 of 2 planned trials
}

TEST(ReadRecords, DamagedLinesInTheMiddleAreSkippedWithAWarningEach) {
  auto bad_trial = scalelab::to_json(sample_trial("threads", 2, 1));
  bad_trial["type"] = "trial";
  bad_trial.erase("model");
  const std::string text = header_line(3) + "{not json\n" + bad_trial.dump() + "\n" +
                           R"({"type":"mystery"})"
                           "\n" +
                           trial_line(sample_trial("serial", 1, 0));
  const auto run = scalelab::parse_records(text, "r.jsonl");
  EXPECT_EQ(run.trials.size(), 1u);
  ASSERT_EQ(run.warnings.size(), 3u);
  EXPECT_NE(run.warnings[0].find("line 2 is not valid JSON"), std::string::npos);
  EXPECT_NE(run.warnings[1].find("'model'"), std::string::npos);
  EXPECT_NE(run.warnings[2].find("line 4"), std::string::npos);
}

TEST(ReadRecords, AnEndRecordMarkedInterruptedMarksTheRun) {
  const std::string text = header_line(1) + trial_line(sample_trial("serial", 1, 0)) +
                           R"({"type":"end","interrupted":true})"
                           "\n";
  EXPECT_TRUE(scalelab::parse_records(text, "r").interrupted);
  const std::string complete = header_line(1) + trial_line(sample_trial("serial", 1, 0)) +
                               R"({"type":"end","interrupted":false})"
                               "\n";
  EXPECT_FALSE(scalelab::parse_records(complete, "r").interrupted);
}

TEST(ReadRecords, TextWithoutAHeaderIsAnError) {
  EXPECT_THROW(scalelab::parse_records("", "r"), scalelab::Error);
  EXPECT_THROW(scalelab::parse_records("\n\n", "r"), scalelab::Error);
  EXPECT_THROW(scalelab::parse_records(trial_line(sample_trial("serial", 1, 0)), "r"),
               scalelab::Error);
  EXPECT_THROW(scalelab::parse_records("[1,2,3]\n", "r"), scalelab::Error);
  EXPECT_THROW(scalelab::parse_records(R"({"type":"header"})"
                                       "\n",
                                       "r"),
               scalelab::Error);
}

TEST_F(RecordsTest, ReadRecordsTakesAFolderOrItsFileAndNamesAMissingOne) {
  {
    std::ofstream out(dir_ / "results.jsonl");
    out << header_line(1) << trial_line(sample_trial("serial", 1, 0));
  }
  EXPECT_EQ(scalelab::read_records(dir_).trials.size(), 1u);
  EXPECT_EQ(scalelab::read_records(dir_ / "results.jsonl").trials.size(), 1u);
  try {
    scalelab::read_records(dir_ / "nowhere");
    ADD_FAILURE() << "no error";
  } catch (const scalelab::Error& e) {
    EXPECT_NE(std::string(e.what()).find("nowhere"), std::string::npos);
  }
}

TEST_F(RecordsTest, AppendingCutsATornLastLineFirst) {
  const fs::path path = dir_ / "results.jsonl";
  const std::string whole = trial_line(sample_trial("threads", 2, 0));
  {
    std::ofstream out(path, std::ios::binary);
    out << header_line(2) << whole.substr(0, 10);
  }
  {
    scalelab::RecordWriter writer(path, scalelab::RecordWriter::Mode::append);
    writer.trial(sample_trial("threads", 2, 0));
    writer.record("end", {{"interrupted", false}});
  }
  const auto run = scalelab::read_records(path);
  EXPECT_TRUE(run.warnings.empty()) << run.warnings.front();
  EXPECT_EQ(run.trials.size(), 1u);
  EXPECT_EQ(lines_of(read_file(path)).size(), 3u);
}

TEST_F(RecordsTest, FinalFilesAreWrittenWholeWithNoTemporaryLeftBehind) {
  const fs::path path = dir_ / "results.json";
  scalelab::write_json_file(path, {{"a", 1}});
  scalelab::write_json_file(path, {{"a", 2}});
  EXPECT_EQ(nlohmann::json::parse(read_file(path)).at("a"), 2);
  EXPECT_FALSE(fs::exists(dir_ / "results.json.tmp"));
  EXPECT_THROW(scalelab::write_file_atomically(dir_ / "no-such-folder" / "x", "text"),
               std::runtime_error);
}

// --- Environment warnings -------------------------------------------------------------------

TEST(RecordsEnvironment, WarnsAboutTheGovernorAndABusyMachineOnly) {
  nlohmann::json calm = {{"governor", "performance"},
                         {"load_avg_1m", 0.2},
                         {"logical_cores", 4},
                         {"load_per_core", 0.05},
                         {"cpu_busy_at_start", 0.01}};
  EXPECT_TRUE(scalelab::environment_warnings(calm).empty());

  auto powersave = calm;
  powersave["governor"] = "powersave";
  auto w = scalelab::environment_warnings(powersave);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("'powersave'"), std::string::npos);

  auto unknown = calm;
  unknown["governor"] = "unknown";
  ASSERT_EQ(scalelab::environment_warnings(unknown).size(), 1u);

  auto busy = calm;
  busy["load_avg_1m"] = 3.2;
  busy["load_per_core"] = 0.8;
  w = scalelab::environment_warnings(busy);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("3.20"), std::string::npos) << w[0];
  EXPECT_NE(w[0].find("0.80 per core"), std::string::npos) << w[0];

  auto sampled = calm;
  sampled["cpu_busy_at_start"] = 0.9;
  w = scalelab::environment_warnings(sampled);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("90 %"), std::string::npos) << w[0];
}

TEST(RecordsEnvironment, RecordsFrequencyLoadAndBusyness) {
  const auto env = scalelab::collect_environment();
  EXPECT_TRUE(has_keys(env, {"governor", "cpu_mhz", "load_avg_1m", "load_per_core",
                             "cpu_busy_at_start", "busy", "warnings"}));
  EXPECT_TRUE(env.at("busy").is_boolean());
  EXPECT_TRUE(env.at("warnings").is_array());
  EXPECT_GE(env.at("cpu_busy_at_start").get<double>(), 0.0);
  EXPECT_LE(env.at("cpu_busy_at_start").get<double>(), 1.0);
}

}  // namespace

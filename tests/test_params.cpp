// Declared parameters (src/support/params.cpp), their gathering (src/sweep/plugins.cpp), and
// what a plug-in's declaration alone gives it end to end: a flag, its help and `list` line,
// parsing and the exit-2 line, the record field, resume and the report's line.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "scalelab/cli.hpp"
#include "scalelab/scalelab.hpp"
#include "support/helpers.hpp"

namespace scalelab {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

Param param(const char* name, ParamKind kind, const char* default_text) {
  return Param{name, kind, default_text, "help"};
}

TEST(Param, KeyIsTheNameWithUnderscoresAndSecondsForDurations) {
  EXPECT_EQ(param("io-wait", ParamKind::duration, "20ms").key(), "io_wait_s");
  EXPECT_EQ(param("cpu-fraction", ParamKind::fraction, "0.5").key(), "cpu_fraction");
  EXPECT_EQ(param("cpu-work", ParamKind::work, "15ms").key(), "cpu_work");
  EXPECT_EQ(param("chunk", ParamKind::count, "1").flag(), "--chunk");
}

TEST(Param, ParsesEveryKindToItsRecordedForm) {
  EXPECT_EQ(param("n", ParamKind::count, "1").parse("64"), 64);
  EXPECT_DOUBLE_EQ(param("d", ParamKind::duration, "1ms").parse("20ms").get<double>(), 0.02);
  EXPECT_DOUBLE_EQ(param("f", ParamKind::fraction, "0").parse("0.25").get<double>(), 0.25);
  EXPECT_EQ(param("b", ParamKind::bytes, "1").parse("64KiB"), 65536);
  EXPECT_EQ(param("t", ParamKind::text, "").parse("mod:fn"), "mod:fn");
  EXPECT_EQ(param("w", ParamKind::work, "1").parse("200000"), (nlohmann::json{{"iters", 200000}}));
  EXPECT_DOUBLE_EQ(param("w", ParamKind::work, "1").parse("5ms").at("duration_s").get<double>(),
                   0.005);
  Param choice = param("start-method", ParamKind::choice, "fork");
  choice.choices = {"fork", "spawn"};
  EXPECT_EQ(choice.parse("spawn"), "spawn");
  EXPECT_EQ(choice.default_value(), "fork");
}

// Without a declared maximum a count goes up to 2^53, the largest whole number a bound in double
// names exactly (a bound of INT64_MAX would not convert back).
TEST(Param, AnUnboundedCountTakesLargeValuesAndRefusesHuge) {
  const Param n = param("n", ParamKind::count, "1");
  EXPECT_EQ(n.parse("0"), 0);
  EXPECT_EQ(n.parse("9007199254740992"), 9007199254740992LL);
  EXPECT_EQ(error_of([&] { n.parse("9007199254740993"); }),
            "--n: 9007199254740993 is out of range; expected a whole number from 0 to "
            "9007199254740992");
  EXPECT_EQ(param("b", ParamKind::bytes, "1").parse("1GiB"), 1 << 30);
}

TEST(Param, BadValuesNameTheFlagAndWhatIsAllowed) {
  Param chunk = param("chunk", ParamKind::count, "1");
  chunk.min = 1;
  chunk.max = 100;
  EXPECT_EQ(error_of([&] { chunk.parse("0"); }),
            "--chunk: 0 is out of range; expected a whole number from 1 to 100");
  EXPECT_NE(error_of([&] { chunk.parse("x"); }).find("--chunk: 'x' is not"), std::string::npos);
  Param choice = param("start-method", ParamKind::choice, "fork");
  choice.choices = {"fork", "spawn"};
  EXPECT_EQ(error_of([&] { choice.parse("vfork"); }),
            "--start-method: 'vfork' is not one of them; choose fork, spawn");
  Param interval = param("switch-interval", ParamKind::duration, "5ms");
  interval.min = 1e-6;
  EXPECT_NE(error_of([&] { interval.parse("500ns"); }).find("--switch-interval: 500ns"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              param("w", ParamKind::work, "1").parse("5 parsecs");
            }).find("neither an iteration count"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] { param("t", ParamKind::text, "").parse("a\nb"); }).find("control characters"),
      std::string::npos);
  // DEL too: a TOML file cannot hold it raw, so --print-spec could not write it back.
  EXPECT_NE(error_of([&] { param("t", ParamKind::text, "").parse("m:f\x7f"); }).find("control"),
            std::string::npos);
  EXPECT_NE(error_of([&] { param("b", ParamKind::bytes, "1").parse("12XB"); }).find("--b:"),
            std::string::npos);
}

// An error is one line: a value with a newline or a terminal escape in it is quoted escaped,
// whatever its kind (an experiment file's multi-line string reaches every parser).
TEST(Param, AValueWithControlCharactersIsQuotedEscaped) {
  Param choice = param("start-method", ParamKind::choice, "fork");
  choice.choices = {"fork", "spawn"};
  for (const Param& p :
       {choice, param("w", ParamKind::work, "1"), param("d", ParamKind::duration, "1ms"),
        param("c", ParamKind::count, "1"), param("b", ParamKind::bytes, "1")}) {
    const std::string message = error_of([&] { p.parse("5 m\nx\x1b[2J"); });
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;
    EXPECT_NE(message.find("\\x0a"), std::string::npos) << message;
  }
}

TEST(Param, CheckHoldsARecordToTheFlagsRules) {
  Param chunk = param("chunk", ParamKind::count, "1");
  chunk.min = 1;
  EXPECT_EQ(chunk.check(4, "the recorded spec"), 4);
  EXPECT_NE(
      error_of([&] { chunk.check(0, "the recorded spec"); }).find("the recorded spec's 'chunk'"),
      std::string::npos);
  EXPECT_NE(error_of([&] { chunk.check("4", "the recorded spec"); }).find("not a whole number"),
            std::string::npos);
  const Param wait = param("io-wait", ParamKind::duration, "20ms");
  EXPECT_DOUBLE_EQ(wait.check(0.02, "r").get<double>(), 0.02);
  EXPECT_NE(error_of([&] { wait.check(-1.0, "r"); }).find("'io_wait_s'"), std::string::npos);
  const Param work = param("cpu-work", ParamKind::work, "15ms");
  EXPECT_EQ(work.check({{"iters", 7}}, "r"), (nlohmann::json{{"iters", 7}}));
  EXPECT_NE(error_of([&] {
              work.check({{"iters", "7"}}, "r");
            }).find("'cpu_work'"),
            std::string::npos);
}

TEST(Param, TextAndReportPhrase) {
  const Param wait{"io-wait", ParamKind::duration, "20ms", "h", "I/O wait {} per task"};
  EXPECT_EQ(wait.report_text(0.02), "I/O wait 20ms per task");
  const Param work{"cpu-work", ParamKind::work, "15ms", "h", "CPU work {} per task"};
  EXPECT_EQ(work.report_text({{"iters", 5}}), "CPU work 5 iterations per task");
  EXPECT_EQ(work.report_text({{"duration_s", 0.015}}),
            "CPU work 15ms per task (calibrated to iterations)");
  EXPECT_EQ(param("f", ParamKind::fraction, "0").text(0.25), "25 %");
  EXPECT_EQ(param("b", ParamKind::bytes, "1").text(65536), "64 KiB");
  EXPECT_EQ(param("n", ParamKind::count, "1").report_text(3), "");
}

TEST(Bytes, ParseAndFormat) {
  EXPECT_EQ(parse_bytes("4096", "--payload", 0, 1u << 30), 4096u);
  EXPECT_EQ(parse_bytes("1MiB", "--payload", 0, 1u << 30), 1u << 20);
  EXPECT_EQ(parse_bytes("1MB", "--payload", 0, 1u << 30), 1000000u);
  EXPECT_EQ(parse_bytes("2 KiB", "--payload", 0, 1u << 30), 2048u);
  EXPECT_NE(error_of([] { parse_bytes("2GiB", "--payload", 0, 1u << 30); }).find("out of range"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_bytes("-1", "--payload", 0, 10); }).find("--payload"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_bytes("99999999999999999999", "--payload", 0, 10); }).find("range"),
            std::string::npos);
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(1u << 20), "1 MiB");
}

TEST(ParamValues, ReadsWithFallbacksAndRefusesTheWrongType) {
  ParamValues v{{{"n", 3}, {"d", 0.5}, {"t", "x"}, {"w", {{"iters", 9}}}}};
  EXPECT_EQ(v.count("n"), 3u);
  EXPECT_EQ(v.count("missing", 7), 7u);
  EXPECT_EQ(v.duration("d"), 500ms);
  EXPECT_EQ(v.text("t"), "x");
  EXPECT_EQ(v.work("w").iters, 9u);
  EXPECT_NE(error_of([&] { (void)v.count("t"); }).find("'t'"), std::string::npos);
  EXPECT_NE(error_of([&] { (void)v.text("n"); }).find("'n'"), std::string::npos);
}

// The built-ins' declarations, gathered: each once, shared where two plug-ins agree.
TEST(DeclaredParams, BuiltInsDeclareTheirFlagsOnce) {
  const auto declared = declared_params();
  const auto find = [&](const char* name) {
    return std::find_if(declared.begin(), declared.end(),
                        [&](const DeclaredParam& d) { return d.param.name == name; });
  };
  ASSERT_NE(find("io-wait"), declared.end());
#if SCALELAB_HAVE_PYTHON
  EXPECT_EQ(find("io-wait")->workloads, (std::vector<std::string>{"io", "socket", "python-io"}));
  EXPECT_EQ(find("start-method")->models, (std::vector<std::string>{"processes", "py-processes"}));
#else
  EXPECT_EQ(find("io-wait")->workloads, (std::vector<std::string>{"io", "socket"}));
#endif
  ASSERT_NE(find("switch-interval"), declared.end());
  EXPECT_EQ(find("switch-interval")->models, std::vector<std::string>{"gil"});
  ASSERT_NE(find("start-method"), declared.end());
  ASSERT_NE(find("cpu-work"), declared.end());
  EXPECT_NE(
      std::find(find("cpu-work")->workloads.begin(), find("cpu-work")->workloads.end(), "cpu"),
      find("cpu-work")->workloads.end());
  EXPECT_EQ(find("switch-interval")->unused_reason(),
            "only the gil model uses it; add gil to --model");
  // Every built-in parameter of every registered plug-in appears in exactly one entry.
  for (const auto& d : declared) {
    EXPECT_EQ(std::count_if(declared.begin(), declared.end(),
                            [&](const DeclaredParam& e) { return e.param.name == d.param.name; }),
              1)
        << d.param.name;
  }
}

WorkloadFactory noop_factory() {
  return [](const WorkloadSpec& spec) { return make_workload({"noop", spec.params}); };
}

TEST(DeclaredParams, TwoPlugInsThatDisagreeAboutANameAreRefused) {
  workload_registry().add({"disagrees",
                           "test",
                           noop_factory(),
                           {Param{"io-wait", ParamKind::count, "3", "a count, not a duration"}}});
  EXPECT_NE(error_of([] { declared_params(); }).find("declares --io-wait differently"),
            std::string::npos);
  workload_registry().add({"disagrees",
                           "test",
                           noop_factory(),
                           {Param{"tasks", ParamKind::count, "3", "scalelab's own"}}});
  EXPECT_NE(error_of([] { declared_params(); }).find("--tasks is one of scalelab's own"),
            std::string::npos);
  workload_registry().add({"disagrees", "test", noop_factory()});  // no parameters: fine again
  EXPECT_NO_THROW(declared_params());
}

// A workload with a work parameter and no resolver of its own: NAME-work → NAME_iters.
TEST(ResolveWorkloads, DefaultResolverTurnsWorkIntoIterationsAndKeepsTheRest) {
  Param size{"size", ParamKind::bytes, "1KiB", "h"};
  Param work{"hash-work", ParamKind::work, "100", "h"};
  workload_registry().add({"sized", "test", noop_factory(), {size, work}});
  Spec spec;
  spec.workloads = {"sized"};
  spec.models = {"serial"};
  spec.params.set("size", 2048);
  const ResolvedWorkloads resolved = resolve_workloads(spec);
  ASSERT_EQ(resolved.workloads.size(), 1u);
  EXPECT_EQ(resolved.workloads[0].spec.params.count("size"), 2048u);
  EXPECT_EQ(resolved.workloads[0].spec.params.count("hash_iters"), 100u);
  EXPECT_EQ(to_json(spec).at("hash_work"), (nlohmann::json{{"iters", 100}}));
  EXPECT_EQ(to_json(spec).at("size"), 2048);
}

TEST(Validate, AParameterNoSelectedPlugInTakesIsBadInputNamingItsFlag) {
  Spec spec;
  spec.workloads = {"cpu"};
  spec.models = {"serial"};
  spec.params.set_duration("switch_interval_s", 1ms);
  EXPECT_EQ(error_of([&] { validate(spec); }),
            "--switch-interval: only the gil model uses it; add gil to --model");
  spec.params = ParamValues{{{"nonsense", 1}}};
  EXPECT_NE(error_of([&] { validate(spec); }).find("'nonsense' is no parameter"),
            std::string::npos);
  spec.params = ParamValues{{{"cpu_work", {{"iters", 0}}}}};
  EXPECT_NE(error_of([&] { validate(spec); }).find("--cpu-work"), std::string::npos);
}

// --- one declaration, the whole way through the command line ---------------------------------

// `paced`: a test model with a parameter of its own, --pace (a duration), that runs tasks as
// serial does and records its value as a counter, so the test sees what reached the model.
class PacedModel final : public Model {
 public:
  bool uses_workers() const override { return false; }
  std::unique_ptr<Pool> start(const Workload& workload, int workers,
                              const ModelOptions& options) const override {
    return std::make_unique<PacedPool>(make_model("serial")->start(workload, workers, options),
                                       options.params.number("pace_s", -1));
  }

 private:
  class PacedPool final : public Pool {
   public:
    PacedPool(std::unique_ptr<Pool> inner, double pace) : inner_(std::move(inner)), pace_(pace) {}
    BatchResult run(std::size_t tasks, const RunControl& control) override {
      BatchResult batch = inner_->run(tasks, control);
      batch.counters["pace_s"] = pace_;
      return batch;
    }

   private:
    std::unique_ptr<Pool> inner_;
    double pace_;
  };
};

void register_paced() {
  Param pace{"pace", ParamKind::duration, "3ms", "paced model: the pace", "Pace"};
  pace.min = 1e-3;
  model_registry().add({"paced",
                        "test: serial, with --pace",
                        [] { return std::make_unique<PacedModel>(); },
                        {pace}});
}

struct CliRun {
  int code = 0;
  std::string out, err;
};

CliRun cli(std::vector<std::string> args) {
  std::vector<const char*> argv{"scalelab"};
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  CliRun r;
  r.code = cli::main(static_cast<int>(argv.size()), argv.data(), out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

TEST(PlugInParameter, IsAFlagInHelpAndListAndRefusedWhenBad) {
  register_paced();
  const auto help = cli({"run", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--pace"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("paced model: the pace"), std::string::npos);
  const auto list = cli({"list"});
  EXPECT_NE(list.out.find("--pace (default 3ms): paced model: the pace"), std::string::npos)
      << list.out;
  const auto bad = cli({"run", "--model", "paced", "--workload", "noop", "--pace", "10us", "-q"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("scalelab: --pace: 10us is out of range"), std::string::npos) << bad.err;
  EXPECT_EQ(testing::count_newlines(bad.err), 1u) << bad.err;
  const auto unused = cli({"run", "--model", "serial", "--workload", "noop", "--pace", "5ms"});
  EXPECT_EQ(unused.code, 2);
  EXPECT_EQ(unused.err, "scalelab: --pace: only the paced model uses it; add paced to --model\n");
}

class PlugInRun : public testing::ScratchDirTest {};

TEST_F(PlugInRun, ReachesTheModelIsRecordedReportedAndResumed) {
  register_paced();
  const fs::path out = dir_ / "run";
  const auto r = cli({"run", "--model", "paced", "--workload", "noop", "--pace", "7ms", "--tasks",
                      "4", "--repeat", "2", "--rerun-disturbed", "0", "--out", out.string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto lines = testing::lines_of(testing::read_file(out / "results.jsonl"));
  ASSERT_GE(lines.size(), 3u);
  const auto header = nlohmann::json::parse(lines[0]);
  EXPECT_DOUBLE_EQ(header.at("spec").at("pace_s").get<double>(), 0.007);
  const auto trial = nlohmann::json::parse(lines[1]);
  EXPECT_DOUBLE_EQ(trial.at("counters").at("pace_s").get<double>(), 0.007) << lines[1];
  EXPECT_NE(testing::read_file(out / "report.md").find("- Pace: 7ms\n"), std::string::npos);

  // Resume takes the value from the record: drop the last trial and the end line, resume.
  std::string kept;
  for (std::size_t i = 0; i + 2 < lines.size(); ++i) kept += lines[i] + "\n";
  std::ofstream(out / "results.jsonl", std::ios::trunc | std::ios::binary) << kept;
  const auto resumed = cli({"run", "--resume", out.string(), "-q"});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  const auto after = testing::lines_of(testing::read_file(out / "results.jsonl"));
  bool found = false;
  for (const auto& line : after) {
    const auto record = nlohmann::json::parse(line);
    if (record.value("type", "") != "trial") continue;
    EXPECT_DOUBLE_EQ(record.at("counters").at("pace_s").get<double>(), 0.007) << line;
    found = true;
  }
  EXPECT_TRUE(found);
}

// compare names each parameter that differs between two runs: their task sizes are not alike.
// (It used to look for "cpu_work_iters" and "cpu_work_s", fields no record has, so runs with
// different --cpu-work were compared without a word.)
TEST_F(PlugInRun, CompareNotesEveryParameterThatDiffers) {
  const auto run = [&](const char* work, const char* name) {
    return cli({"run", "--model", "serial", "--workload", "cpu", "--cpu-work", work, "--tasks", "2",
                "--repeat", "2", "--rerun-disturbed", "0", "--out", (dir_ / name).string(), "-q"});
  };
  ASSERT_EQ(run("1000", "a").code, 0);
  ASSERT_EQ(run("2000", "b").code, 0);
  const auto r = cli({"compare", (dir_ / "a").string(), (dir_ / "b").string()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("note: cpu_work differs: {\"iters\":1000} vs {\"iters\":2000}"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("tasks differs"), std::string::npos) << r.err;
}

// tests/golden/run-before-issue-11.jsonl: the header and first 10 of 21 trials of a run recorded
// by scalelab before parameters were declared by their plug-ins (commit a4ed29f: `run
// --workload cpu,io,mixed --model serial,threads,processes,gil --cpu-work 2000 --io-wait 1ms
// --task-time 2ms --cpu-fraction 0.25 --switch-interval 2ms --start-method spawn --workers 1,2
// --tasks 4 --repeat 1 --seed 11 --no-warmup --rerun-disturbed 0`). It resumes: the same spec,
// task sizes and parameters, the 11 missing trials run.
TEST_F(PlugInRun, ARunRecordedBeforeDeclaredParametersResumes) {
  const fs::path golden = fs::path(__FILE__).parent_path() / "golden" / "run-before-issue-11.jsonl";
  const fs::path out = dir_ / "old";
  fs::create_directories(out);
  fs::copy_file(golden, out / "results.jsonl");
  const auto r = cli({"run", "--resume", out.string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::size_t trials = 0;
  for (const auto& line : testing::lines_of(testing::read_file(out / "results.jsonl"))) {
    const auto record = nlohmann::json::parse(line);
    if (record.value("type", "") != "trial") continue;
    ++trials;
    EXPECT_TRUE(record.at("checksum_ok").get<bool>()) << line;
    EXPECT_TRUE(record.at("error").is_null()) << line;
  }
  EXPECT_EQ(trials, 21u);
  const auto all = nlohmann::json::parse(testing::read_file(out / "results.json"));
  EXPECT_EQ(all.at("spec").at("start_method"), "spawn");
  EXPECT_DOUBLE_EQ(all.at("spec").at("switch_interval_s").get<double>(), 0.002);
  EXPECT_DOUBLE_EQ(all.at("spec").at("cpu_fraction").get<double>(), 0.25);
  const std::string report = testing::read_file(out / "report.md");
  EXPECT_NE(report.find("- Start method: spawn\n"), std::string::npos) << report;
  EXPECT_NE(report.find("- GIL switch interval: 2ms\n"), std::string::npos);
  EXPECT_NE(report.find("mixed tasks 25 % computing; mixed tasks of 2ms"), std::string::npos);
}

}  // namespace
}  // namespace scalelab

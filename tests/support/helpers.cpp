#include "support/helpers.hpp"
#include "support/sanitizers.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <fstream>
#include <sstream>
#include <system_error>

#include "scalelab/error.hpp"

namespace scalelab::testing {

namespace fs = std::filesystem;

namespace {

// The items that `present` rejects, joined by ", ": a failure then names every missing item at
// once instead of stopping at the first.
std::string missing_items(std::initializer_list<const char*> items,
                          const std::function<bool(const char*)>& present) {
  std::string missing;
  for (const char* item : items) {
    if (!present(item)) missing += std::string(missing.empty() ? "" : ", ") + item;
  }
  return missing;
}

}  // namespace

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::size_t count_newlines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

std::optional<std::vector<std::vector<std::string>>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  bool any = false;  // something since the last record separator: a last record without '\n'
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    any = true;
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\n') {
      row.push_back(field);
      rows.push_back(row);
      row.clear();
      field.clear();
      any = false;
    } else {
      field += c;
    }
  }
  if (quoted) return std::nullopt;
  if (any) {
    row.push_back(field);
    rows.push_back(row);
  }
  return rows;
}

::testing::AssertionResult throws_naming(const std::function<void()>& call,
                                         const std::string& fragment) {
  try {
    call();
  } catch (const scalelab::Error& e) {
    const std::string message = e.what();
    if (message.find(fragment) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "scalelab::Error does not name " << fragment << ": " << message;
    }
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-scalelab exception: " << e.what();
  } catch (...) {
    return ::testing::AssertionFailure() << "threw something that is not a std::exception";
  }
  return ::testing::AssertionFailure() << "did not throw";
}

::testing::AssertionResult has_keys(const nlohmann::json& object,
                                    std::initializer_list<const char*> keys) {
  const std::string missing =
      missing_items(keys, [&](const char* key) { return object.contains(key); });
  if (missing.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "missing " << missing << " in " << object.dump();
}

::testing::AssertionResult contains_all(const std::string& text,
                                        std::initializer_list<const char*> fragments) {
  const std::string missing = missing_items(
      fragments, [&](const char* fragment) { return text.find(fragment) != std::string::npos; });
  if (missing.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << missing << " not in:\n" << text;
}

void ScratchDirTest::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  // Parameterised tests have '/' in their names, which would make a nested path.
  std::string name = std::string(info->test_suite_name()) + "-" + info->name();
  std::replace(name.begin(), name.end(), '/', '_');
  dir_ = fs::temp_directory_path() / ("scalelab-test-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir_);
  ASSERT_TRUE(fs::create_directories(dir_));
}

void ScratchDirTest::TearDown() {
  // Never throw from clean-up: a leftover temp folder must not fail a test that passed.
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

WorkloadSpec cpu_spec(std::uint64_t iters) {
  WorkloadSpec spec{"cpu", {}};
  spec.params.set("cpu_iters", iters);
  return spec;
}

WorkloadSpec io_spec(std::chrono::nanoseconds wait) {
  WorkloadSpec spec{"io", {}};
  spec.params.set_duration("io_wait_s", wait);
  return spec;
}

WorkloadSpec python_spec(std::uint64_t iters, const std::string& function) {
  WorkloadSpec spec{"python", {}};
  spec.params.set("cpu_iters", iters);
  if (!function.empty()) spec.params.set("python_func", function);
  return spec;
}

WorkloadSpec mixed_spec(std::uint64_t iters, std::chrono::nanoseconds wait) {
  WorkloadSpec spec{"mixed", {}};
  spec.params.set("cpu_iters", iters);
  spec.params.set_duration("io_wait_s", wait);
  return spec;
}

std::vector<std::uint64_t> expected_for(const Workload& workload, std::size_t tasks) {
  std::vector<std::uint64_t> values(tasks);
  for (std::size_t i = 0; i < tasks; ++i) values[i] = workload.expected_checksum(i);
  return values;
}

Spec small_sweep(std::vector<std::string> models, std::vector<int> workers, std::size_t tasks,
                 int repeat, std::uint64_t seed) {
  Spec spec;
  spec.rerun_disturbed = 0;
  spec.workloads = {"cpu", "io"};
  spec.models = std::move(models);
  spec.workers = std::move(workers);
  spec.tasks = {tasks};
  spec.repeat = repeat;
  spec.seed = seed;
  spec.params.set("cpu_work", {{"iters", 1000}});
  spec.params.set_duration("io_wait_s", std::chrono::milliseconds(1));
  return spec;
}

ModelOptions with_start_method(const std::string& method) {
  ModelOptions options;
  options.params.set("start_method", method);
  return options;
}

std::unique_ptr<Pool> start_pool(const std::string& model, const Workload& workload, int workers,
                                 const std::string& method) {
  return make_model(model)->start(workload, workers, with_start_method(method));
}

std::string ModelCase::label() const {
  std::string text = model == "processes" || model == "py-processes" ? model + "_" + method : model;
  std::replace(text.begin(), text.end(), '-', '_');  // a test name has no dashes
  return text;
}

std::vector<ModelCase> with_runtimes(std::vector<ModelCase> cases) {
  if (kThreadSanitizer) return cases;
#if SCALELAB_HAVE_TBB
  cases.push_back({"tbb"});
#endif
#if SCALELAB_HAVE_OPENMP
  cases.push_back({"openmp"});
#endif
  return cases;
}

void PrintTo(const ModelCase& c, std::ostream* os) {
  *os << c.label();
}

Trial make_trial(const std::string& workload, const std::string& model, int workers, int repeat,
                 double wall_s, const std::string& error) {
  Trial t;
  t.workload = workload;
  t.model = model;
  t.workers = workers;
  t.repeat = repeat;
  t.tasks = 8;
  t.tasks_done = error.empty() ? 8 : 0;
  t.wall_s = wall_s;
  t.user_s = wall_s;  // one busy core unless a test says otherwise
  t.checksum_ok = error.empty();
  t.error = error;
  return t;
}

void add_point(std::vector<Trial>& trials, const std::string& workload, const std::string& model,
               int workers, const std::vector<double>& walls) {
  for (std::size_t r = 0; r < walls.size(); ++r) {
    trials.push_back(make_trial(workload, model, workers, static_cast<int>(r), walls[r]));
  }
}

SummaryRow make_row(const std::string& workload, const std::string& model, int workers,
                    double speedup, Interval ci, double ideal, double cpu_util) {
  SummaryRow row;
  row.workload = workload;
  row.model = model;
  row.workers = workers;
  row.tasks = 32;
  row.trials = 3;
  row.speedup = speedup;
  row.speedup_ci = ci;
  row.efficiency = speedup / workers;
  row.efficiency_ci = Interval{ci.low / workers, ci.high / workers};
  row.baseline = "serial";
  row.ideal = ideal;
  row.cpu_util = cpu_util;
  return row;
}

std::string in_child(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    std::string text;
    try {
      text = body();
    } catch (const std::exception& e) {
      text = std::string("threw: ") + e.what();
    }
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0) {
      const ssize_t n = ::write(fds[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    ::_exit(0);  // no atexit handlers, no gtest summary from the child
  }
  ::close(fds[1]);
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "the child died: status " + std::to_string(status) + "; it said: " + text;
  }
  return text;
}

}  // namespace scalelab::testing

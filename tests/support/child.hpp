#pragma once
// A child scalelab: the real binary (SCALELAB_EXE, defined for every test target) started
// without a shell and without waiting, so that a test can signal it, watch its records grow,
// and check what it left on disk. Header-only: SCALELAB_EXE is each test target's own.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/helpers.hpp"

extern char** environ;

namespace scalelab::testing {

/// Tests count the trials a run records. On a loaded machine (CI runs tests in
/// parallel) a trial may be disturbed and then run again, one record more; so a run is given
/// --rerun-disturbed 0 unless the test sets it (or resumes, which takes no run flags).
inline std::vector<std::string> without_reruns(std::vector<std::string> args) {
  const auto has = [&](const char* flag) {
    return std::find(args.begin(), args.end(), flag) != args.end();
  };
  const bool runs = !args.empty() && (args[0] == "run" || args[0].rfind("--", 0) == 0);
  if (runs && !has("--rerun-disturbed") && !has("--resume") && !has("--help") &&
      !has("--version")) {
    args.insert(args[0] == "run" ? args.begin() + 1 : args.begin(), {"--rerun-disturbed", "0"});
  }
  return args;
}

/// Starts the scalelab binary with `args`: stdin from /dev/null, stdout and stderr into the
/// given files, `extra_env` ("NAME=value") added to this process's environment. -1 (and a test
/// failure) if it cannot start.
inline pid_t spawn_exe(const std::vector<std::string>& args, const std::filesystem::path& out_path,
                       const std::filesystem::path& err_path,
                       const std::vector<std::string>& extra_env = {}) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> storage{SCALELAB_EXE};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage = extra_env;
  std::vector<char*> env;
  for (auto& e : env_storage) env.push_back(e.data());
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  env.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, SCALELAB_EXE, &actions, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    ADD_FAILURE() << "posix_spawn " << SCALELAB_EXE << ": " << std::strerror(spawned);
    return -1;
  }
  return pid;
}

/// The exit code of `pid` (128 + signal when killed), waiting at most `limit`; -1 (after
/// killing it) on timeout.
template <class Duration>
int wait_exit(pid_t pid, Duration limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

/// How many trial lines a records file holds.
inline std::size_t trial_lines(const std::filesystem::path& jsonl) {
  std::size_t n = 0;
  for (const auto& line : lines_of(read_file(jsonl))) {
    if (line.find(R"("type":"trial")") != std::string::npos) ++n;
  }
  return n;
}

/// Waits until the run has recorded at least `n` trials (or 20 s pass).
inline bool wait_for_trials(const std::filesystem::path& jsonl, std::size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(jsonl) && trial_lines(jsonl) >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

/// Waits until `path` holds `text` (or `limit` passes).
template <class Duration>
bool wait_for_text(const std::filesystem::path& path, const std::string& text, Duration limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (read_file(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

/// Every line of a records file parses as JSON, and the file ends with a newline.
inline ::testing::AssertionResult valid_json_lines(const std::filesystem::path& jsonl) {
  const std::string text = read_file(jsonl);
  if (text.empty() || text.back() != '\n') {
    return ::testing::AssertionFailure() << "no newline at the end of " << jsonl;
  }
  for (const auto& line : lines_of(text)) {
    if (!nlohmann::json::accept(line)) return ::testing::AssertionFailure() << "bad line: " << line;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace scalelab::testing

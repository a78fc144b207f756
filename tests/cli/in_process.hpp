#pragma once
// The command line run by the tests: scalelab::cli::main in this process (for the test-only
// fixtures), or the scalelab binary as a user runs it; output captured either way.

#include <sys/wait.h>

#include <cerrno>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "scalelab/cli.hpp"
#include "support/child.hpp"
#include "support/helpers.hpp"

namespace scalelab::testing {

struct Outcome {
  int code = -1;
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};

// scalelab `args` (without_reruns: a run is not rerun unless the test asks).
inline Outcome run_in_process(const std::vector<std::string>& args) {
  std::vector<const char*> argv{"scalelab"};
  const auto with_flags = without_reruns(args);
  for (const auto& arg : with_flags) argv.push_back(arg.c_str());
  std::ostringstream out, err;
  Outcome outcome;
  outcome.code = scalelab::cli::main(static_cast<int>(argv.size()), argv.data(), out, err);
  outcome.out = out.str();
  outcome.err = err.str();
  return outcome;
}

// The scalelab binary with `args` (no shell, without_reruns), stdin from /dev/null, stdout and
// stderr captured through files in `dir`.
inline Outcome run_binary(const std::filesystem::path& dir, const std::vector<std::string>& args) {
  const std::filesystem::path out_path = dir / "stdout.txt";
  const std::filesystem::path err_path = dir / "stderr.txt";
  const pid_t pid = spawn_exe(without_reruns(args), out_path, err_path);
  Outcome outcome;
  if (pid < 0) return outcome;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  outcome.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  outcome.out = read_file(out_path);
  outcome.err = read_file(err_path);
  return outcome;
}

}  // namespace scalelab::testing

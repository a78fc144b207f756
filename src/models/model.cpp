// The model registry, resource usage, and the task runner every blocking model shares.

#include "scalelab/model.hpp"

#include <sys/resource.h>
#include <sys/wait.h>

#include <csignal>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <ostream>

#include <fmt/format.h>

#include "models/builtin.hpp"
#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"

namespace scalelab {

Registry<ModelEntry>& model_registry() {
  static Registry<ModelEntry> registry;
  // Built-ins go in on first use; a static's initialiser runs once, even across threads.
  static const bool filled = [] {
    for (auto& entry : detail::builtin_models()) registry.add(std::move(entry));
    return true;
  }();
  (void)filled;
  return registry;
}

std::string left_out_of_build(const std::string& name) {
  for (const auto& [model, why] : detail::left_out_models()) {
    if (model == name) return why;
  }
  return {};
}

void check_model_name(const std::string& name) {
  if (model_registry().find(name)) return;
  if (const std::string why = left_out_of_build(name); !why.empty()) {
    throw Error(fmt::format("--model: {} is not in this build: {}", name, why));
  }
  throw Error(
      fmt::format("--model: unknown model '{}'; choose from {}", name, model_registry().names()));
}

std::unique_ptr<Model> make_model(const std::string& name) {
  check_model_name(name);
  return model_registry().find(name)->make();
}

std::string unsupported(const Workload& workload, const std::string& model) {
  if (std::string why = workload.unsupported_by(model); !why.empty()) return why;
  const auto entry = model_registry().find(model);
  return entry ? entry->make()->cannot_run(workload) : std::string();
}

ResourceUsage ResourceUsage::of_self() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  ResourceUsage u;
  u.user_s =
      static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) * 1e-6;
  u.sys_s =
      static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) * 1e-6;
  u.voluntary_ctx = ru.ru_nvcsw;
  u.involuntary_ctx = ru.ru_nivcsw;
  u.max_rss_kib = ru.ru_maxrss;  // Linux reports kilobytes
  return u;
}

void ResourceUsage::reset_peak() {
  if (std::FILE* f = std::fopen("/proc/self/clear_refs", "we")) {
    std::fputs("5", f);  // 5: reset the peak resident set size (Linux >= 4.0)
    std::fclose(f);
  }
}

ResourceUsage ResourceUsage::since(const ResourceUsage& before) const {
  ResourceUsage d;
  d.user_s = user_s - before.user_s;
  d.sys_s = sys_s - before.sys_s;
  d.voluntary_ctx = voluntary_ctx - before.voluntary_ctx;
  d.involuntary_ctx = involuntary_ctx - before.involuntary_ctx;
  d.max_rss_kib = max_rss_kib;
  return d;
}

ResourceUsage& ResourceUsage::operator+=(const ResourceUsage& other) {
  user_s += other.user_s;
  sys_s += other.sys_s;
  voluntary_ctx += other.voluntary_ctx;
  involuntary_ctx += other.involuntary_ctx;
  max_rss_kib += other.max_rss_kib;
  return *this;
}

std::ostream& operator<<(std::ostream& out, const TaskError& e) {
  return out << e.str();
}

namespace detail {

void check_workers(int workers) {
  if (workers < 1)
    throw Error(fmt::format("--workers: {} is not a worker count; use 1 or more", workers));
}

void run_task_blocking(const Workload& workload, std::size_t task, TaskResult& result,
                       std::chrono::steady_clock::time_point t0) {
  const auto start = std::chrono::steady_clock::now();
  try {
    result.checksum = workload.run(task);
  } catch (...) {
    result.error = current_exception_text();
  }
  const auto end = std::chrono::steady_clock::now();
  result.start_s = seconds_since(t0, start);
  result.end_s = seconds_since(t0, end);
  ++result.runs;
}

std::vector<std::size_t> running_tasks(const std::vector<TaskSlot>& slots) {
  std::vector<std::size_t> running;
  for (const auto& slot : slots) {
    const std::size_t task = slot.task.load(std::memory_order_relaxed);
    if (task != kNoTask) running.push_back(task);
  }
  std::sort(running.begin(), running.end());
  return running;
}

void throw_cut_short(const CutShort& c) {
  if (c.hung) {
    const std::string which = c.running.empty() ? std::string("tasks") : task_list(c.running);
    if (c.stopped) {
      throw BatchAborted(
          AbortReason::hung,
          fmt::format("interrupted: {} still running {} after the stop request; {}, so they "
                      "were abandoned",
                      which, format_duration(c.control.grace), c.why_hung));
    }
    const auto waited = c.control.timeout.count() > 0
                            ? c.control.timeout
                            : std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::round<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now() - c.started));
    throw BatchAborted(AbortReason::hung, fmt::format("hung: {} still running after {}; {}", which,
                                                      format_duration(waited), c.why_hung));
  }
  if (c.stopped) {
    throw BatchAborted(AbortReason::interrupted,
                       fmt::format("interrupted: {} of {} tasks ran; {}", c.ran, c.tasks, c.how));
  }
  throw BatchAborted(AbortReason::timed_out,
                     fmt::format("timed out after {}: {} of {} tasks ran; {}",
                                 format_duration(c.control.timeout), c.ran, c.tasks, c.how));
}

std::string current_exception_text() {
  try {
    throw;
  } catch (const std::bad_alloc& e) {
    // The memory a task could not have: name the limit that bit (ulimit -v), if one did.
    return fmt::format("{} (out of memory; {})", e.what(), limit_reason(Want::memory, ENOMEM));
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

std::string errno_text(int err) {
  // std::strerror, not std::system_category().message(): the same text without a virtual call.
  // That call is where these messages are made: with every descriptor in use, clang's UBSan
  // cannot probe the object (its probe needs a pipe) and reports the call as one through an
  // invalid vptr. glibc's strerror is thread-safe (static strings; a thread-local buffer for
  // an unknown value).
  return std::strerror(err);
}

std::string resource_error_text(Want what, int err) {
  const std::string reason = errno_text(err);
  const std::string limit = limit_reason(what, err);
  return limit.empty() ? reason : fmt::format("{} ({})", reason, limit);
}

std::string task_list(const std::vector<std::size_t>& tasks) {
  constexpr std::size_t kShown = 8;  // enough to find them; a thousand would drown the line
  std::string text = tasks.size() == 1 ? "task " : "tasks ";
  for (std::size_t i = 0; i < tasks.size() && i < kShown; ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(tasks[i]);
  }
  if (tasks.size() > kShown) text += fmt::format(" and {} more", tasks.size() - kShown);
  return text;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return fmt::format("killed by SIG{}{}{}", name != nullptr ? name : std::to_string(sig),
                       // Nobody else here sends SIGKILL to a worker in a batch.
                       sig == SIGKILL ? " (possibly the OOM killer)" : "",
                       WCOREDUMP(status) ? " (core dumped)" : "");
  }
  return "stopped";
}

}  // namespace detail
}  // namespace scalelab

// Which limit bit: the live figures (read_limit_figures) and the judgement on them (name_limit).
//
// Every figure is read with open/read into small buffers, no streams: this runs when the process
// may be out of descriptors, threads or address space, and a read that fails only leaves its
// figure unknown.

#include "support/limits.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace scalelab::detail {
namespace {

// --- reading -----------------------------------------------------------------------------------

// Closes a descriptor on every path out.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};
using Dir = std::unique_ptr<DIR, DirCloser>;

// Up to `cap` bytes of the file at `path` (relative to `at`), or nothing when it cannot be read.
std::optional<std::string> read_text(const char* path, std::size_t cap = 1 << 16,
                                     int at = AT_FDCWD) {
  const Fd fd(::openat(at, path, O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  std::string text;
  std::array<char, 4096> buffer{};
  while (text.size() < cap) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    text.append(buffer.data(), static_cast<std::size_t>(n));
  }
  return text;
}

// The number `text` starts with, after blanks; "max" (cgroup files) is kUnlimited.
std::optional<std::uint64_t> parse_number(std::string_view text) {
  const auto start = text.find_first_not_of(" \t");
  if (start == std::string_view::npos) return std::nullopt;
  text.remove_prefix(start);
  if (text.starts_with("max")) return kUnlimited;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end == text.data()) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> read_number(const char* path) {
  const auto text = read_text(path, 256);
  if (!text) return std::nullopt;
  return parse_number(*text);
}

// What follows "Key:" on its line of a /proc status file ("VmSize:\t 1234 kB" -> " 1234 kB").
std::optional<std::string_view> status_field(std::string_view status, std::string_view key) {
  std::size_t at = 0;
  while (at < status.size()) {
    const std::size_t end = std::min(status.find('\n', at), status.size());
    const std::string_view line = status.substr(at, end - at);
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ':') {
      return line.substr(key.size() + 1);
    }
    at = end + 1;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> status_number(std::string_view status, std::string_view key) {
  const auto field = status_field(status, key);
  if (!field) return std::nullopt;
  return parse_number(*field);
}

// Lines in the file at `path`, counted a buffer at a time: /proc/self/maps can be megabytes.
std::optional<std::uint64_t> count_lines(const char* path) {
  const Fd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  std::uint64_t lines = 0;
  std::array<char, 8192> buffer{};
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    lines += static_cast<std::uint64_t>(
        std::count(buffer.data(), buffer.data() + static_cast<std::size_t>(n), '\n'));
  }
  return lines;
}

std::optional<std::uint64_t> soft_rlimit(int resource) {
  rlimit limit{};
  if (::getrlimit(resource, &limit) != 0) return std::nullopt;
  if (limit.rlim_cur == RLIM_INFINITY) return kUnlimited;
  return static_cast<std::uint64_t>(limit.rlim_cur);
}

// Every thread on the machine holds a PID and counts against kernel.threads-max: the 4th field
// of /proc/loadavg, "running/total", has the total (all PID namespaces, unlike /proc's entries).
std::optional<std::uint64_t> threads_on_machine() {
  const auto text = read_text("/proc/loadavg", 256);
  if (!text) return std::nullopt;
  const auto slash = text->find('/');
  if (slash == std::string::npos) return std::nullopt;
  return parse_number(std::string_view(*text).substr(slash + 1));
}

// Tasks (threads included: RLIMIT_NPROC counts them) whose real user is `uid`, from the status
// file of every process in /proc.
std::optional<std::uint64_t> tasks_of_user(std::uint32_t uid) {
  const Dir proc(::opendir("/proc"));
  if (!proc) return std::nullopt;
  std::uint64_t tasks = 0;
  while (const dirent* entry = ::readdir(proc.get())) {
    const std::string_view name = entry->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string_view::npos) continue;
    const std::string path = std::string(name) + "/status";
    const auto status = read_text(path.c_str(), 1 << 14, ::dirfd(proc.get()));
    if (!status) continue;  // it ended while we looked
    const auto real_uid = status_number(*status, "Uid");
    const auto threads = status_number(*status, "Threads");
    if (real_uid && *real_uid == uid) tasks += threads.value_or(1);
  }
  return tasks;
}

// Whether RLIMIT_NPROC is waived for this process: the kernel does not apply it to the initial
// user namespace's root, nor to a process with CAP_SYS_RESOURCE or CAP_SYS_ADMIN there.
bool nproc_waived(std::uint32_t uid, std::string_view status) {
  bool initial_namespace = true;  // no uid_map: a kernel without user namespaces
  if (const auto map = read_text("/proc/self/uid_map", 4096)) {
    std::array<std::uint64_t, 3> fields{};
    std::string_view rest = *map;
    for (auto& field : fields) {
      const auto start = rest.find_first_not_of(" \t");
      if (start == std::string_view::npos) break;
      rest.remove_prefix(start);
      field = parse_number(rest).value_or(0);
      rest.remove_prefix(std::min(rest.find_first_of(" \t\n"), rest.size()));
    }
    initial_namespace = fields[0] == 0 && fields[1] == 0 && fields[2] == 4294967295u;
  }
  if (!initial_namespace) return false;
  if (uid == 0) return true;
  const auto caps = status_field(status, "CapEff");
  if (!caps) return false;
  const std::string_view hex = caps->substr(std::min(caps->find_first_not_of(" \t"), caps->size()));
  std::uint64_t effective = 0;
  std::from_chars(hex.data(), hex.data() + hex.size(), effective, 16);
  constexpr std::uint64_t kSysAdmin = std::uint64_t{1} << 21;
  constexpr std::uint64_t kSysResource = std::uint64_t{1} << 24;
  return (effective & (kSysAdmin | kSysResource)) != 0;
}

// Where the pids controller's hierarchies are mounted: cgroup v2's, and v1's pids hierarchy.
struct CgroupMounts {
  std::string v2;
  std::string v1_pids;
};

CgroupMounts cgroup_mounts() {
  CgroupMounts mounts;
  const auto text = read_text("/proc/self/mounts", 1 << 20);
  if (!text) return mounts;
  std::string_view rest = *text;
  while (!rest.empty()) {
    const std::size_t end = std::min(rest.find('\n'), rest.size());
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    std::array<std::string_view, 4> fields{};  // device, mount point, type, options
    for (auto& field : fields) {
      const std::size_t space = std::min(line.find(' '), line.size());
      field = line.substr(0, space);
      line.remove_prefix(std::min(space + 1, line.size()));
    }
    if (fields[2] == "cgroup2" && mounts.v2.empty()) mounts.v2 = fields[1];
    if (fields[2] == "cgroup" && mounts.v1_pids.empty()) {
      // Appended in steps: g++ 12 at -O3 warns (-Wrestrict, falsely) on "literal" + string.
      std::string options = ",";
      options += fields[3];
      options += ',';
      if (options.find(",pids,") != std::string::npos) mounts.v1_pids = fields[1];
    }
  }
  return mounts;
}

// The pids.max and pids.current of `dir` or of the ancestor (up to `root`) nearest its limit:
// any of them stops a fork. A cgroup without a limit is kept only when none has one.
void nearest_pids_limit(const std::string& root, std::string dir, LimitFigures& f) {
  std::optional<std::uint64_t> best_headroom;  // of the nearest limited cgroup so far
  for (;;) {
    if (const auto max = read_number((dir + "/pids.max").c_str())) {
      const auto current = read_number((dir + "/pids.current").c_str());
      if (*max != kUnlimited) {
        const std::uint64_t headroom = !current           ? kUnlimited
                                       : *current >= *max ? 0
                                                          : *max - *current;
        if (!best_headroom || headroom < *best_headroom) {
          best_headroom = headroom;
          f.cgroup_pids = {max, current};
          f.cgroup_file = dir + "/pids.max";
        }
      } else if (!best_headroom && f.cgroup_file.empty()) {
        f.cgroup_pids = {max, current};  // the innermost cgroup, unlimited
        f.cgroup_file = dir + "/pids.max";
      }
    }
    if (dir.size() <= root.size()) break;
    const auto slash = dir.rfind('/');
    if (slash == std::string::npos || slash < root.size()) break;
    dir.resize(slash);
  }
}

// Our cgroup's pids limit, from /proc/self/cgroup: "0::/path" for v2, "N:pids:/path" for v1.
void read_cgroup_pids(LimitFigures& f) {
  const auto text = read_text("/proc/self/cgroup", 1 << 16);
  if (!text) return;
  const CgroupMounts mounts = cgroup_mounts();
  std::string_view rest = *text;
  while (!rest.empty()) {
    const std::size_t end = std::min(rest.find('\n'), rest.size());
    const std::string_view line = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    const auto first = line.find(':');
    const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    std::string controllers = ",";  // in steps, as above
    controllers += line.substr(first + 1, second - first - 1);
    controllers += ',';
    const std::string_view path = line.substr(second + 1);
    const bool v2 = line.substr(0, first) == "0" && controllers == ",,";
    const std::string& root = v2 ? mounts.v2 : mounts.v1_pids;
    if (root.empty() || (!v2 && controllers.find(",pids,") == std::string::npos)) continue;
    std::string leaf = root;
    if (path != "/") leaf += path;
    nearest_pids_limit(root, leaf, f);
    if (f.cgroup_pids.limit && *f.cgroup_pids.limit != kUnlimited) return;
  }
}

// Open descriptors, from /proc/self/fd. When not even that directory can be opened for want of
// a descriptor, every number below the limit is taken.
std::optional<std::uint64_t> open_descriptors(std::optional<std::uint64_t> limit) {
  const Dir dir(::opendir("/proc/self/fd"));
  if (!dir) {
    if (errno == EMFILE && limit && *limit != kUnlimited) return limit;
    return std::nullopt;
  }
  const std::string own = std::to_string(::dirfd(dir.get()));
  std::uint64_t n = 0;
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != ".." && name != own) ++n;
  }
  return n;
}

// The address space a new thread asks for: its stack and guard, as glibc's defaults set them.
std::uint64_t thread_request_bytes() {
  pthread_attr_t attr;
  if (::pthread_getattr_default_np(&attr) != 0) return 0;
  std::size_t stack = 0, guard = 0;
  ::pthread_attr_getstacksize(&attr, &stack);
  ::pthread_attr_getguardsize(&attr, &guard);
  ::pthread_attr_destroy(&attr);
  return stack + guard;
}

// --- judging -----------------------------------------------------------------------------------

// One limit that can be judged, named after its gauge in LimitFigures.
enum class Id {
  cgroup_pids,
  nproc,
  pid_max,
  threads_max,
  map_count,
  address_space,
  nofile,
  file_max
};

// The limits that can make `what` fail with `err`, most specific first (the first wins a tie).
std::vector<Id> suspects(Want what, int err) {
  if (err == EMFILE) return {Id::nofile};
  if (err == ENFILE) return {Id::file_max};
  if (err != EAGAIN && err != ENOMEM) return {};
  switch (what) {
    case Want::thread:  // a task, and a stack to map
      return {Id::cgroup_pids, Id::nproc,     Id::pid_max,
              Id::threads_max, Id::map_count, Id::address_space};
    case Want::process:
      return {Id::cgroup_pids, Id::nproc, Id::pid_max, Id::threads_max};
    case Want::mapping:
    case Want::memory:
      return {Id::address_space, Id::map_count};
    case Want::descriptor:
      break;
  }
  return {};
}

const Gauge& gauge_of(Id id, const LimitFigures& f) {
  switch (id) {
    case Id::cgroup_pids:
      return f.cgroup_pids;
    case Id::nproc:
      return f.nproc;
    case Id::pid_max:
      return f.pid_max;
    case Id::threads_max:
      return f.threads_max;
    case Id::map_count:
      return f.map_count;
    case Id::address_space:
      return f.address_space;
    case Id::nofile:
      return f.nofile;
    case Id::file_max:
      return f.file_max;
  }
  return f.nproc;
}

// How close to its limit a gauge may be and still be the one that bit: the figures are read
// after the failure, while other tasks come and go, and some limits bite before the count
// reaches them.
std::uint64_t margin_of(Id id, std::uint64_t limit, const LimitFigures& f) {
  switch (id) {
    case Id::pid_max:
      // PIDs below 300 are not handed out again once the counter wraps (RESERVED_PIDS).
      return 300 + limit / 100;
    case Id::address_space:
      // The failed request is unknown unless given: an allocation or a stack can be large.
      return std::max({f.request_bytes, std::uint64_t{64} << 20, limit / 16});
    default:
      return std::max<std::uint64_t>(2, limit / 100);
  }
}

std::string mib(std::uint64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

std::string count_or_unlimited(std::uint64_t value, bool bytes = false) {
  if (value == kUnlimited) return "unlimited";
  return bytes ? mib(value) : std::to_string(value);
}

// "kernel.pid_max = 32768 and 32700 process IDs are in use": one limit, its value and usage.
std::string describe(Id id, Want what, const LimitFigures& f) {
  const Gauge& g = gauge_of(id, f);
  const auto limit = [&](const char* name, bool bytes = false) {
    return g.limit ? fmt::format("{} = {}", name, count_or_unlimited(*g.limit, bytes))
                   : fmt::format("{} could not be read", name);
  };
  const std::string used = g.used ? std::to_string(*g.used) : "";
  switch (id) {
    case Id::nproc: {
      std::string text = limit("RLIMIT_NPROC");
      if (f.nproc_exempt) {
        return text +
               (f.uid == 0 ? " (root is exempt)" : " (exempt: CAP_SYS_RESOURCE or CAP_SYS_ADMIN)");
      }
      if (g.used) text += fmt::format(" for uid {}, who has {} processes and threads", f.uid, used);
      return text;
    }
    case Id::threads_max:
      return limit("kernel.threads-max") +
             (g.used ? fmt::format(" and {} threads exist", used) : "");
    case Id::pid_max:
      return limit("kernel.pid_max") +
             (g.used ? fmt::format(" and {} process IDs are in use", used) : "");
    case Id::cgroup_pids: {
      if (!g.limit) return "the cgroup's pids.max could not be read";
      std::string text =
          fmt::format("the cgroup's pids.max = {} ({})",
                      *g.limit == kUnlimited ? "max" : std::to_string(*g.limit), f.cgroup_file);
      if (g.used) text += fmt::format(" and pids.current = {}", used);
      return text;
    }
    case Id::map_count:
      return limit("vm.max_map_count") +
             (g.used ? fmt::format(" and this process has {} mappings", used) : "");
    case Id::address_space:
      if (!g.used) return limit("RLIMIT_AS", true);
      return limit("RLIMIT_AS", true) +
             (what == Want::memory ? " and this process mapped up to "
                                   : " and this process maps ") +
             mib(*g.used);
    case Id::nofile:
      return limit("RLIMIT_NOFILE") +
             (g.used ? fmt::format(" and {} descriptors are open", used) : "");
    case Id::file_max:
      return limit("fs.file-max") +
             (g.used ? fmt::format(" and {} file handles are allocated", used) : "");
  }
  return {};
}

}  // namespace

LimitFigures read_limit_figures(Want what, int err) noexcept {
  LimitFigures f;
  try {
    const std::vector<Id> ids = suspects(what, err);
    const auto wanted = [&](Id id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); };
    const auto status = read_text("/proc/self/status", 1 << 16).value_or("");
    f.uid = static_cast<std::uint32_t>(::getuid());
    std::optional<std::uint64_t> threads;
    if (wanted(Id::threads_max) || wanted(Id::pid_max)) threads = threads_on_machine();
    if (wanted(Id::nproc)) {
      f.nproc.limit = soft_rlimit(RLIMIT_NPROC);
      f.nproc_exempt = nproc_waived(f.uid, status);
      // Counting a user's tasks reads every process's status: only where the limit applies.
      if (!f.nproc_exempt && f.nproc.limit && *f.nproc.limit != kUnlimited) {
        f.nproc.used = tasks_of_user(f.uid);
      }
    }
    if (wanted(Id::threads_max))
      f.threads_max = {read_number("/proc/sys/kernel/threads-max"), threads};
    if (wanted(Id::pid_max)) f.pid_max = {read_number("/proc/sys/kernel/pid_max"), threads};
    if (wanted(Id::cgroup_pids)) read_cgroup_pids(f);
    if (wanted(Id::map_count)) {
      f.map_count = {read_number("/proc/sys/vm/max_map_count"), count_lines("/proc/self/maps")};
    }
    if (wanted(Id::address_space)) {
      f.address_space.limit = soft_rlimit(RLIMIT_AS);
      if (const auto kib = status_number(status, what == Want::memory ? "VmPeak" : "VmSize")) {
        f.address_space.used = *kib * 1024;
      }
      if (what == Want::thread) f.request_bytes = thread_request_bytes();
    }
    if (wanted(Id::nofile)) {
      f.nofile.limit = soft_rlimit(RLIMIT_NOFILE);
      f.nofile.used = open_descriptors(f.nofile.limit);
    }
    if (wanted(Id::file_max)) {
      // fs.file-nr: "allocated  free  maximum".
      f.file_max = {read_number("/proc/sys/fs/file-max"), read_number("/proc/sys/fs/file-nr")};
    }
  } catch (...) {
    // Out of memory while reading: the figures read so far are all there is.
  }
  return f;
}

std::string name_limit(Want what, int err, const LimitFigures& figures) {
  const std::vector<Id> ids = suspects(what, err);
  if (ids.empty()) return {};
  // EMFILE and ENFILE have one cause each: name it, whatever its figures say.
  if (ids.size() == 1 && (err == EMFILE || err == ENFILE)) return describe(ids[0], what, figures);
  std::optional<Id> nearest;
  double nearest_score = 0;
  for (const Id id : ids) {
    const Gauge& g = gauge_of(id, figures);
    if (!g.limit || !g.used || *g.limit == kUnlimited) continue;
    if (id == Id::nproc && figures.nproc_exempt) continue;
    const std::uint64_t headroom = *g.used >= *g.limit ? 0 : *g.limit - *g.used;
    // Headroom in units of its margin: 0 is at the limit, 1 is as far as still counts as near.
    const double score =
        static_cast<double>(headroom) / static_cast<double>(margin_of(id, *g.limit, figures));
    if (score <= 1.0 && (!nearest || score < nearest_score)) {
      nearest = id;
      nearest_score = score;
    }
  }
  if (nearest) return describe(*nearest, what, figures);
  std::string text = "no limit checked is near: ";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) text += "; ";
    text += describe(ids[i], what, figures);
  }
  return text;
}

std::string limit_reason(Want what, int err) {
  return name_limit(what, err, read_limit_figures(what, err));
}

}  // namespace scalelab::detail

// The limit named when a thread, process, descriptor or mapping cannot be had
// (src/support/limits.*): the judgement fed made-up figures, one case per limit and per branch;
// the live figures of this machine; and the real scalelab binary run under a lowered limit
// (RLIMIT_NOFILE, RLIMIT_AS, a cgroup's pids.max), whose message must name that limit.
//
// RLIMIT_NPROC, kernel.pid_max, kernel.threads-max, vm.max_map_count and fs.file-max are
// judged only from made-up figures here: root is exempt from the first, and the others are
// system-wide settings a test must not lower on a shared machine. (tests/test_faults.cpp runs
// a child as `nobody` under RLIMIT_NPROC.)

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "models/builtin.hpp"  // src/: the test links scalelab_cli, which puts it on the path
#include "support/helpers.hpp"
#include "support/limits.hpp"
#include "support/sanitizers.hpp"

namespace scalelab {
namespace {

namespace fs = std::filesystem;
using detail::kUnlimited;
using detail::LimitFigures;
using detail::name_limit;
using detail::Want;
using testing::contains_all;
using testing::in_child;

constexpr std::uint64_t kMiB = 1024 * 1024;

// A quiet machine: every limit far from its figure.
LimitFigures quiet() {
  LimitFigures f;
  f.uid = 1000;
  f.nproc = {7000, 40};
  f.threads_max = {192726, 300};
  f.pid_max = {32768, 300};
  f.cgroup_pids = {kUnlimited, 20};
  f.cgroup_file = "/sys/fs/cgroup/user.slice/pids.max";
  f.nofile = {1024, 10};
  f.file_max = {2466126, 1000};
  f.map_count = {65530, 100};
  f.address_space = {kUnlimited, 300 * kMiB};
  f.request_bytes = 8 * kMiB + 4096;
  return f;
}

// --- the judgement, from made-up figures --------------------------------------------------------

// The case that was seen: 32455 threads of a 65536-thread pool started as root, then EAGAIN.
// kernel.pid_max bit (the first 300 PIDs are not reused), RLIMIT_NPROC did not.
TEST(NameLimit, PidMaxIsNamedWhenItBitNotTheTaskLimitThatDidNot) {
  LimitFigures f = quiet();
  f.uid = 0;
  f.nproc_exempt = true;
  f.nproc = {96549, std::nullopt};
  f.pid_max = {32768, 32460};
  f.threads_max = {192726, 32460};
  EXPECT_EQ(name_limit(Want::thread, EAGAIN, f),
            "kernel.pid_max = 32768 and 32460 process IDs are in use");
  // The same as an unprivileged user, far from its RLIMIT_NPROC: still pid_max.
  f.uid = 1000;
  f.nproc_exempt = false;
  f.nproc = {96549, 32470};
  EXPECT_EQ(name_limit(Want::process, EAGAIN, f),
            "kernel.pid_max = 32768 and 32460 process IDs are in use");
}

struct AtLimit {
  std::string label;
  Want what;
  int err;
  std::function<void(LimitFigures&)> set;
  std::string expected;
};

void PrintTo(const AtLimit& c, std::ostream* os) {
  *os << c.label;
}

class EachLimit : public ::testing::TestWithParam<AtLimit> {};

TEST_P(EachLimit, IsNamedWhenItIsTheOneAtItsLimit) {
  const AtLimit& c = GetParam();
  LimitFigures f = quiet();
  c.set(f);
  EXPECT_EQ(name_limit(c.what, c.err, f), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Limits, EachLimit,
    ::testing::Values(
        AtLimit{"cgroup_thread", Want::thread, EAGAIN,
                [](LimitFigures& f) {
                  f.cgroup_pids = {500, 500};
                },
                "the cgroup's pids.max = 500 (/sys/fs/cgroup/user.slice/pids.max) and "
                "pids.current = 500"},
        AtLimit{"cgroup_process", Want::process, EAGAIN,
                [](LimitFigures& f) {
                  f.cgroup_pids = {500, 499};
                },
                "the cgroup's pids.max = 500 (/sys/fs/cgroup/user.slice/pids.max) and "
                "pids.current = 499"},
        AtLimit{"nproc_thread", Want::thread, EAGAIN,
                [](LimitFigures& f) {
                  f.nproc = {12, 12};
                },
                "RLIMIT_NPROC = 12 for uid 1000, who has 12 processes and threads"},
        AtLimit{"nproc_process", Want::process, EAGAIN,
                [](LimitFigures& f) {
                  f.nproc = {96549, 96549};
                },
                "RLIMIT_NPROC = 96549 for uid 1000, who has 96549 processes and threads"},
        AtLimit{"threads_max", Want::thread, EAGAIN,
                [](LimitFigures& f) {
                  f.threads_max = {4000, 3999};
                  f.pid_max = {32768, 3999};
                },
                "kernel.threads-max = 4000 and 3999 threads exist"},
        AtLimit{"pid_max", Want::process, EAGAIN,
                [](LimitFigures& f) {
                  f.pid_max = {32768, 32760};
                  f.threads_max = {192726, 32760};
                },
                "kernel.pid_max = 32768 and 32760 process IDs are in use"},
        AtLimit{"map_count_thread", Want::thread, EAGAIN,
                [](LimitFigures& f) {
                  f.map_count = {65530, 65530};
                },
                "vm.max_map_count = 65530 and this process has 65530 mappings"},
        AtLimit{"map_count_mapping", Want::mapping, ENOMEM,
                [](LimitFigures& f) {
                  f.map_count = {65530, 65529};
                },
                "vm.max_map_count = 65530 and this process has 65529 mappings"},
        AtLimit{"address_space_thread", Want::thread, EAGAIN,
                [](LimitFigures& f) {
                  f.address_space = {1024 * kMiB, 1020 * kMiB};
                },
                "RLIMIT_AS = 1024.0 MiB and this process maps 1020.0 MiB"},
        AtLimit{"address_space_mapping", Want::mapping, ENOMEM,
                [](LimitFigures& f) {
                  f.address_space = {1024 * kMiB, 1000 * kMiB};
                },
                "RLIMIT_AS = 1024.0 MiB and this process maps 1000.0 MiB"},
        AtLimit{"address_space_memory", Want::memory, ENOMEM,
                [](LimitFigures& f) {
                  f.address_space = {384 * kMiB, 380 * kMiB};
                },
                "RLIMIT_AS = 384.0 MiB and this process mapped up to 380.0 MiB"},
        AtLimit{"nofile", Want::descriptor, EMFILE,
                [](LimitFigures& f) {
                  f.nofile = {64, 64};
                },
                "RLIMIT_NOFILE = 64 and 64 descriptors are open"},
        AtLimit{"file_max", Want::descriptor, ENFILE,
                [](LimitFigures& f) {
                  f.file_max = {2466126, 2466126};
                },
                "fs.file-max = 2466126 and 2466126 file handles are allocated"}),
    [](const auto& info) { return info.param.label; });

TEST(NameLimit, TheNearestOfSeveralNearLimitsIsNamed) {
  LimitFigures f = quiet();
  f.cgroup_pids = {500, 497};  // 3 left of a margin of 5
  f.nproc = {12, 12};          // none left
  EXPECT_EQ(name_limit(Want::thread, EAGAIN, f),
            "RLIMIT_NPROC = 12 for uid 1000, who has 12 processes and threads");
  // Both at their limit: the more specific, the cgroup, comes first.
  f.cgroup_pids = {500, 500};
  EXPECT_EQ(name_limit(Want::thread, EAGAIN, f),
            "the cgroup's pids.max = 500 (/sys/fs/cgroup/user.slice/pids.max) and "
            "pids.current = 500");
}

TEST(NameLimit, WhenNoLimitIsNearEveryOneCheckedIsListedWithItsFigures) {
  EXPECT_EQ(name_limit(Want::thread, EAGAIN, quiet()),
            "no limit checked is near: the cgroup's pids.max = max "
            "(/sys/fs/cgroup/user.slice/pids.max) and pids.current = 20; RLIMIT_NPROC = 7000 for "
            "uid 1000, who has 40 processes and threads; kernel.pid_max = 32768 and 300 process "
            "IDs are in use; kernel.threads-max = 192726 and 300 threads exist; vm.max_map_count "
            "= 65530 and this process has 100 mappings; RLIMIT_AS = unlimited and this process "
            "maps 300.0 MiB");
  EXPECT_EQ(name_limit(Want::memory, ENOMEM, quiet()),
            "no limit checked is near: RLIMIT_AS = unlimited and this process mapped up to 300.0 "
            "MiB; vm.max_map_count = 65530 and this process has 100 mappings");
}

TEST(NameLimit, RootAndCapableProcessesAreNotBlamedOnRlimitNproc) {
  LimitFigures f = quiet();
  f.nproc = {12, 12};
  f.nproc_exempt = true;
  f.uid = 0;
  const std::string root = name_limit(Want::process, EAGAIN, f);
  EXPECT_TRUE(root.starts_with("no limit checked is near: ")) << root;
  EXPECT_TRUE(contains_all(root, {"RLIMIT_NPROC = 12 (root is exempt)"}));
  f.uid = 1000;
  EXPECT_TRUE(contains_all(name_limit(Want::process, EAGAIN, f),
                           {"RLIMIT_NPROC = 12 (exempt: CAP_SYS_RESOURCE or CAP_SYS_ADMIN)"}));
  // Exempt, with pid_max at its limit: pid_max is named.
  f.pid_max = {32768, 32768};
  EXPECT_EQ(name_limit(Want::process, EAGAIN, f),
            "kernel.pid_max = 32768 and 32768 process IDs are in use");
}

TEST(NameLimit, FiguresThatCouldNotBeReadAreNeverBlamed) {
  const LimitFigures none;
  EXPECT_EQ(name_limit(Want::process, EAGAIN, none),
            "no limit checked is near: the cgroup's pids.max could not be read; RLIMIT_NPROC "
            "could not be read; kernel.pid_max could not be read; kernel.threads-max could not "
            "be read");
  // A limit without its usage, or a usage without its limit, is not judged either.
  LimitFigures half = quiet();
  half.nproc = {12, std::nullopt};
  half.pid_max = {std::nullopt, 40000};
  const std::string text = name_limit(Want::process, EAGAIN, half);
  EXPECT_TRUE(text.starts_with("no limit checked is near: ")) << text;
  EXPECT_TRUE(contains_all(text, {"RLIMIT_NPROC = 12; ", "kernel.pid_max could not be read"}));
}

TEST(NameLimit, AnUnlimitedLimitIsNeverTheOneThatBit) {
  LimitFigures f = quiet();
  f.cgroup_pids = {kUnlimited, 1u << 30};
  f.nproc = {kUnlimited, 1u << 30};
  f.address_space = {kUnlimited, kUnlimited - 1};
  const std::string text = name_limit(Want::thread, EAGAIN, f);
  EXPECT_TRUE(text.starts_with("no limit checked is near: ")) << text;
  EXPECT_TRUE(
      contains_all(text, {"pids.max = max", "RLIMIT_NPROC = unlimited", "RLIMIT_AS = unlimited"}));
}

TEST(NameLimit, PidMaxCountsAsReachedThreeHundredBeforeIt) {
  // RESERVED_PIDS: once the PID counter wraps, the first 300 are not handed out again.
  LimitFigures f = quiet();
  f.pid_max = {32768, 32768 - 600};  // within 300 + 1 %
  EXPECT_EQ(name_limit(Want::process, EAGAIN, f),
            "kernel.pid_max = 32768 and 32168 process IDs are in use");
  f.pid_max = {32768, 32768 - 700};
  EXPECT_TRUE(name_limit(Want::process, EAGAIN, f).starts_with("no limit checked is near: "));
}

TEST(NameLimit, TheAddressSpaceIsNearWithinTheSizeOfTheRequest) {
  LimitFigures f = quiet();
  f.address_space = {4096 * kMiB, 3800 * kMiB};  // 296 MiB left: more than 1/16 of the limit
  f.request_bytes = 0;
  EXPECT_TRUE(name_limit(Want::mapping, ENOMEM, f).starts_with("no limit checked is near: "));
  f.request_bytes = 512 * kMiB;  // a request larger than what is left
  EXPECT_EQ(name_limit(Want::mapping, ENOMEM, f),
            "RLIMIT_AS = 4096.0 MiB and this process maps 3800.0 MiB");
}

TEST(NameLimit, EmfileAndEnfileHaveOneCauseEachWhateverTheFigures) {
  LimitFigures f = quiet();  // 10 of 1024 descriptors open: read after some were closed
  EXPECT_EQ(name_limit(Want::descriptor, EMFILE, f),
            "RLIMIT_NOFILE = 1024 and 10 descriptors are open");
  EXPECT_EQ(name_limit(Want::thread, EMFILE, f),  // asio's epoll descriptor, say
            "RLIMIT_NOFILE = 1024 and 10 descriptors are open");
  f.nofile = {64, std::nullopt};
  EXPECT_EQ(name_limit(Want::mapping, EMFILE, f), "RLIMIT_NOFILE = 64");
  f.file_max = {};
  EXPECT_EQ(name_limit(Want::descriptor, ENFILE, f), "fs.file-max could not be read");
}

TEST(NameLimit, LimitsThatCannotCauseTheFailureAreNotSuspected) {
  LimitFigures f = quiet();
  f.address_space = {1024 * kMiB, 1024 * kMiB};
  f.map_count = {65530, 65530};
  // fork takes no new address space nor mapping.
  const std::string text = name_limit(Want::process, EAGAIN, f);
  EXPECT_TRUE(text.starts_with("no limit checked is near: ")) << text;
  EXPECT_EQ(text.find("RLIMIT_AS"), std::string::npos) << text;
  EXPECT_EQ(text.find("max_map_count"), std::string::npos) << text;
  // A mapping takes no task.
  f = quiet();
  f.pid_max = {32768, 32768};
  EXPECT_EQ(name_limit(Want::mapping, ENOMEM, f).find("pid_max"), std::string::npos);
  // Errors no limit causes name none; a descriptor short of kernel memory names none.
  EXPECT_EQ(name_limit(Want::thread, EINVAL, quiet()), "");
  EXPECT_EQ(name_limit(Want::descriptor, ENOMEM, quiet()), "");
  EXPECT_EQ(name_limit(Want::process, EPERM, quiet()), "");
}

// --- the live figures ---------------------------------------------------------------------------

TEST(ReadLimitFigures, ReadsThisMachinesFiguresForAThread) {
  const LimitFigures f = detail::read_limit_figures(Want::thread, EAGAIN);
  ASSERT_TRUE(f.pid_max.limit.has_value()) << "/proc/sys/kernel/pid_max";
  EXPECT_GT(*f.pid_max.limit, 0u);
  ASSERT_TRUE(f.pid_max.used.has_value()) << "/proc/loadavg";
  EXPECT_GE(*f.pid_max.used, 1u);  // this thread, at least
  ASSERT_TRUE(f.threads_max.limit.has_value()) << "/proc/sys/kernel/threads-max";
  ASSERT_TRUE(f.map_count.used.has_value()) << "/proc/self/maps";
  EXPECT_GT(*f.map_count.used, 0u);
  ASSERT_TRUE(f.address_space.used.has_value()) << "VmSize in /proc/self/status";
  EXPECT_GT(*f.address_space.used, 0u);
  EXPECT_GT(f.request_bytes, 0u);  // a thread's stack
  rlimit nproc{};
  ASSERT_EQ(::getrlimit(RLIMIT_NPROC, &nproc), 0);
  ASSERT_TRUE(f.nproc.limit.has_value());
  EXPECT_EQ(*f.nproc.limit, nproc.rlim_cur == RLIM_INFINITY ? kUnlimited : nproc.rlim_cur);
  EXPECT_EQ(f.uid, ::getuid());
  if (::getuid() == 0) {
    // Root of the first user namespace is exempt; in a container's namespace it is not.
    std::ifstream map("/proc/self/uid_map");
    std::uint64_t inside = 1, outside = 1, count = 0;
    map >> inside >> outside >> count;
    if (inside == 0 && outside == 0 && count == 4294967295u) {
      EXPECT_TRUE(f.nproc_exempt);
    }
  }
  if (!f.nproc_exempt && f.nproc.limit != kUnlimited) {
    ASSERT_TRUE(f.nproc.used.has_value());
    EXPECT_GE(*f.nproc.used, 1u);
  }
  // Not suspects of a thread: left unread.
  EXPECT_FALSE(f.nofile.limit.has_value());
  EXPECT_FALSE(f.file_max.limit.has_value());
}

TEST(ReadLimitFigures, ReadsOnlyWhatTheFailureConcerns) {
  const LimitFigures none = detail::read_limit_figures(Want::thread, EINVAL);
  EXPECT_FALSE(none.pid_max.limit || none.nproc.limit || none.address_space.limit ||
               none.nofile.limit || none.cgroup_pids.limit);
  const LimitFigures d = detail::read_limit_figures(Want::descriptor, EMFILE);
  ASSERT_TRUE(d.nofile.limit.has_value());
  ASSERT_TRUE(d.nofile.used.has_value());
  EXPECT_GE(*d.nofile.used, 3u);  // stdin, stdout, stderr
  EXPECT_FALSE(d.pid_max.limit.has_value());
  const LimitFigures m = detail::read_limit_figures(Want::memory, ENOMEM);
  ASSERT_TRUE(m.address_space.used.has_value()) << "VmPeak in /proc/self/status";
  EXPECT_EQ(m.request_bytes, 0u);
}

TEST(ReadLimitFigures, WithEveryDescriptorTakenTheCountIsTheLimit) {
  // Not even /proc/self/fd can be opened then: every number below the limit is in use.
  const std::string text = in_child([] {
    const int null = ::open("/dev/null", O_RDONLY);
    if (null < 0) return std::string("cannot open /dev/null");
    const rlim_t limit = 1040;  // above every descriptor a test process has open
    const rlimit rl{limit, limit};
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return std::string("setrlimit failed");
    while (::dup(null) >= 0) {
    }
    if (errno != EMFILE) return std::string("dup did not run out of descriptors");
    return detail::resource_error_text(Want::descriptor, EMFILE);
  });
  EXPECT_EQ(text, "Too many open files (RLIMIT_NOFILE = 1040 and 1040 descriptors are open)");
}

// --- the real binary under a lowered limit -------------------------------------------------------

struct Outcome {
  int code = -1;
  std::string err;  // stderr
};

// Runs the scalelab binary with `args` in `dir`, stderr to a file there. In the child, `prepare`
// runs just before exec (async-signal-safe calls only: the child of a fork). When `procs` is
// given, the parent first writes the child's PID there (a cgroup's cgroup.procs) and skips the
// run, returning nothing, if that fails.
std::optional<Outcome> run_scalelab(const std::vector<std::string>& args, const fs::path& dir,
                                    const std::function<void()>& prepare,
                                    const std::string& procs = "") {
  std::vector<std::string> storage{SCALELAB_EXE};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const std::string err_path = (dir / "stderr.txt").string();
  int gate[2];  // the child waits on it until it is in its cgroup
  if (::pipe2(gate, O_CLOEXEC) != 0) return Outcome{};
  const pid_t pid = ::fork();
  if (pid < 0) return Outcome{};
  if (pid == 0) {
    ::close(gate[1]);
    char byte = 0;
    while (::read(gate[0], &byte, 1) < 0 && errno == EINTR) {
    }
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int null = ::open("/dev/null", O_RDWR);
    if (err < 0 || null < 0) ::_exit(125);
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    prepare();
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(gate[0]);
  bool joined = true;
  if (!procs.empty()) {
    std::ofstream out(procs);
    out << pid << '\n';
    out.flush();
    joined = static_cast<bool>(out);
  }
  if (!joined) ::kill(pid, SIGKILL);
  ::close(gate[1]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!joined) return std::nullopt;
  Outcome outcome;
  outcome.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  outcome.err = testing::read_file(err_path);
  return outcome;
}

// One trial of `model` at `workers` workers: more than a lowered limit allows.
std::vector<std::string> one_trial(const std::string& model, int workers, const fs::path& out) {
  return {"run",
          "--model",
          model,
          "--workload",
          "noop",
          "--workers",
          std::to_string(workers),
          "--tasks",
          "4",
          "--repeat",
          "1",
          "--no-warmup",
          "--out",
          out.string(),
          "--quiet"};
}

class LoweredLimit : public testing::ScratchDirTest {};

TEST_F(LoweredLimit, RlimitNofileIsNamedWithTheDescriptorsOpen) {
  const auto r = run_scalelab(one_trial("processes", 200, dir_ / "out"), dir_, [] {
    const rlimit rl{40, 40};
    ::setrlimit(RLIMIT_NOFILE, &rl);
  });
  ASSERT_TRUE(r.has_value());
  ::testing::Test::RecordProperty("stderr", r->err);
  EXPECT_EQ(r->code, 1) << r->err;
  EXPECT_TRUE(contains_all(r->err, {"could not create the socket for worker ",
                                    " of 200: ", "Too many open files (RLIMIT_NOFILE = 40 and ",
                                    " descriptors are open)"}));
}

TEST_F(LoweredLimit, RlimitAsIsNamedWithWhatTheProcessMaps) {
  if (testing::kAddressSanitizer || testing::kThreadSanitizer) {
    GTEST_SKIP() << "the sanitizers reserve terabytes of address space: they cannot run under "
                    "RLIMIT_AS";
  }
  const auto r = run_scalelab(one_trial("threads", 4000, dir_ / "out"), dir_, [] {
    const rlimit rl{512 * kMiB, 512 * kMiB};  // room for a few dozen 8 MiB stacks
    ::setrlimit(RLIMIT_AS, &rl);
  });
  ASSERT_TRUE(r.has_value());
  ::testing::Test::RecordProperty("stderr", r->err);
  EXPECT_EQ(r->code, 1) << r->err;
  EXPECT_TRUE(contains_all(r->err, {"could not start thread ", " of 4000: ",
                                    "Resource temporarily unavailable (RLIMIT_AS = 512.0 MiB and "
                                    "this process maps "}));
}

// A pids cgroup of our own, removed afterwards with anything left in it.
class PidsCgroup {
 public:
  // Where one can be made: under cgroup v1's pids hierarchy, or under cgroup v2's root when the
  // root hands the pids controller to its children. Empty, with the reason, when nowhere.
  static std::string parent_dir(std::string& why) {
    std::ifstream mounts("/proc/self/mounts");
    std::string device, point, type, options, rest;
    std::string v2;
    while (mounts >> device >> point >> type >> options && std::getline(mounts, rest)) {
      if (type == "cgroup" && ("," + options + ",").find(",pids,") != std::string::npos) {
        return point;
      }
      if (type == "cgroup2" && v2.empty()) v2 = point;
    }
    if (v2.empty()) {
      why = "no cgroup hierarchy has the pids controller";
      return "";
    }
    const std::string control = testing::read_file(fs::path(v2) / "cgroup.subtree_control");
    if ((" " + control).find(" pids") == std::string::npos) {
      why = "cgroup v2 at " + v2 + " does not enable the pids controller for its children";
      return "";
    }
    return v2;
  }

  explicit PidsCgroup(const std::string& parent, const std::string& name)
      : dir_(fs::path(parent) / name) {}
  PidsCgroup(const PidsCgroup&) = delete;
  PidsCgroup& operator=(const PidsCgroup&) = delete;

  // Makes it with pids.max = `max`; false, with the reason, if it cannot.
  bool make(int max, std::string& why) {
    if (::mkdir(dir_.c_str(), 0755) != 0) {
      why = "cannot make " + dir_.string() + ": " + std::strerror(errno);
      return false;
    }
    made_ = true;
    std::ofstream limit(dir_ / "pids.max");
    limit << max << '\n';
    limit.flush();
    if (!limit) why = "cannot write " + (dir_ / "pids.max").string();
    return static_cast<bool>(limit);
  }

  ~PidsCgroup() {
    if (!made_) return;
    // Workers die with scalelab (PR_SET_PDEATHSIG) but may take a moment to be reaped; a cgroup
    // with tasks in it cannot be removed.
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::ifstream procs(dir_ / "cgroup.procs");
      pid_t pid = 0;
      while (procs >> pid) ::kill(pid, SIGKILL);
      if (::rmdir(dir_.c_str()) == 0 || errno == ENOENT) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
  bool made_ = false;
};

class CgroupPidsLimit : public testing::ScratchDirTest,
                        public ::testing::WithParamInterface<std::string> {};

TEST_P(CgroupPidsLimit, IsNamedWithItsFileAndPidsCurrent) {
  const std::string model = GetParam();
  std::string why;
  const std::string parent = PidsCgroup::parent_dir(why);
  if (parent.empty()) GTEST_SKIP() << why;
  PidsCgroup cgroup(parent, "scalelab-test-limits-" + std::to_string(::getpid()) + "-" + model);
  if (!cgroup.make(16, why)) GTEST_SKIP() << why << " (making a cgroup needs root)";
  const auto r = run_scalelab(
      one_trial(model, 100, dir_ / "out"), dir_, [] {}, (cgroup.dir() / "cgroup.procs").string());
  if (!r) GTEST_SKIP() << "cannot move a process into " << cgroup.dir();
  ::testing::Test::RecordProperty("stderr", r->err);
  EXPECT_EQ(r->code, 1) << r->err;
  const std::string named = "Resource temporarily unavailable (the cgroup's pids.max = 16 (" +
                            (cgroup.dir() / "pids.max").string() + ") and pids.current = ";
  EXPECT_TRUE(contains_all(
      r->err, {model == "processes" ? "could not start worker process " : "could not start thread ",
               " of 100: ", named.c_str()}));
}

INSTANTIATE_TEST_SUITE_P(Limits, CgroupPidsLimit, ::testing::Values("threads", "processes", "gil"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace scalelab

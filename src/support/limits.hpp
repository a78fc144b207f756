#pragma once
// Which limit bit when a thread, process, descriptor or mapping could not be had. The live
// figures are read by one function and judged by another, pure one, so that every branch of the
// judgement can be tested with made-up figures instead of a machine brought to its limits.

#include <cstdint>
#include <optional>
#include <string>

namespace scalelab::detail {

/// What could not be had.
enum class Want {
  thread,      ///< a thread (pthread_create, std::thread)
  process,     ///< a process (fork)
  descriptor,  ///< a descriptor: socket, pipe, file
  mapping,     ///< a memory mapping (mmap, memfd), measured before anything was released
  memory,      ///< an allocation (std::bad_alloc), judged after the unwinding freed it
};

/// A limit's value as the figures hold it when it has none ("unlimited", "max").
inline constexpr std::uint64_t kUnlimited = UINT64_MAX;

/// One limit and how much of it is in use; either is empty when it could not be read.
struct Gauge {
  std::optional<std::uint64_t> limit;  ///< kUnlimited when there is none
  std::optional<std::uint64_t> used;
};

/// The figures of every limit that can stop a thread, process, descriptor or mapping.
struct LimitFigures {
  Gauge nproc;            ///< RLIMIT_NPROC (soft) and the tasks, threads included, of the real user
  std::uint32_t uid = 0;  ///< that user
  bool nproc_exempt = false;        ///< root or CAP_SYS_RESOURCE/CAP_SYS_ADMIN in the first user ns
  Gauge threads_max;                ///< kernel.threads-max and the threads on the machine
  Gauge pid_max;                    ///< kernel.pid_max and the process IDs in use (one per thread)
  Gauge cgroup_pids;                ///< pids.max and pids.current of the cgroup nearest its limit
  std::string cgroup_file;          ///< that cgroup's pids.max file
  Gauge nofile;                     ///< RLIMIT_NOFILE (soft) and this process's open descriptors
  Gauge file_max;                   ///< fs.file-max and the file handles allocated (fs.file-nr)
  Gauge map_count;                  ///< vm.max_map_count and this process's mappings
  Gauge address_space;              ///< RLIMIT_AS (soft) in bytes and this process's VmSize
                                    ///< (VmPeak for Want::memory: the allocation is freed by then)
  std::uint64_t request_bytes = 0;  ///< address space the failed call asked for, 0 if unknown
};

/// Reads, from /proc, /sys and getrlimit, the figures of the limits that can make `what` fail
/// with `err`; the others stay empty. A file that is missing or unreadable leaves its figure
/// empty. Call it before releasing what was had (threads joined, descriptors closed), or the
/// usage read is not the usage that failed.
LimitFigures read_limit_figures(Want what, int err) noexcept;

/// The limit that stopped `what` with `err`, judged from `figures` alone: the one at or nearest
/// its limit, with its value and usage ("kernel.pid_max = 32768 and 32700 process IDs are in
/// use"); when none is near, every limit checked with its figures ("no limit checked is near:
/// …"). Empty when `err` is not one that a limit causes (EINVAL, say).
std::string name_limit(Want what, int err, const LimitFigures& figures);

/// name_limit of the live figures.
std::string limit_reason(Want what, int err);

}  // namespace scalelab::detail

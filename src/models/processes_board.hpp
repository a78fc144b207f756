#pragma once
// The processes model's task board: which task each worker runs, in memory shared with the
// workers. Internal to src/models/processes*.cpp.

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "models/builtin.hpp"

namespace scalelab::detail::proc {

// One worker's entry on the task board: the task it runs, or kIdle.
using BoardEntry = std::atomic<std::uint64_t>;
static_assert(BoardEntry::is_always_lock_free, "shared between processes: must be lock-free");
constexpr std::uint64_t kIdle = ~std::uint64_t{0};
constexpr std::size_t kEntryStride = 64;  // a cache line each: workers on other cores write them

// Which task each worker is running, in memory shared with the workers: a worker writes its
// entry around each task (a relaxed store, nothing on the wire), the parent reads it when a
// worker dies or a batch is cut short. Forked workers inherit the mapping; spawned ones map the
// memfd behind it, passed on their command line.
class TaskBoard {
 public:
  TaskBoard(std::size_t workers, bool for_exec)
      : size_(std::max<std::size_t>(workers, 1) * kEntryStride) {
    int flags = MAP_SHARED;
    if (for_exec) {
      fd_ = ::memfd_create("scalelab-task-board", MFD_CLOEXEC);
      if (fd_ < 0 || ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) fail();
    } else {
      flags |= MAP_ANONYMOUS;
    }
    void* base = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, flags, fd_, 0);
    if (base == MAP_FAILED) fail();
    base_ = static_cast<char*>(base);
    for (std::size_t i = 0; i < size_ / kEntryStride; ++i) {
      std::construct_at(reinterpret_cast<BoardEntry*>(base_ + i * kEntryStride), kIdle);
    }
  }
  TaskBoard(const TaskBoard&) = delete;
  TaskBoard& operator=(const TaskBoard&) = delete;
  ~TaskBoard() {
    if (base_ != nullptr) ::munmap(base_, size_);
    if (fd_ >= 0) ::close(fd_);
  }

  BoardEntry& operator[](std::size_t i) {
    return *std::launder(reinterpret_cast<BoardEntry*>(base_ + i * kEntryStride));
  }
  int fd() const { return fd_; }  // -1 unless for_exec

  // In a spawned worker: its own entry on the board behind `fd`, or null if it cannot be one.
  static BoardEntry* map_entry(int fd, std::size_t index) {
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<std::size_t>(st.st_size) < (index + 1) * kEntryStride) {
      return nullptr;
    }
    void* base = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE,
                        MAP_SHARED, fd, 0);
    ::close(fd);  // the mapping stays; the worker needs no descriptor for it
    if (base == MAP_FAILED) return nullptr;
    // Kept until the worker exits, which unmaps it.
    return std::launder(
        reinterpret_cast<BoardEntry*>(static_cast<char*>(base) + index * kEntryStride));
  }

 private:
  [[noreturn]] void fail() {
    const int err = errno;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(fmt::format("could not map the workers' task board: {}",
                                         resource_error_text(Want::mapping, err)));
  }
  std::size_t size_;
  int fd_ = -1;
  char* base_ = nullptr;
};

}  // namespace scalelab::detail::proc

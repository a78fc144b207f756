#pragma once
/// \file registry.hpp
/// A name → entry table: how models and workloads are found by the name a user types. An entry
/// (ModelEntry, WorkloadEntry) holds at least `name` and `summary`, and what builds the thing.

#include <algorithm>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace scalelab {

/// Entries are kept in the order they were added, so `scalelab list` is stable.
/// This class is thread-safe.
template <class EntryType>
class Registry {
 public:
  /// One registered name and what comes with it.
  using Entry = EntryType;

  /// Adds or replaces the entry called `entry.name`.
  void add(Entry entry) {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const Entry& e) { return e.name == entry.name; });
    if (it != entries_.end()) {
      *it = std::move(entry);
    } else {
      entries_.push_back(std::move(entry));
    }
  }

  /// The entry called `name`, or nothing.
  std::optional<Entry> find(const std::string& name) const {
    std::lock_guard lock(mutex_);
    for (const auto& e : entries_) {
      if (e.name == name) return e;
    }
    return std::nullopt;
  }

  /// Every entry, in registration order.
  std::vector<Entry> entries() const {
    std::lock_guard lock(mutex_);
    return entries_;
  }

  /// "a, b, c": the names, for error messages.
  std::string names() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& e : entries_) {
      if (!out.empty()) out += ", ";
      out += e.name;
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

}  // namespace scalelab

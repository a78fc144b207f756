#pragma once
// The steps every kind of session shares (session.cpp: a sweep; granularity_session.cpp: a
// granularity sweep), so that both record, resume and end alike.

#include <filesystem>
#include <functional>
#include <string>

#include "scalelab/records.hpp"
#include "scalelab/session.hpp"

namespace scalelab::detail {

/// Calls `to` with `text` when it is set.
inline void tell(const std::function<void(const std::string&)>& to, const std::string& text) {
  if (to) to(text);
}

/// Creates `folder`, fills in the header's environment (warning through the observer about
/// the machine) and writes the header. Throws Error when the folder cannot be made.
RecordWriter open_records(const std::filesystem::path& folder, RunHeader& header,
                          const SessionObserver& observer);

/// The records of a run to continue; a torn or unreadable line is a record warning.
RecordedRun read_to_continue(const std::filesystem::path& folder, const SessionObserver& observer);

/// The records of `folder` opened to append, with the resume line written.
RecordWriter continue_records(const std::filesystem::path& folder, std::size_t remaining);

/// Runs `plan` into `records` (each counted trial as it ends, the failures collected) and
/// writes the end line.
SessionResult record_plan(const Plan& plan, RecordWriter& records,
                          const std::filesystem::path& folder, const SessionObserver& observer);

/// The "analysis" phase's start: the records as they are on disk.
RecordedRun read_back(const std::filesystem::path& folder, const SessionObserver& observer);

/// The result of a session stopped before its first trial, in `phase`.
SessionResult stopped_in(std::string phase);

}  // namespace scalelab::detail

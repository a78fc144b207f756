#pragma once
/// \file parse.hpp
/// Parsers for the values a user types: durations, counts, worker lists, name lists.
/// Each throws scalelab::Error naming `flag` and what is allowed, and nothing else, whatever the
/// bytes: the message quotes at most the first 64 bytes of the input, control characters escaped,
/// so it stays one line.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace scalelab {

/// `text` as an error message may quote it: the CLI prints an Error as one line, so control
/// characters (a newline, a terminal escape) are escaped as \xNN, and text past `max_bytes` is
/// cut short (never inside a UTF-8 character) with its length said, rather than echoed whole.
std::string shown(std::string_view text, std::size_t max_bytes = 64);

/// Parses "20ms", "5 ms", "1.5s", "250us", "100ns", "2m" into nanoseconds. A bare number is
/// rejected: a duration always carries its unit. No sign, no exponent. Must be > 0 unless
/// `allow_zero` (then exactly 0 is allowed too), and at most 24 hours (86400s, 1440m).
std::chrono::nanoseconds parse_duration(std::string_view text, std::string_view flag,
                                        bool allow_zero = false);

/// Parses a decimal integer without a sign ("-0" is refused) in [min, max], where 0 <= min.
std::int64_t parse_count(std::string_view text, std::string_view flag, std::int64_t min,
                         std::int64_t max);

/// Parses a fraction from 0 to 1 ("0.25", "1", "0"); NaN, infinities, percentages and
/// anything outside [0, 1] are errors.
double parse_fraction(std::string_view text, std::string_view flag);

/// Splits "a, b,c" at its commas into the items, each trimmed of spaces; an empty item stays
/// (""), for the caller to refuse with its own message.
std::vector<std::string_view> split_list(std::string_view text);

/// Parses a worker list: "1,2,8", "1..16" (powers of two from the lower bound, upper bound
/// included: "1..12" is 1,2,4,8,12), or a mix "1..8,12". Sorted, duplicates removed.
std::vector<int> parse_workers(std::string_view text, std::string_view flag, int max_workers);

/// Splits "a,b,c" into names, trimming spaces, in order, duplicates dropped; an empty item or a
/// control character in a name is an error.
std::vector<std::string> parse_name_list(std::string_view text, std::string_view flag);

/// Formats a duration in seconds the way people write it: "20ms", "1.5s", "250us".
std::string format_duration(double seconds);
/// The same for a std::chrono duration: "300ms", "2s".
inline std::string format_duration(std::chrono::nanoseconds length) {
  return format_duration(std::chrono::duration<double>(length).count());
}

}  // namespace scalelab

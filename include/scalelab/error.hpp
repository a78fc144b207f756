#pragma once
/// \file error.hpp
/// The one error type of scalelab.

#include <stdexcept>
#include <string>

namespace scalelab {

/// Bad input or an impossible request. The message names the flag (or field) and what is
/// allowed, so that the CLI can print it as one line and exit 2.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace scalelab

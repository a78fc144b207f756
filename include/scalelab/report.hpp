#pragma once
/// \file report.hpp
/// Reporters: format results computed elsewhere; they never compute figures themselves.

#include <ostream>
#include <string>
#include <vector>

#include "scalelab/analysis.hpp"

namespace scalelab {

/// Prints one table per workload: model, workers, median wall, speedup, efficiency, CPU
/// utilisation, and a line for failed trials.
void print_console_tables(std::ostream& out, const std::vector<SummaryRow>& rows);

}  // namespace scalelab

#pragma once
/// \file plugins.hpp
/// The parameters of every registered model and workload, gathered from their declarations:
/// what the command line turns into flags, what a spec records, what a report shows.

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "scalelab/model.hpp"
#include "scalelab/params.hpp"
#include "scalelab/workload.hpp"

namespace scalelab {

/// One parameter and the plug-ins that declared it.
struct DeclaredParam {
  Param param;
  std::vector<std::string> workloads;  ///< workloads that take it
  std::vector<std::string> models;     ///< models that take it
  /// Whether any of `selected_workloads` or `selected_models` takes it.
  bool used_by(const std::vector<std::string>& selected_workloads,
               const std::vector<std::string>& selected_models) const;
  /// "only the python workload uses it; add python to --workload": why a flag of a plug-in
  /// that is not selected is bad input.
  std::string unused_reason() const;
};

/// Every parameter of every registered model and workload, models' first, each once, in
/// registration order. Throws Error when two plug-ins declare one name differently (kind,
/// default or choices), or a parameter's field is one of the spec's own (tasks, seed, …).
std::vector<DeclaredParam> declared_params();

/// `declared` narrowed to the parameters that `workloads` and `models` take.
std::vector<DeclaredParam> params_of(const std::vector<DeclaredParam>& declared,
                                     const std::vector<std::string>& workloads,
                                     const std::vector<std::string>& models);

/// A value given for `param`, checked against its declaration (Param::check), or a list of
/// them: a scan axis, each value once. A list of one value is that value. Throws Error
/// starting with `where` for a value that breaks the declaration or is listed twice.
nlohmann::json check_value(const Param& param, const nlohmann::json& value, std::string_view where);

/// The values of `params` from `given` (by field), each checked against its declaration, with
/// its default where `given` has none. Throws Error naming the flag of a value that breaks
/// its declaration.
ParamValues with_defaults(const std::vector<Param>& params, const ParamValues& given);

/// The parameters among `typed` (name → what the user typed) whose names are in `given`,
/// each parsed by its declaration, by field; a comma-separated list is a scan axis. Throws Error
/// naming the flag of a value that does not parse.
ParamValues parse_typed(const std::map<std::string, std::string>& typed,
                        const std::set<std::string>& given);

/// Throws Error for the first field of `values` that no plug-in among `workloads` and
/// `models` takes ("--switch-interval: only the gil model uses it; add gil to --model"), or
/// that no plug-in declares at all: a value nobody reads would be ignored without a word.
void check_taken(const ParamValues& values, const std::vector<std::string>& workloads,
                 const std::vector<std::string>& models);

/// The declarations in `declared`, as Params.
std::vector<Param> params_only(const std::vector<DeclaredParam>& declared);

}  // namespace scalelab

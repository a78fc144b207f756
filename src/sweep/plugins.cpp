// The registered plug-ins' parameter declarations, gathered and checked.

#include "scalelab/plugins.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"

namespace scalelab {
namespace {

// Fields of the spec itself: a plug-in parameter may not take one over.
constexpr const char* kSpecFields[] = {"workloads",
                                       "models",
                                       "workers",
                                       "tasks",
                                       "repeat",
                                       "warmup",
                                       "seed",
                                       "out",
                                       "resume",
                                       "rerun_disturbed",
                                       "trial_timeout_s",
                                       "force",
                                       "quiet",
                                       "help",
                                       "version",
                                       "no_warmup",
                                       "q",
                                       "h",
                                       "workload",
                                       "model",
                                       "list",
                                       "env",
                                       "report",
                                       "compare",
                                       "granularity"};

bool same_declaration(const Param& a, const Param& b) {
  return a.kind == b.kind && a.default_text == b.default_text && a.choices == b.choices;
}

std::string users_text(const DeclaredParam& d) {
  std::vector<std::string> parts;
  for (const auto& w : d.workloads) parts.push_back(fmt::format("the {} workload", w));
  for (const auto& m : d.models) parts.push_back(fmt::format("the {} model", m));
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " and ") + p;
  return out;
}

void add(std::vector<DeclaredParam>& all, const Param& param, const std::string& owner,
         bool model) {
  const std::string key = param.key();
  if (std::find(std::begin(kSpecFields), std::end(kSpecFields), key) != std::end(kSpecFields) ||
      std::find(std::begin(kSpecFields), std::end(kSpecFields), param.name) !=
          std::end(kSpecFields)) {
    throw Error(fmt::format("{} {}: its parameter {} is one of scalelab's own; rename it",
                            model ? "model" : "workload", owner, param.flag()));
  }
  auto it = std::find_if(all.begin(), all.end(),
                         [&](const DeclaredParam& d) { return d.param.name == param.name; });
  if (it == all.end()) {
    all.push_back({param, {}, {}});
    it = all.end() - 1;
  } else if (!same_declaration(it->param, param)) {
    throw Error(fmt::format(
        "{} {} declares {} differently from {} (kind, default or choices); one name, one "
        "meaning",
        model ? "model" : "workload", owner, param.flag(), users_text(*it)));
  }
  (model ? it->models : it->workloads).push_back(owner);
}

bool any_of_in(const std::vector<std::string>& owners, const std::vector<std::string>& selected) {
  return std::any_of(owners.begin(), owners.end(), [&](const std::string& o) {
    return std::find(selected.begin(), selected.end(), o) != selected.end();
  });
}

}  // namespace

bool DeclaredParam::used_by(const std::vector<std::string>& selected_workloads,
                            const std::vector<std::string>& selected_models) const {
  return any_of_in(workloads, selected_workloads) || any_of_in(models, selected_models);
}

std::string DeclaredParam::unused_reason() const {
  const bool by_model = workloads.empty();
  const auto& owners = by_model ? models : workloads;
  std::string names;
  for (const auto& o : owners) names += (names.empty() ? "" : ", ") + o;
  return fmt::format("only the {} {} {} it; add {} to {}", names,
                     by_model ? (owners.size() > 1 ? "models" : "model")
                              : (owners.size() > 1 ? "workloads" : "workload"),
                     owners.size() > 1 ? "use" : "uses",
                     owners.size() > 1 ? "one of them" : owners.front(),
                     by_model ? "--model" : "--workload");
}

std::vector<DeclaredParam> declared_params() {
  std::vector<DeclaredParam> all;
  for (const auto& entry : model_registry().entries()) {
    for (const auto& p : entry.params) add(all, p, entry.name, true);
  }
  for (const auto& entry : workload_registry().entries()) {
    for (const auto& p : entry.params) add(all, p, entry.name, false);
  }
  return all;
}

std::vector<DeclaredParam> params_of(const std::vector<DeclaredParam>& declared,
                                     const std::vector<std::string>& workloads,
                                     const std::vector<std::string>& models) {
  std::vector<DeclaredParam> used;
  for (const auto& d : declared) {
    if (d.used_by(workloads, models)) used.push_back(d);
  }
  return used;
}

ParamValues parse_typed(const std::map<std::string, std::string>& typed,
                        const std::set<std::string>& given) {
  ParamValues values;
  for (const auto& declared : declared_params()) {
    if (!given.contains(declared.param.name)) continue;
    // "1ms,10ms,100ms": a scan axis of the parameter.
    nlohmann::json list = nlohmann::json::array();
    for (const std::string_view item : split_list(typed.at(declared.param.name))) {
      list.push_back(declared.param.parse(item));
    }
    values.set(declared.param.key(), check_value(declared.param, list, declared.param.flag()));
  }
  return values;
}

void check_taken(const ParamValues& values, const std::vector<std::string>& workloads,
                 const std::vector<std::string>& models) {
  const auto declared = declared_params();
  for (const auto& item : values.json().items()) {
    const std::string key = item.key();
    const auto it = std::find_if(declared.begin(), declared.end(),
                                 [&](const DeclaredParam& d) { return d.param.key() == key; });
    if (it == declared.end()) {
      throw Error(fmt::format("spec: '{}' is no parameter of any model or workload", key));
    }
    if (!it->used_by(workloads, models)) {
      throw Error(fmt::format("{}: {}", it->param.flag(), it->unused_reason()));
    }
  }
}

std::vector<Param> params_only(const std::vector<DeclaredParam>& declared) {
  std::vector<Param> params;
  for (const auto& d : declared) params.push_back(d.param);
  return params;
}

nlohmann::json check_value(const Param& param, const nlohmann::json& value,
                           std::string_view where) {
  if (!value.is_array()) return param.check(value, where);
  // "--io-wait", or "the recorded spec's 'io_wait_s'".
  const std::string what =
      where == param.flag() ? param.flag() : fmt::format("{}'s '{}'", where, param.key());
  if (value.empty()) {
    throw Error(fmt::format("{}: the list is empty; give one value, or two or more to scan", what));
  }
  nlohmann::json values = nlohmann::json::array();
  for (const auto& v : value) {
    nlohmann::json checked = param.check(v, where);
    if (std::find(values.begin(), values.end(), checked) != values.end()) {
      throw Error(fmt::format("{}: {} is listed twice; a scan takes each value once", what,
                              param.text(checked)));
    }
    values.push_back(std::move(checked));
  }
  // One value is no scan: recorded and run as that value.
  return values.size() == 1 ? values.front() : values;
}

ParamValues with_defaults(const std::vector<Param>& params, const ParamValues& given) {
  ParamValues values;
  for (const auto& p : params) {
    const std::string key = p.key();
    values.set(key,
               given.has(key) ? check_value(p, given.json().at(key), p.flag()) : p.default_value());
  }
  return values;
}

}  // namespace scalelab

// Resuming a run from its records.

#include "scalelab/resume.hpp"

#include <cmath>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "scalelab/plugins.hpp"

namespace scalelab {
namespace {

const nlohmann::json& member(const nlohmann::json& json, const char* key) {
  const auto it = json.find(key);
  if (it == json.end()) throw Error(fmt::format("the recorded spec has no '{}'", key));
  return *it;
}

std::chrono::nanoseconds seconds_field(const nlohmann::json& json, const char* key) {
  const auto& value = member(json, key);
  if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0 ||
      value.get<double>() > 1e6) {
    throw Error(fmt::format("the recorded spec's '{}' is not a duration in seconds", key));
  }
  return std::chrono::nanoseconds(std::llround(value.get<double>() * 1e9));
}

std::vector<std::string> names(const nlohmann::json& json, const char* key) {
  const auto& value = member(json, key);
  std::vector<std::string> list;
  if (!value.is_array()) throw Error(fmt::format("the recorded spec's '{}' is not a list", key));
  for (const auto& v : value) {
    if (!v.is_string()) throw Error(fmt::format("the recorded spec's '{}' is not names", key));
    list.push_back(v.get<std::string>());
  }
  return list;
}

// A plug-in's own values and a workload's own models (an experiment file's tables), checked by
// validate() after.
void read_tables(const nlohmann::json& json, Spec& spec) {
  if (json.contains("own_params")) {
    const auto& own = json["own_params"];
    if (!own.is_object()) throw Error("the recorded spec's 'own_params' is not an object");
    for (const auto& item : own.items()) {
      if (!item.value().is_object()) {
        throw Error(
            fmt::format("the recorded spec's 'own_params.{}' is not an object", item.key()));
      }
      spec.own_params[item.key()] = ParamValues(item.value());
    }
  }
  if (json.contains("workload_models")) {
    const auto& lists = json["workload_models"];
    if (!lists.is_object()) throw Error("the recorded spec's 'workload_models' is not an object");
    for (const auto& item : lists.items()) {
      spec.workload_models[item.key()] = names(lists, item.key().c_str());
    }
  }
}

// A planned trial as the records name it: workload, point, model, workers, repeat.
using TrialKey = std::tuple<std::string, std::string, std::string, int, int>;

}  // namespace

Spec spec_from_json(const nlohmann::json& json) {
  if (!json.is_object()) throw Error("the recorded spec is not a JSON object");
  Spec spec;
  try {
    spec.workloads = names(json, "workloads");
    spec.models = names(json, "models");
    const auto& workers = member(json, "workers");
    if (workers.is_array()) {
      spec.workers = workers.get<std::vector<int>>();
    } else if (workers == "tasks") {
      spec.workers_at_tasks = true;
    } else if (workers != "auto") {
      throw Error("the recorded spec's 'workers' is neither a list nor \"auto\" nor \"tasks\"");
    }
    const auto& tasks = member(json, "tasks");
    spec.tasks = tasks.is_array() ? tasks.get<std::vector<std::size_t>>()
                                  : std::vector<std::size_t>{tasks.get<std::size_t>()};
    spec.repeat = member(json, "repeat").get<int>();
    spec.warmup = member(json, "warmup").get<bool>();
    spec.seed = member(json, "seed").get<std::uint64_t>();
    // Each parameter the run's plug-ins take, held to its declaration. A run records every
    // one (defaults too), so one the records lack means they were written by a scalelab whose
    // plug-ins take other parameters: a default would be a guess about what was measured.
    for (const auto& declared : params_of(declared_params(), spec.workloads, spec.models)) {
      const std::string key = declared.param.key();
      if (!json.contains(key)) {
        throw Error(fmt::format(
            "the recorded spec has no '{}' ({} of {}): it was recorded by a scalelab whose "
            "plug-ins take other parameters",
            key, declared.param.flag(), declared.workloads.empty() ? "a model" : "a workload"));
      }
      spec.params.set(key, check_value(declared.param, json[key], "the recorded spec"));
    }
    read_tables(json, spec);
    // Records from before --rerun-disturbed existed keep the default.
    if (json.contains("rerun_disturbed")) {
      spec.rerun_disturbed = json["rerun_disturbed"].get<int>();
    }
    // "auto": derived per workload (default_trial_timeout).
    if (json.contains("trial_timeout_s") && json["trial_timeout_s"] != "auto") {
      spec.trial_timeout = seconds_field(json, "trial_timeout_s");
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("the recorded spec is damaged: {}", e.what()));
  }
  // The original run either left out pairs that cannot run or stopped before any trial.
  spec.skip_unsupported = true;
  validate(spec);
  return spec;
}

Plan remaining_plan(const Plan& plan, const std::vector<Trial>& recorded, bool warmup) {
  std::set<TrialKey> done;
  for (const auto& t : recorded) {
    if (!t.warmup()) done.insert({t.workload, t.point.dump(), t.model, t.workers, t.repeat});
  }
  Plan rest = plan;
  rest.trials.clear();
  std::set<std::tuple<std::size_t, std::string, int, std::string>> warmed;
  for (const auto& t : plan.trials) {
    if (t.warmup()) continue;
    const PlannedWorkload& w = plan.workloads[t.workload];
    if (done.contains({w.spec.name, trial_point(plan, t).dump(), t.model, t.workers, t.repeat})) {
      continue;
    }
    if (warmup && warmed.insert({t.workload, t.model, t.workers, t.model_point.dump()}).second) {
      rest.trials.push_back({t.workload, t.model, t.workers, -1, t.model_point});
    }
    rest.trials.push_back(t);
  }
  return rest;
}

Resumption plan_resumption(const RecordedRun& run) {
  Resumption resumption;
  if (run.header.kind != "sweep") {
    throw Error(fmt::format("the records are of a {} run; continue it with scalelab {} --resume",
                            run.header.kind, run.header.kind));
  }
  resumption.spec = spec_from_json(run.header.spec);
  // The task sizes the run was calibrated to, not a new calibration: resumed trials must
  // measure the same work as the recorded ones.
  const nlohmann::json& specs = run.header.workload_specs;
  std::vector<PlannedWorkload> workloads = planned_workloads(resumption.spec);
  if (!specs.is_array() || specs.size() != workloads.size()) {
    throw Error("the records do not hold the resolved workload specs; cannot resume");
  }
  for (std::size_t i = 0; i < workloads.size(); ++i) {
    WorkloadSpec recorded = workload_spec_from_json(specs[i]);
    if (recorded.name != workloads[i].spec.name) {
      throw Error(
          fmt::format("the records' workload spec {} is of {}, where the recorded spec "
                      "plans {}; cannot resume",
                      i + 1, recorded.name, workloads[i].spec.name));
    }
    workloads[i].spec = std::move(recorded);
  }
  const nlohmann::json& environment = run.header.environment;
  const auto cores = environment.find("usable_cores");
  resumption.cores =
      cores != environment.end() && cores->is_number_integer() ? std::max(1, cores->get<int>()) : 1;
  const Plan full = make_plan(resumption.spec, std::move(workloads), resumption.cores);
  resumption.planned = full.counted();
  resumption.plan = remaining_plan(full, run.trials, resumption.spec.warmup);
  resumption.recorded = resumption.planned - resumption.plan.counted();
  return resumption;
}

}  // namespace scalelab

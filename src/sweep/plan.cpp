// Spec → Plan: validation, default worker counts, and the shuffled trial order.

#include "scalelab/plan.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "scalelab/error.hpp"
#include "scalelab/plugins.hpp"
#include "support/splitmix.hpp"

namespace scalelab {

namespace {

// The first item listed again later, or null.
template <class Items>
const typename Items::value_type* repeated(const Items& items) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    for (std::size_t j = i + 1; j < items.size(); ++j) {
      if (items[i] == items[j]) return &items[i];
    }
  }
  return nullptr;
}

// The task counts (a scan axis when several), and --workers tasks, which starts one per task.
void validate_tasks(const Spec& spec) {
  if (spec.tasks.empty()) throw Error("--tasks: give a task count, like 32");
  for (const std::size_t n : spec.tasks) {
    if (n < 1) throw Error("--tasks: use 1 or more");
  }
  if (const auto* twice = repeated(spec.tasks)) {
    throw Error(fmt::format("--tasks: {} is listed twice; a scan takes each value once", *twice));
  }
  if (spec.workers_at_tasks && !spec.workers.empty()) {
    throw Error("--workers: 'tasks' stands alone; it cannot be listed with worker counts");
  }
  for (const std::size_t n : spec.tasks) {
    if (spec.workers_at_tasks && n > static_cast<std::size_t>(kMaxWorkersAtTasks)) {
      throw Error(
          fmt::format("--workers: 'tasks' would start {} workers for --tasks {}; the most is {}", n,
                      n, kMaxWorkersAtTasks));
    }
  }
}

// "--cpu-work, --python-func": the flags of `params`.
std::string param_names(const std::vector<Param>& params) {
  std::string names;
  for (const auto& p : params) names += (names.empty() ? "" : ", ") + p.name;
  return names;
}

// Spec::own_params: each for a selected plug-in, each field one it declared, one value each.
void validate_own_params(const Spec& spec) {
  for (const auto& [name, values] : spec.own_params) {
    const bool workload =
        std::find(spec.workloads.begin(), spec.workloads.end(), name) != spec.workloads.end();
    const bool model = std::find(spec.models.begin(), spec.models.end(), name) != spec.models.end();
    if (!workload && !model) {
      throw Error(fmt::format(
          "[{}]: {} is not among the selected workloads ({}) or models ({}); select it or drop "
          "its table",
          name, name, fmt::join(spec.workloads, ","), fmt::join(spec.models, ",")));
    }
    const std::vector<Param> params =
        workload ? workload_registry().find(name)->params : model_registry().find(name)->params;
    for (const auto& [key, value] : values.json().items()) {
      const auto p = std::find_if(params.begin(), params.end(),
                                  [&, &k = key](const Param& q) { return q.key() == k; });
      if (p == params.end()) {
        throw Error(fmt::format("[{}]: {} takes no parameter '{}'{}", name, name, key,
                                params.empty() ? "" : "; it takes " + param_names(params)));
      }
      if (value.is_array()) {
        throw Error(
            fmt::format("[{}]: {}: one value; a scan of it goes at the top level, "
                        "shared by every plug-in that takes it",
                        name, p->name));
      }
      if (spec.params.has(key) && spec.params.json().at(key).is_array()) {
        throw Error(
            fmt::format("[{}]: {}: scanned for every plug-in that takes it; a table's "
                        "one value cannot hold it still for {}",
                        name, p->name, name));
      }
      (void)p->check(value, fmt::format("[{}]", name));
    }
  }
}

// Spec::workload_models: each for a listed workload, each a non-empty list drawn from `models`.
void validate_workload_models(const Spec& spec) {
  for (const auto& [workload, models] : spec.workload_models) {
    if (std::find(spec.workloads.begin(), spec.workloads.end(), workload) == spec.workloads.end()) {
      throw Error(fmt::format("{}.models: {} is not among --workload ({})", workload, workload,
                              fmt::join(spec.workloads, ",")));
    }
    if (models.empty()) throw Error(fmt::format("{}.models: give at least one model", workload));
    for (const auto& model : models) {
      if (std::find(spec.models.begin(), spec.models.end(), model) == spec.models.end()) {
        throw Error(fmt::format("{}.models: {} is not among --model ({})", workload, model,
                                fmt::join(spec.models, ",")));
      }
    }
    if (repeated(models) != nullptr) {
      throw Error(fmt::format("{}.models: a model is listed twice", workload));
    }
  }
}

}  // namespace

ParamValues with_own(ParamValues shared, const std::map<std::string, ParamValues>& own_params,
                     const std::string& name) {
  const auto it = own_params.find(name);
  if (it == own_params.end()) return shared;
  for (const auto& [key, value] : it->second.json().items()) shared.set(key, value);
  return shared;
}

void validate(const Spec& spec) {
  if (spec.workloads.empty()) throw Error("--workload: give at least one workload");
  for (const auto& name : spec.workloads) {
    if (!workload_registry().find(name)) {
      throw Error(fmt::format("--workload: unknown workload '{}'; choose from {}", name,
                              workload_registry().names()));
    }
  }
  if (spec.models.empty()) throw Error("--model: give at least one model");
  for (const auto& name : spec.models) check_model_name(name);
  const auto listed_twice = [](const auto& items) { return repeated(items) != nullptr; };
  // A name or count listed twice would run its trials twice and weigh them double.
  if (listed_twice(spec.workloads)) throw Error("--workload: a workload is listed twice");
  if (listed_twice(spec.models)) throw Error("--model: a model is listed twice");
  if (listed_twice(spec.workers)) throw Error("--workers: a worker count is listed twice");
  for (int w : spec.workers) {
    if (w < 1) throw Error(fmt::format("--workers: {} is not a worker count; use 1 or more", w));
  }
  validate_tasks(spec);
  if (spec.repeat < 1) throw Error("--repeat: use 1 or more");
  // A parameter no selected plug-in takes is bad input; each one given is held to its
  // declaration (selected_params checks the values).
  check_taken(spec.params, spec.workloads, spec.models);
  (void)selected_params(spec);
  validate_own_params(spec);
  validate_workload_models(spec);
  if (spec.trial_timeout.count() < 0) {
    throw Error("--trial-timeout: give a duration above 0, like 30s (or leave it out: derived)");
  }
  if (spec.rerun_disturbed < 0 || spec.rerun_disturbed > 100) {
    throw Error(fmt::format("--rerun-disturbed: {} is not a rerun count; use 0 to 100",
                            spec.rerun_disturbed));
  }
}

ParamValues selected_params(const Spec& spec) {
  return with_defaults(params_only(params_of(declared_params(), spec.workloads, spec.models)),
                       spec.params);
}

ModelOptions model_options(const Spec& spec) {
  return {selected_params(spec), spec.worker_executable};
}

const std::vector<std::string>& models_of(const Spec& spec, const std::string& workload) {
  const auto it = spec.workload_models.find(workload);
  return it != spec.workload_models.end() ? it->second : spec.models;
}

nlohmann::json to_json(const Spec& spec) {
  nlohmann::json json = {
      {"workloads", spec.workloads},
      {"models", spec.models},
      {"workers", spec.workers_at_tasks  ? nlohmann::json("tasks")
                  : spec.workers.empty() ? nlohmann::json("auto")
                                         : nlohmann::json(spec.workers)},
      {"tasks",
       spec.tasks.size() == 1 ? nlohmann::json(spec.tasks.front()) : nlohmann::json(spec.tasks)},
      {"repeat", spec.repeat},
      {"warmup", spec.warmup},
      {"seed", spec.seed},
      {"rerun_disturbed", spec.rerun_disturbed},
      {"trial_timeout_s",
       spec.trial_timeout.count() > 0
           ? nlohmann::json(std::chrono::duration<double>(spec.trial_timeout).count())
           : nlohmann::json("auto")},
  };
  const ParamValues params = selected_params(spec);
  for (const auto& [key, value] : params.json().items()) json[key] = value;
  if (!spec.own_params.empty()) {
    nlohmann::json& own = json["own_params"] = nlohmann::json::object();
    for (const auto& [name, values] : spec.own_params) own[name] = values.json();
  }
  if (!spec.workload_models.empty()) json["workload_models"] = spec.workload_models;
  return json;
}

namespace {

// Without a resolver of its own, a workload keeps its parameters as given, except that CPU
// work becomes iterations: NAME-work (or NAME) → NAME_iters.
ParamValues default_resolve(const std::vector<Param>& params, const ParamValues& given,
                            const IterationsFor& iterations) {
  ParamValues resolved;
  for (const auto& p : params) {
    if (p.kind != ParamKind::work) {
      resolved.set(p.key(), given.json().at(p.key()));
      continue;
    }
    std::string stem = p.name.ends_with("-work") ? p.name.substr(0, p.name.size() - 5) : p.name;
    std::replace(stem.begin(), stem.end(), '-', '_');
    const CpuWork work = given.work(p.key());
    resolved.set(stem + "_iters", work.iters != 0 ? work.iters : iterations(work.duration));
  }
  return resolved;
}

}  // namespace

namespace {

// Whether a plug-in that declared `params` takes the field `key`.
bool takes(const std::vector<Param>& params, const std::string& key) {
  return std::any_of(params.begin(), params.end(), [&](const Param& p) { return p.key() == key; });
}

// The part of `point` that a workload with `params` takes: its own fields and the task count.
nlohmann::json workload_part(const nlohmann::json& point, const std::vector<Param>& params) {
  nlohmann::json part = nlohmann::json::object();
  for (const auto& [key, value] : point.items()) {
    if (key == "tasks" || takes(params, key)) part[key] = value;
  }
  return part;
}

}  // namespace

std::vector<PlannedWorkload> planned_workloads(const Spec& spec) {
  std::vector<PlannedWorkload> entries;
  for (const auto& point : scan_points(spec)) {
    const Spec at = spec_at(spec, point);
    const ParamValues values = selected_params(at);
    for (const auto& name : spec.workloads) {
      const auto entry = workload_registry().find(name);
      if (!entry) throw Error(fmt::format("--workload: unknown workload '{}'", name));
      nlohmann::json part = workload_part(point, entry->params);
      // A point that differs only in a model's parameter runs the same workload entry.
      if (std::none_of(entries.begin(), entries.end(),
                       [&](const auto& w) { return w.spec.name == name && w.point == part; })) {
        entries.push_back(
            {{name, with_defaults(entry->params, with_own(values, spec.own_params, name))},
             at.tasks.front(),
             std::move(part)});
      }
    }
  }
  return entries;
}

ResolvedWorkloads resolve_workloads(const Spec& spec) {
  ResolvedWorkloads resolved;
  resolved.calibration = nlohmann::json::object();
  // One calibration per loop, shared by the workloads that use it and by every point.
  std::map<std::string, CpuCalibration> by_loop;
  for (PlannedWorkload& planned : planned_workloads(spec)) {
    const std::string name = planned.spec.name;
    const auto entry = workload_registry().find(name);
    const IterationsFor iterations = [&](std::chrono::nanoseconds target) -> std::uint64_t {
      if (target.count() <= 0) return 0;
      // The loop's speed is measured once; each workload scales it to its own target.
      auto it = by_loop.find(entry->loop);
      if (it == by_loop.end()) {
        const Calibrator calibrate = entry->calibrate ? entry->calibrate : calibrate_cpu;
        it = by_loop.emplace(entry->loop, calibrate(target)).first;
      }
      CpuCalibration c = it->second;
      c.target_s = std::chrono::duration<double>(target).count();
      c.iters = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(c.target_s * c.iters_per_s));
      // A scan of CPU work sizes each point from the same speed; the first point's target is
      // the one recorded here, the others' iterations are in their workload specs.
      if (!resolved.calibration.contains(name)) {
        resolved.calibration[name] = {{"target_s", c.target_s},
                                      {"iters_per_s", c.iters_per_s},
                                      {"iters", c.iters},
                                      {"measured_s", c.measured_s}};
      }
      return c.iters;
    };
    const ParamValues& given = planned.spec.params;
    planned.spec = {name, entry->resolve ? entry->resolve(given, iterations)
                                         : default_resolve(entry->params, given, iterations)};
    // Rejects what the workload cannot run, before any file is written; and a model that
    // cannot run it is refused now, not failed trial by trial.
    const auto workload = make_workload(planned.spec);
    for (const auto& model : models_of(spec, name)) {
      if (const std::string why = unsupported(*workload, model);
          !why.empty() && !spec.skip_unsupported) {
        throw Error(fmt::format("--model: {} cannot run the {} workload: {}", model, name, why));
      }
    }
    resolved.workloads.push_back(std::move(planned));
  }
  return resolved;
}

std::size_t Plan::counted() const {
  return static_cast<std::size_t>(
      std::count_if(trials.begin(), trials.end(), [](const auto& t) { return !t.warmup(); }));
}

std::vector<int> default_workers(Bound bound, std::size_t tasks, int cores) {
  // CPU-bound work stops scaling at the core count; going to twice that shows the plateau.
  // Waiting scales until every task waits at once, so go up to the task count.
  const std::int64_t top = std::min<std::int64_t>(
      kMaxDefaultWorkers, bound == Bound::wait
                              ? static_cast<std::int64_t>(std::max<std::size_t>(tasks, 1))
                              : 2 * static_cast<std::int64_t>(std::max(cores, 1)));
  std::vector<int> workers;
  for (std::int64_t w = 1; w < top; w *= 2) workers.push_back(static_cast<int>(w));
  workers.push_back(static_cast<int>(top));
  return workers;
}

namespace {

// Every combination of the scanned parameters that `model` takes and the workload entry's
// point does not hold (those only the model reads); one empty point when there are none.
std::vector<nlohmann::json> model_points(const std::vector<ScanAxis>& axes,
                                         const std::string& model,
                                         const nlohmann::json& workload_point) {
  const auto entry = model_registry().find(model);
  std::vector<ScanAxis> own;
  for (const auto& axis : axes) {
    if (entry && takes(entry->params, axis.key) && !workload_point.contains(axis.key)) {
      own.push_back(axis);
    }
  }
  return combinations(own);
}

std::vector<int> planned_workers(const Spec& spec, const Model& model, Bound bound,
                                 std::size_t tasks, int cores) {
  if (!model.uses_workers()) return {1};
  if (spec.workers_at_tasks) return {static_cast<int>(tasks)};  // validate() bounds it
  if (spec.workers.empty()) return default_workers(bound, tasks, cores);
  return spec.workers;
}

}  // namespace

Plan make_plan(const Spec& spec, std::vector<WorkloadSpec> workloads, int cores) {
  std::vector<PlannedWorkload> entries;
  for (auto& w : workloads) {
    entries.push_back({std::move(w), spec.tasks.front(), nlohmann::json::object()});
  }
  return make_plan(spec, std::move(entries), cores);
}

Plan make_plan(const Spec& spec, std::vector<PlannedWorkload> workloads, int cores) {
  Plan plan;
  plan.workloads = std::move(workloads);
  plan.trial_timeout = spec.trial_timeout;
  plan.rerun_disturbed = spec.rerun_disturbed;
  plan.options = model_options(spec);
  plan.own_params = spec.own_params;
  const std::vector<ScanAxis> axes = scan_axes(spec);
  std::vector<PlannedTrial> counted;
  for (std::size_t wi = 0; wi < plan.workloads.size(); ++wi) {
    const PlannedWorkload& entry = plan.workloads[wi];
    const auto workload = make_workload(entry.spec);
    for (const auto& model_name : models_of(spec, entry.spec.name)) {
      if (const std::string why = unsupported(*workload, model_name); !why.empty()) {
        const std::string skipped =
            fmt::format("{} under {}: {}", entry.spec.name, model_name, why);
        // Said once, not once per point of a scan.
        if (std::find(plan.skipped.begin(), plan.skipped.end(), skipped) == plan.skipped.end()) {
          plan.skipped.push_back(skipped);
        }
        continue;
      }
      const auto model = make_model(model_name);
      const std::vector<int> workers =
          planned_workers(spec, *model, workload->bound(), entry.tasks, cores);
      for (const auto& model_point : model_points(axes, model_name, entry.point)) {
        for (int w : workers) {
          for (int r = 0; r < spec.repeat; ++r) {
            counted.push_back({wi, model_name, w, r, model_point});
          }
        }
      }
    }
  }
  // Fisher-Yates with splitmix64, so that a recorded seed gives the same order anywhere.
  detail::SplitMix64 random(spec.seed);
  for (std::size_t i = counted.size(); i > 1; --i) {
    std::swap(counted[i - 1], counted[random.next() % i]);
  }
  // Each group's warm-up goes right before the first of its trials to run.
  std::set<std::tuple<std::size_t, std::string, int, std::string>> warmed;
  for (const auto& t : counted) {
    if (spec.warmup &&
        warmed.insert({t.workload, t.model, t.workers, t.model_point.dump()}).second) {
      plan.trials.push_back({t.workload, t.model, t.workers, -1, t.model_point});
    }
    plan.trials.push_back(t);
  }
  return plan;
}

}  // namespace scalelab

// Experiment files (experiment.hpp): TOML in, the flags' texts out; and a spec back to TOML.

#include "cli/experiment.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "scalelab/scalelab.hpp"

namespace scalelab::cli {
namespace {

// The TOML types a key takes.
enum Accept : unsigned { kInt = 1, kFloat = 2, kString = 4, kBool = 8 };

// What a key of the file takes: its TOML types, whether a list (a scan, or several names), and an
// example for the error line.
struct KeyRule {
  unsigned accept = 0;
  bool list = false;
  std::string example;  // "32 or [100, 1000]"
};

// run's own keys (not the plug-ins'): what each takes.
const std::map<std::string, KeyRule>& run_keys() {
  static const std::map<std::string, KeyRule> keys{
      {"workload", {kString, true, R"("cpu" or ["cpu", "io"])"}},
      {"model", {kString, true, R"("threads" or ["threads", "async"])"}},
      {"workers", {kInt | kString, true, R"([1, 2, 4], "1..16", "tasks" or "auto")"}},
      {"tasks", {kInt, true, "32 or [100, 1000]"}},
      {"repeat", {kInt, false, "3"}},
      {"seed", {kInt, false, "42"}},
      {"rerun_disturbed", {kInt, false, "2"}},
      {"trial_timeout", {kString, false, R"("30s" or "auto")"}},
      {"no_warmup", {kBool, false, "true"}},
      {"skip_unsupported", {kBool, false, "true"}},
      {"out", {kString, false, R"("results/exp1")"}},
  };
  return keys;
}

// Flags of run that choose how this invocation behaves, not what it measures.
bool invocation_flag(const std::string& key) {
  return key == "resume" || key == "force" || key == "dry_run" || key == "quiet" ||
         key == "print_spec";
}

// A plug-in parameter's TOML types, by its kind.
KeyRule param_rule(const Param& p, bool list) {
  const std::string example = p.kind == ParamKind::count || p.kind == ParamKind::fraction
                                  ? p.default_text
                                  : fmt::format("\"{}\"", p.default_text);
  switch (p.kind) {
    case ParamKind::count:
      return {kInt, list, example};
    case ParamKind::fraction:
      return {kInt | kFloat, list, example};
    case ParamKind::bytes:
    case ParamKind::work:
      return {kInt | kString, list, example};
    case ParamKind::duration:
    case ParamKind::choice:
    case ParamKind::text:
      break;
  }
  return {kString, list, example};
}

std::string position(const std::string& path, const toml::source_region& at) {
  return fmt::format("{}:{}:{}", path, at.begin.line, at.begin.column);
}

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "a list";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date or time";
  }
}

// "an integer or a string": the types of `accept`.
std::string accepted_names(unsigned accept) {
  std::vector<std::string> names;
  if (accept & kInt) names.emplace_back("an integer");
  if (accept & kFloat) names.emplace_back("a number");
  if (accept & kString) names.emplace_back("a string");
  if (accept & kBool) names.emplace_back("true or false");
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) {
    text += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  }
  return text;
}

// One scalar as the text its flag would be given; throws Error for a type `rule` does not take.
std::string scalar_text(const toml::node& node, const KeyRule& rule, const std::string& where,
                        const std::string& key) {
  if (const auto* i = node.as_integer(); i && (rule.accept & (kInt | kFloat))) {
    return std::to_string(i->get());
  }
  if (const auto* f = node.as_floating_point(); f && (rule.accept & kFloat)) {
    return fmt::format("{}", f->get());
  }
  if (const auto* s = node.as_string(); s && (rule.accept & kString)) return s->get();
  if (const auto* b = node.as_boolean(); b && (rule.accept & kBool)) {
    return b->get() ? "true" : "false";
  }
  throw Error(fmt::format("{}: {}: expected {}{}, like {}; got {}", where, key,
                          accepted_names(rule.accept), rule.list ? " or a list of them" : "",
                          rule.example, type_name(node)));
}

// A key's value as its flag's text: a list joined with commas, as typed on the command line.
FileValue value_text(const std::string& path, const std::string& key, const toml::node& node,
                     const KeyRule& rule) {
  FileValue value{"", position(path, node.source()), key};
  const auto* array = node.as_array();
  if (!array) {
    value.text = scalar_text(node, rule, value.where, key);
    return value;
  }
  if (!rule.list) {
    throw Error(fmt::format(
        "{}: {}: takes one value, like {}; a list scans only tasks and the plug-ins' parameters",
        value.where, key, rule.example));
  }
  for (const auto& item : *array) {
    const std::string where = position(path, item.source());
    if (item.is_array() || item.is_table()) {
      throw Error(fmt::format("{}: {}: a list of single values, like {}; got {} in it", where, key,
                              rule.example, type_name(item)));
    }
    const std::string text = scalar_text(item, rule, where, key);
    if (text.find(',') != std::string::npos || text.empty()) {
      throw Error(fmt::format("{}: {}: '{}' in a list: give each value as its own item", where, key,
                              shown(text)));
    }
    value.text += (value.text.empty() ? "" : ",") + text;
  }
  return value;
}

// "--io-wait: '5' is not a duration" → "exp.toml:3:9: io_wait: '5' is not a duration".
Error relocated(const std::string& message, const std::string& where, const std::string& key) {
  std::string rest = message;
  if (rest.starts_with("--") || rest.starts_with("[")) {
    if (const auto colon = rest.find(": "); colon != std::string::npos)
      rest = rest.substr(colon + 2);
  }
  return Error(fmt::format("{}: {}: {}", where, key, rest));
}

std::string flag_name(std::string key) {
  std::replace(key.begin(), key.end(), '_', '-');
  return key;
}

std::string file_key(std::string name) {
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::string allowed_keys(const std::vector<DeclaredParam>& declared) {
  std::string keys = "version";
  for (const auto& [key, rule] : run_keys()) keys += ", " + key;
  for (const auto& d : declared) keys += ", " + file_key(d.param.name);
  return keys + ", or a table named after a model or workload";
}

const DeclaredParam* find_declared(const std::vector<DeclaredParam>& declared,
                                   const std::string& key) {
  for (const auto& d : declared) {
    if (file_key(d.param.name) == key) return &d;
  }
  return nullptr;
}

// The file's text, or Error naming it.
std::string file_text(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw Error(
        fmt::format("{}: a folder; give an experiment file (TOML), like "
                    "examples/experiments/seed.toml",
                    path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(fmt::format("{}: cannot read the experiment file: {}", path, std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// `version = 1`, the first thing checked: a file of another format version is not guessed at.
void check_version(const std::string& path, const toml::table& root) {
  const toml::node* version = root.get("version");
  if (!version) {
    throw Error(fmt::format("{}:1:1: version: missing; an experiment file says version = 1", path));
  }
  const auto* number = version->as_integer();
  if (!number || number->get() != 1) {
    throw Error(fmt::format("{}: version: this scalelab reads version = 1 experiment files",
                            position(path, version->source())));
  }
}

// A plug-in's table: its own parameters, one value each, parsed by their declarations.
// A workload table's `models = ["serial", "py-threads"]`: the models that run it.
void read_models(const std::string& path, const std::string& workload, const toml::node& node,
                 ExperimentFile& file) {
  const std::string where = position(path, node.source());
  const auto* list = node.as_array();
  std::vector<std::string> names;
  for (std::size_t i = 0; list != nullptr && i < list->size(); ++i) {
    const auto* name = list->get(i)->as_string();
    if (name == nullptr) list = nullptr;
    if (name != nullptr) names.push_back(name->get());
  }
  if (list == nullptr || names.empty()) {
    throw Error(fmt::format(R"({}: {}.models: a list of model names, like ["serial", "threads"])",
                            where, workload));
  }
  for (const auto& model : names) {
    try {
      check_model_name(model);
    } catch (const Error& e) {
      throw Error(fmt::format("{}: {}.models: {}", where, workload, e.what()));
    }
  }
  file.models[workload] = {fmt::format("{}", fmt::join(names, ",")), where, workload + ".models"};
}

void read_table(const std::string& path, const std::string& name, const toml::table& table,
                const std::vector<Param>& params, bool workload, ExperimentFile& file) {
  file.table_where[name] = position(path, table.source());
  auto& own = file.own[name];
  for (const auto& [k, node] : table) {
    const std::string key(k.str());
    const std::string where = position(path, k.source());
    if (workload && key == "models") {
      read_models(path, name, node, file);
      continue;
    }
    const auto p = std::find_if(params.begin(), params.end(),
                                [&](const Param& q) { return file_key(q.name) == key; });
    if (p == params.end()) {
      std::string takes;
      for (const auto& q : params) takes += (takes.empty() ? "" : ", ") + file_key(q.name);
      if (workload) takes += (takes.empty() ? "" : ", ") + std::string("models");
      throw Error(fmt::format("{}: {}.{}: unknown key; {} {}", where, name, shown(key), name,
                              takes.empty() ? "takes no parameters" : "takes " + takes));
    }
    if (node.is_array()) {
      throw Error(
          fmt::format("{}: {}.{}: a plug-in's table takes one value; a scan of it goes at "
                      "the top level, shared by every plug-in that takes it",
                      position(path, node.source()), name, key));
    }
    const FileValue value = value_text(path, name + "." + key, node, param_rule(*p, false));
    try {
      own[p->name] = {p->key(), p->parse(value.text)};
    } catch (const Error& e) {
      throw relocated(e.what(), value.where, value.key);
    }
  }
}

}  // namespace

ExperimentFile read_experiment(const std::string& path,
                               const std::vector<DeclaredParam>& declared) {
  return parse_experiment(file_text(path), path, declared);
}

ExperimentFile parse_experiment(const std::string& text, const std::string& path,
                                const std::vector<DeclaredParam>& declared) {
  ExperimentFile file;
  file.path = path;
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    // toml++ quotes what it saw, control characters and all.
    throw Error(fmt::format("{}: {}", position(path, e.source()), shown(e.description(), 200)));
  }
  check_version(path, root);
  for (const auto& [k, node] : root) {
    const std::string key(k.str());
    const std::string where = position(path, k.source());
    if (key == "version") continue;
    if (const auto* table = node.as_table()) {
      const auto model = model_registry().find(key);
      const auto workload = workload_registry().find(key);
      if (!model && !workload) {
        throw Error(
            fmt::format("{}: [{}]: no model or workload is named {}; a table sets one "
                        "plug-in's own parameters (see scalelab list)",
                        where, shown(key), shown(key)));
      }
      read_table(path, key, *table, workload ? workload->params : model->params,
                 workload.has_value(), file);
      continue;
    }
    if (const auto rule = run_keys().find(key); rule != run_keys().end()) {
      file.flags[flag_name(key)] = value_text(path, key, node, rule->second);
    } else if (const DeclaredParam* d = find_declared(declared, key)) {
      file.flags[d->param.name] = value_text(path, key, node, param_rule(d->param, true));
    } else if (invocation_flag(key)) {
      throw Error(fmt::format("{}: {}: says how to run, not what; give it as --{}", where, key,
                              flag_name(key)));
    } else {
      throw Error(fmt::format("{}: {}: unknown key; allowed: {}", where, shown(key),
                              allowed_keys(declared)));
    }
  }
  return file;
}

namespace {

// Puts one of run's own values into `o`.
void apply_run_value(const std::string& flag, const std::string& text, RunOptions& o) {
  if (flag == "workload") {
    o.workloads = text;
    o.workloads_given = true;
  } else if (flag == "model") {
    o.models = text;
    o.models_given = true;
  } else if (flag == "workers") {
    o.workers = text;  // "auto", as typed, is the default per workload (make_spec)
    o.workers_given = true;
  } else if (flag == "tasks") {
    o.tasks = text;
  } else if (flag == "repeat") {
    o.repeat = text;
  } else if (flag == "seed") {
    o.seed = text;
    o.seed_given = true;
  } else if (flag == "rerun-disturbed") {
    o.rerun_disturbed = text;
  } else if (flag == "trial-timeout") {
    o.trial_timeout = text;  // "auto", as typed, is derived per workload (make_spec)
    o.trial_timeout_given = true;
  } else if (flag == "no-warmup") {
    o.no_warmup = text == "true";
  } else if (flag == "skip-unsupported") {
    o.skip_unsupported = text == "true";
  } else if (flag == "out") {
    o.out = text;
    o.out_given = true;
  }
}

}  // namespace

namespace {

// The names a typed --workload or --model selects, or nothing when they do not parse (make_spec
// then says why).
std::optional<std::vector<std::string>> names_or_none(const std::string& text, const char* flag) {
  try {
    return parse_name_list(text, flag);
  } catch (const Error&) {
    return std::nullopt;
  }
}

// A --workload or --model typed beside the file may leave out plug-ins whose values the file
// gives: those values are dropped, each with a note, rather than refused as values nobody reads.
std::vector<std::string> drop_deselected(const ExperimentFile& file,
                                         const std::vector<DeclaredParam>& declared,
                                         RunOptions& o) {
  std::vector<std::string> notes;
  if (!o.typed_flags.contains("workload") && !o.typed_flags.contains("model")) return notes;
  const auto workloads = names_or_none(o.workloads, "--workload");
  const auto models = names_or_none(o.models, "--model");
  if (!workloads || !models) return notes;
  for (const auto& d : declared) {
    const auto it = file.flags.find(d.param.name);
    if (it == file.flags.end() || o.typed_flags.contains(d.param.name) ||
        d.used_by(*workloads, *models)) {
      continue;
    }
    o.params_given.erase(d.param.name);
    notes.push_back(fmt::format("{}: {} left out: no plug-in selected by the command line takes it",
                                it->second.where, it->second.key));
  }
  for (const auto& [plugin, where] : file.table_where) {
    const bool selected =
        std::find(workloads->begin(), workloads->end(), plugin) != workloads->end() ||
        std::find(models->begin(), models->end(), plugin) != models->end();
    if (!selected) o.workload_models.erase(plugin);
    if (selected || !o.own_params.contains(plugin)) continue;
    o.own_params.erase(plugin);
    notes.push_back(fmt::format("{}: [{}] left out: the command line does not select {}", where,
                                plugin, plugin));
  }
  return notes;
}

}  // namespace

std::vector<std::string> apply_experiment(const ExperimentFile& file,
                                          const std::vector<DeclaredParam>& declared,
                                          RunOptions& o) {
  for (const auto& [flag, value] : file.flags) {
    if (o.typed_flags.contains(flag)) continue;  // the command line has the last word
    if (o.params.contains(flag)) {
      o.params[flag] = value.text;
      o.params_given.insert(flag);
    } else {
      apply_run_value(flag, value.text, o);
    }
  }
  for (const auto& [plugin, values] : file.own) {
    ParamValues& own = o.own_params[plugin];
    for (const auto& [name, value] : values) {
      // A flag given beside the file sets its parameter for every plug-in, this one too.
      if (!o.typed_flags.contains(name)) own.set(value.key, value.value);
    }
    if (own.json().empty()) o.own_params.erase(plugin);
  }
  // A typed --model has the last word on which models run, each workload's too.
  for (const auto& [workload, value] : file.models) {
    if (o.typed_flags.contains("model")) continue;
    o.workload_models[workload] = parse_name_list(value.text, value.key);
  }
  return drop_deselected(file, declared, o);
}

Error at_file_position(const ExperimentFile& file, const RunOptions& o, const Error& error) {
  const std::string message = error.what();
  const auto colon = message.find(": ");
  if (colon == std::string::npos) return error;
  const std::string named = message.substr(0, colon);
  if (named.starts_with("--")) {
    const std::string flag = named.substr(2);
    const auto it = file.flags.find(flag);
    if (it != file.flags.end() && !o.typed_flags.contains(flag)) {
      return relocated(message, it->second.where, it->second.key);
    }
  } else if (named.ends_with(".models") &&
             file.models.contains(named.substr(0, named.size() - 7))) {
    const FileValue& value = file.models.at(named.substr(0, named.size() - 7));
    return relocated(message, value.where, value.key);
  } else if (named.starts_with("[") && named.ends_with("]")) {
    const std::string plugin = named.substr(1, named.size() - 2);
    if (const auto it = file.table_where.find(plugin); it != file.table_where.end()) {
      return relocated(message, it->second, named);
    }
  }
  return error;
}

namespace {

// A duration in seconds as the shortest text that parses back to it exactly: "20ms", "1.5s".
std::string duration_text(double seconds) {
  const long long ns = std::llround(seconds * 1e9);
  if (ns % 1'000'000'000 == 0) return fmt::format("{}s", ns / 1'000'000'000);
  if (ns % 1'000'000 == 0) return fmt::format("{}ms", ns / 1'000'000);
  if (ns % 1'000 == 0) return fmt::format("{}us", ns / 1'000);
  return fmt::format("{}ns", ns);
}

// One recorded value of `p` as TOML, in the form its flag reads back to the same value.
std::string toml_scalar(const Param& p, const nlohmann::json& value) {
  switch (p.kind) {
    case ParamKind::duration:
      return nlohmann::json(duration_text(value.get<double>())).dump();
    case ParamKind::work:
      if (value.contains("iters")) return value.at("iters").dump();
      return nlohmann::json(duration_text(value.at("duration_s").get<double>())).dump();
    case ParamKind::count:
    case ParamKind::fraction:
    case ParamKind::bytes:
    case ParamKind::choice:
    case ParamKind::text:
      break;
  }
  return value.dump();  // a JSON number or string is TOML's too
}

std::string toml_value(const Param& p, const nlohmann::json& value) {
  if (!value.is_array()) return toml_scalar(p, value);
  std::string items;
  for (const auto& v : value) items += (items.empty() ? "" : ", ") + toml_scalar(p, v);
  return "[" + items + "]";
}

// A JSON scalar or list as TOML: ["cpu", "io"], [4, 8], "auto", 32.
std::string toml_list(const nlohmann::json& value) {
  if (!value.is_array()) return value.dump();
  std::string items;
  for (const auto& v : value) items += (items.empty() ? "" : ", ") + v.dump();
  return "[" + items + "]";
}

}  // namespace

std::string spec_toml(const Spec& spec) {
  const nlohmann::json json = to_json(spec);
  std::string text =
      "# A scalelab experiment: `scalelab run THIS_FILE` runs it again (flags given beside the\n"
      "# file override it).\nversion = 1\n";
  text +=
      fmt::format("workload = {}\nmodel = {}\n", toml_list(spec.workloads), toml_list(spec.models));
  text += fmt::format("workers = {}\ntasks = {}\n", toml_list(json.at("workers")),
                      toml_list(json.at("tasks")));
  text += fmt::format("repeat = {}\nseed = {}\nno_warmup = {}\nrerun_disturbed = {}\n", spec.repeat,
                      spec.seed, spec.warmup ? "false" : "true", spec.rerun_disturbed);
  if (spec.skip_unsupported) text += "skip_unsupported = true\n";
  text += fmt::format("trial_timeout = \"{}\"\n",
                      spec.trial_timeout.count() > 0
                          ? duration_text(std::chrono::duration<double>(spec.trial_timeout).count())
                          : "auto");
  const auto declared = params_of(declared_params(), spec.workloads, spec.models);
  if (!declared.empty()) text += "# The selected plug-ins' parameters (see scalelab list).\n";
  for (const auto& d : declared) {
    if (!json.contains(d.param.key())) continue;
    text += fmt::format("{} = {}\n", file_key(d.param.name),
                        toml_value(d.param, json.at(d.param.key())));
  }
  std::set<std::string> tables;  // a plug-in with values of its own, or a workload's models
  for (const auto& [plugin, values] : spec.own_params) tables.insert(plugin);
  for (const auto& [workload, models] : spec.workload_models) tables.insert(workload);
  for (const auto& plugin : tables) {
    text += fmt::format("\n[{}]\n", plugin);
    if (const auto it = spec.workload_models.find(plugin); it != spec.workload_models.end()) {
      text += fmt::format("models = {}\n", toml_list(it->second));
    }
    const auto own = spec.own_params.find(plugin);
    for (const auto& d : declared) {
      if (own == spec.own_params.end() || !own->second.has(d.param.key())) continue;
      text += fmt::format("{} = {}\n", file_key(d.param.name),
                          toml_scalar(d.param, own->second.json().at(d.param.key())));
    }
  }
  return text;
}

}  // namespace scalelab::cli

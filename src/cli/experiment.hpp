#pragma once
// Experiment files: `scalelab run FILE.toml`. The file's top-level keys are run's flags with `_`
// for `-` (a list is a scan axis, as a comma list is on the command line), a table named after
// a plug-in ([python], [mixed]) holds that plug-in's own values, and `version = 1` is required.
// The file is read into what a user would have typed (RunOptions), so a file and the flags it
// stands for give the same spec; flags given beside the file override it. And the other way:
// any spec printed as such a file (`run --print-spec`, `scalelab spec RESULTS`).

#include <map>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "scalelab/error.hpp"
#include "scalelab/plan.hpp"
#include "scalelab/plugins.hpp"

namespace scalelab::cli {

// One value of an experiment file: the text its flag would be given, and where it is.
struct FileValue {
  std::string text;   // "1ms,10ms": what a user would type after --io-wait
  std::string where;  // "exp.toml:3:9"
  std::string key;    // "io_wait", as the file spells it
};

// One value of a plug-in's table, parsed by the plug-in's declaration.
struct OwnValue {
  std::string key;  // the field: "cpu_work"
  nlohmann::json value;
};

// An experiment file, read and checked against the keys it may hold.
struct ExperimentFile {
  std::string path;
  std::map<std::string, FileValue> flags;  // by flag name: "io-wait", "workload", "no-warmup"
  // The plug-in tables: plug-in name → parameter name ("cpu-work") → its value.
  std::map<std::string, std::map<std::string, OwnValue>> own;
  std::map<std::string, std::string> table_where;  // plug-in name → where its table starts
  // A workload table's `models`: workload name → the list as --model would take it.
  std::map<std::string, FileValue> models;
};

// Reads and checks `path` against run's flags and the plug-ins' declarations. Throws Error
// starting with FILE:LINE:COL and the key for a TOML syntax error, an unknown key, a value of the
// wrong type, a list where one value is required or a missing `version = 1`.
ExperimentFile read_experiment(const std::string& path, const std::vector<DeclaredParam>& declared);

// read_experiment of `text`, as if read from the file `path`.
ExperimentFile parse_experiment(const std::string& text, const std::string& path,
                                const std::vector<DeclaredParam>& declared);

// Puts the file's values into `o`, except those of the flags in `o.typed_flags` (a flag given
// beside the file overrides it, in the plug-in tables too). When a typed --workload or --model
// leaves out every plug-in that takes one of the file's values (or a table's plug-in), that value
// is dropped: the notes say which ("exp.toml:9:1: start_method left out: …").
std::vector<std::string> apply_experiment(const ExperimentFile& file,
                                          const std::vector<DeclaredParam>& declared,
                                          RunOptions& o);

// `error`, thrown while making the spec from options that `file` filled in: when it names a flag
// ("--tasks: ...") or a table ("[python]: ...") whose value came from the file, the same message
// with the value's FILE:LINE:COL and key in place of the flag; otherwise `error` unchanged.
Error at_file_position(const ExperimentFile& file, const RunOptions& o, const Error& error);

// `spec` as an experiment file that gives the same spec when read back: every field, the
// selected plug-ins' parameters with their defaults filled in, the seed, the plug-in tables.
std::string spec_toml(const Spec& spec);

}  // namespace scalelab::cli

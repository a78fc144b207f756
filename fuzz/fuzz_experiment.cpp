// libFuzzer target for parse_experiment, which reads the experiment file a user hands to
// `scalelab run FILE.toml`: any bytes give the flags' texts and plug-in tables, or a
// scalelab::Error of one line that starts with the file's name (FILE:LINE:COL). Another exception
// escaping (toml++'s, the JSON library's), a crash, undefined behaviour or a leak is a bug.

#include <cstddef>
#include <cstdint>
#include <string>

#include "cli/experiment.hpp"
#include "fuzz_support.hpp"
#include "scalelab/error.hpp"
#include "scalelab/plugins.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using scalelab::fuzz::fail;
  static const auto declared = scalelab::declared_params();
  const std::string path = "fuzz/exp.toml";
  try {
    const scalelab::cli::ExperimentFile file = scalelab::cli::parse_experiment(
        std::string(scalelab::fuzz::as_text(data, size)), path, declared);
    for (const auto& [flag, value] : file.flags) {
      if (!value.where.starts_with(path + ":")) fail("a value's position", value.where);
      if (flag.empty() || flag.find('_') != std::string::npos) fail("a flag name", flag);
    }
    for (const auto& [plugin, values] : file.own) {
      if (!file.table_where.contains(plugin)) fail("a table without a position", plugin);
      for (const auto& [name, value] : values) {
        if (value.key.empty()) fail("a table value without a field", name);
      }
    }
  } catch (const scalelab::Error& e) {
    if (!std::string_view(e.what()).starts_with(path)) fail("message does not start", e.what());
    scalelab::fuzz::check_error(e, path);
  }
  return 0;
}

// `signalbox fit` end to end: the binary on a labelled file, its output, determinism, and
// the exit codes and messages for bad input and bad flags.
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "integration/process.h"

using namespace signalbox::testing;
using nlohmann::json;

namespace {

struct CliResult {
  int rc = -1;
  std::string out, err;
};

CliResult Run(const std::string& args) {
  ProcessOptions po;
  po.argv = {"/bin/sh", "-c", std::string(SIGNALBOX_BIN) + " fit " + args};
  auto p = Process::Start(po);
  REQUIRE(p.ok());
  CliResult r;
  r.rc = (*p)->Wait();
  for (const auto& l : (*p)->Lines(OutputStream::kStdout)) r.out += l + "\n";
  for (const auto& l : (*p)->Lines(OutputStream::kStderr)) r.err += l + "\n";
  return r;
}

// A scratch directory removed at the end of the test.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    static std::atomic<int> n{0};
    path = std::filesystem::temp_directory_path() /
           ("signalbox-fit-" + std::to_string(getpid()) + "-" + std::to_string(n++));
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
  std::string Write(const std::string& name, const std::vector<std::string>& lines) const {
    const std::string file = (path / name).string();
    std::ofstream f(file);
    for (const auto& l : lines) f << l << "\n";
    return file;
  }
};

// 300 prompts: proofs and derivations the strong model gets right and the weak one
// wrong; greetings and lookups both get right.
std::vector<std::string> Labelled() {
  std::vector<std::string> lines;
  for (int i = 0; i < 300; ++i) {
    json j;
    j["id"] = "p" + std::to_string(i);
    if (i % 2 == 0) {
      j["prompt"] = "Prove that the sum of the first " + std::to_string(i + 3) +
                    " odd numbers is a square, step by step, and explain why the induction works.";
      j["strong"] = 1;
      j["weak"] = i % 6 == 0 ? 1 : 0;
    } else {
      j["messages"] =
          json::array({{{"role", "user"}, {"content", "hi, thanks " + std::to_string(i)}}});
      j["strong"] = 1;
      j["weak"] = 1;
    }
    lines.push_back(j.dump());
  }
  return lines;
}

const std::string kConfig = " --config " SIGNALBOX_SOURCE_DIR "/config/signalbox.yaml";

}  // namespace

TEST_CASE("fit prints the signals block and the held-out report, the same for the same seed",
          "[integration][fit]") {
  ScratchDir dir;
  const std::string file = dir.Write("labelled.jsonl", Labelled());
  const CliResult a = Run("--input " + file + " --seed 3" + kConfig);
  INFO(a.out << a.err);
  REQUIRE(a.rc == 0);
  CHECK(a.out.find("classifier:\n  signals:\n    length: ") != std::string::npos);
  CHECK(a.out.find("    simple: ") != std::string::npos);
  CHECK(a.out.find("# held out: 60 prompts the fit never saw") != std::string::npos);
  CHECK(a.out.find("prompt length alone") != std::string::npos);
  CHECK(a.out.find("fitted weights") != std::string::npos);
  CHECK(a.out.find("signalbox calibrate --input FILE --strong-share X") != std::string::npos);
  CHECK(a.err.find("fit: 300 prompts read; fitting on 240, holding out 60") != std::string::npos);
  const CliResult b = Run("--input " + file + " --seed 3" + kConfig);
  CHECK(b.out == a.out);
  const CliResult whole = Run("--input " + file + " --holdout 0" + kConfig);
  REQUIRE(whole.rc == 0);
  CHECK(whole.out.find("held out:") == std::string::npos);
}

TEST_CASE("fit names the line of bad input and exits 1, bad flags exit 2", "[integration][fit]") {
  ScratchDir dir;
  std::vector<std::string> lines = Labelled();
  lines[2] = R"({"id": "x", "prompt": "hello", "strong": "yes", "weak": 0})";
  lines[4] = R"({"id": "y", "prompt": "hello", "strong": 1})";
  lines[6] = "{not json";
  const CliResult bad = Run("--input " + dir.Write("bad.jsonl", lines) + kConfig);
  CHECK(bad.rc == 1);
  CHECK(bad.err.find("line 3: \"strong\" must be a number") != std::string::npos);
  CHECK(bad.err.find("line 5: \"weak\" is missing") != std::string::npos);
  CHECK(bad.err.find("line 7: not valid JSON") != std::string::npos);
  CHECK(bad.out.empty());

  const std::vector<std::string> all = Labelled();
  const std::vector<std::string> few(all.begin(), all.begin() + 10);
  const CliResult small = Run("--input " + dir.Write("few.jsonl", few) + kConfig);
  CHECK(small.rc == 1);
  CHECK(small.err.find("at least 50 needed") != std::string::npos);

  CHECK(Run(kConfig).rc == 2);  // no --input
  const std::string file = dir.Write("ok.jsonl", Labelled());
  CHECK(Run("--input " + file + " --holdout 1.5" + kConfig).rc == 2);
  CHECK(Run("--input " + file + " --seed abc" + kConfig).rc == 2);
  CHECK(Run("--input " + dir.path.string() + "/missing.jsonl" + kConfig).rc == 1);
  const CliResult help = Run("--help");
  CHECK(help.rc == 0);
  CHECK(help.out.find("usage: signalbox fit --input FILE") != std::string::npos);
}

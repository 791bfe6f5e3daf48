// A scratch directory for one test: created fresh under $TMPDIR (or /tmp), removed with
// its content on destruction.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace signalbox::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "signalbox-test") {
    std::string base = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (mkdtemp(base.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + base);
    path_ = base;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace signalbox::testing

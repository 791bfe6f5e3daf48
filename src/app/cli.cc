#include "app/cli.h"

#include <cstdio>

namespace switchyard {

int RunCli(int argc, char** argv) {
  (void)argc;
  (void)argv;
  std::fprintf(stderr, "usage: switchyard VERB [--config FILE]\n");
  return 2;
}

}  // namespace switchyard

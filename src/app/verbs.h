// The verbs of the `switchyard` command line. Each returns the process exit code:
// 0 success, 1 invalid input or config, 2 usage error.
#pragma once

#include "app/args.h"

namespace switchyard::app {

int RunServe(const Args& args);
int RunCheck(const Args& args);
int RunExplain(const Args& args);
int RunScore(const Args& args);
int RunCalibrate(const Args& args);
int RunReplay(const Args& args);
int RunSpend(const Args& args);

}  // namespace switchyard::app

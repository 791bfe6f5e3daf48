// The verbs of the `signalbox` command line. Each returns the process exit code:
// 0 success, 1 invalid input or config, 2 usage error.
#pragma once

#include "app/args.h"

namespace signalbox::app {

int RunServe(const Args& args);
int RunCheck(const Args& args);
int RunExplain(const Args& args);
int RunScore(const Args& args);
int RunCalibrate(const Args& args);
int RunReplay(const Args& args);
int RunFit(const Args& args);
int RunSpend(const Args& args);

}  // namespace signalbox::app

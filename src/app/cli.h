// The command-line entry point: dispatches `signalbox VERB ...` to the verb's runner.
#pragma once

namespace signalbox {

// Returns the process exit code: 0 success, 1 invalid input or config, 2 usage error.
int RunCli(int argc, char** argv);

}  // namespace signalbox

#include "app/cli.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "app/args.h"
#include "app/verbs.h"

namespace signalbox {
namespace {

using app::Args;
using app::FlagSpec;

struct Verb {
  const char* name;
  const char* usage;
  std::vector<FlagSpec> flags;
  int (*run)(const Args&);
};

const FlagSpec kConfig{"config", true};

const std::vector<Verb>& Verbs() {
  static const std::vector<Verb> verbs = {
      {"serve",
       "usage: signalbox serve [--config FILE] [--listen HOST:PORT] [--log-level "
       "debug|info|warn|error]\n"
       "                        [--no-ledger]\n"
       "  Runs the gateway. SIGHUP reloads the config, SIGUSR1 reopens the access log,\n"
       "  SIGTERM/SIGINT drain in-flight requests (up to server.timeouts.drain) and exit.\n"
       "  --no-ledger keeps spend in memory only (lost on exit; budgets restart at zero):\n"
       "  for benchmarks and throwaway set-ups, never for budgets that matter.\n",
       {kConfig, {"listen", true}, {"log-level", true}, {"no-ledger", false}},
       app::RunServe},
      {"check",
       "usage: signalbox check [--config FILE]\n"
       "  Validates the config: prints `ok`, or every problem as FILE:LINE:COL: path: message\n"
       "  and exits 1. Warnings go to stderr.\n",
       {kConfig},
       app::RunCheck},
      {"explain",
       "usage: signalbox explain [PROMPT] [--config FILE] [--key ID] [--header NAME:VALUE]...\n"
       "                         [--api chat|responses|messages]\n"
       "  Prints the routing decision JSON for PROMPT (one user message), or for stdin: plain\n"
       "  text, or a whole request body when it starts with '{': chat completions, Responses\n"
       "  or Anthropic Messages (detected from the body, or as --api says).\n",
       {kConfig, {"key", true}, {"header", true, true}, {"api", true}},
       app::RunExplain},
      {"score",
       "usage: signalbox score [--config FILE] [--input FILE]\n"
       "  Reads JSON lines {\"id\", \"prompt\"} or {\"id\", \"messages\"} (FILE or stdin) and "
       "writes\n"
       "  {\"id\", \"score\", \"tier\", \"backend\", \"rule\"} per line, in input order.\n",
       {kConfig, {"input", true}},
       app::RunScore},
      {"calibrate",
       "usage: signalbox calibrate --input FILE --strong-share X [--tier NAME] [--config FILE]\n"
       "  Prints the lower bound for tier NAME (default: the highest) that sends share X of\n"
       "  the prompts in FILE to that tier or above, and the YAML line to paste.\n",
       {kConfig, {"input", true}, {"strong-share", true}, {"tier", true}},
       app::RunCalibrate},
      {"replay",
       "usage: signalbox replay --input FILE [--against OTHER_CONFIG] [--config FILE]\n"
       "  Routes recorded requests (JSON lines as `score` reads, with optional \"key\" and\n"
       "  \"headers\") offline: share per tier and backend, estimated cost, and with --against\n"
       "  every request whose decision changes between the two configs.\n",
       {kConfig, {"input", true}, {"against", true}},
       app::RunReplay},
      {"fit",
       "usage: signalbox fit --input FILE [--holdout X] [--seed N] [--config FILE]\n"
       "  Learns classifier.signals weights from labelled traffic: JSON lines as `score` reads\n"
       "  plus \"strong\" and \"weak\", the two models' measured quality on that prompt (1/0\n"
       "  correct, or judge scores), and optionally \"group\" (a kind of prompt; cross\n"
       "  validation then holds whole groups out). Prints the YAML block to paste and, on a\n"
       "  held-out share X of the prompts (default 0.2, 0 = none) that the fit never saw, the\n"
       "  APGR and strong-model share at 95% quality of the current config, of prompt length\n"
       "  alone and of the fitted weights. The same --seed (default 1) gives the same output.\n"
       "  Then run `signalbox calibrate` for the tier bound that sends the share you want.\n",
       {kConfig, {"input", true}, {"holdout", true}, {"seed", true}},
       app::RunFit},
      {"spend",
       "usage: signalbox spend [--json] [--config FILE]\n"
       "  Prints spend per key and backend for today and this month from the ledger file\n"
       "  (budgets.ledger_path); no running server needed.\n",
       {kConfig, {"json", false}},
       app::RunSpend},
  };
  return verbs;
}

void PrintMainUsage(FILE* f) {
  std::fprintf(f,
               "usage: signalbox VERB [flags]   (every verb takes --config FILE and --help)\n\n"
               "verbs:\n"
               "  serve      run the gateway\n"
               "  check      validate the config\n"
               "  explain    print the routing decision for a prompt or a request body\n"
               "  score      score JSON lines of prompts (batch)\n"
               "  calibrate  find the tier threshold for a target share of prompts\n"
               "  replay     route recorded requests offline, compare two configs\n"
               "  fit        learn the classifier's signal weights from labelled traffic\n"
               "  spend      print spend per key and backend from the ledger\n\n"
               "exit codes: 0 success, 1 invalid input or config, 2 usage error\n");
}

}  // namespace

int RunCli(int argc, char** argv) {
  if (argc < 2) {
    PrintMainUsage(stderr);
    return 2;
  }
  std::string verb = argv[1];
  if (verb == "--help" || verb == "-h" || verb == "help") {
    PrintMainUsage(stdout);
    return 0;
  }
  if (verb == "--version" || verb == "version") {
    std::printf("signalbox %s\n", SIGNALBOX_VERSION);
    return 0;
  }
  for (const auto& v : Verbs()) {
    if (verb != v.name) continue;
    std::string error;
    auto args = app::ParseArgs(argc, argv, 2, v.flags, &error);
    if (!args) {
      std::fprintf(stderr, "signalbox %s: %s\n%s", v.name, error.c_str(), v.usage);
      return 2;
    }
    if (args->help) {
      std::fputs(v.usage, stdout);
      return 0;
    }
    args->verb = verb;
    return v.run(*args);
  }
  std::fprintf(stderr, "signalbox: unknown verb '%s'\n", verb.c_str());
  PrintMainUsage(stderr);
  return 2;
}

}  // namespace signalbox

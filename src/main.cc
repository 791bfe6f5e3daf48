// signalbox: the command line. Parses the verb and hands over to app/.
#include "app/cli.h"

int main(int argc, char** argv) { return signalbox::RunCli(argc, argv); }

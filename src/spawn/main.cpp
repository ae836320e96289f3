// The one place that catches and prints errors.
#include <cstdio>
#include <exception>

#include "cli/app.hpp"
#include "util/error.hpp"

int main(int argc, char** argv) {
  try {
    return spawn::cli::run(argc, argv);
  } catch (const spawn::Error& e) {
    for (const auto& message : e.messages()) std::fprintf(stderr, "spawn: error: %s\n", message.c_str());
    return e.exit_status();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "spawn: error: %s\n", e.what());
    return 1;
  }
}

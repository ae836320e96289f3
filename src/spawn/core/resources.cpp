#include "core/resources.hpp"

namespace spawn {

const char* to_string(Arch arch) { return arch == Arch::x86_64 ? "x86_64" : "arm64"; }
const char* to_string(Market market) { return market == Market::spot ? "spot" : "on-demand"; }

} // namespace spawn

#include "core/plan.hpp"

namespace spawn {

const char* to_string(ProviderKind provider) {
  switch (provider) {
  case ProviderKind::local: return "local";
  case ProviderKind::aws: return "aws";
  case ProviderKind::slurm: return "slurm";
  }
  return "?";
}

} // namespace spawn
